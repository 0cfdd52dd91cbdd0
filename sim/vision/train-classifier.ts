import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { BACKGROUND_CLASS_NAME, CLASSIFIER_CLASSES, CROP_VALUES, DEFECT_CLASS, cropInput, cropRegion } from '../../models/vision/classifier/architecture.js';
import type { Box } from '../../models/vision/geometry.js';
import { exportClassifier } from '../../models/vision/classifier/export.js';
import { trainClassifier } from '../../models/vision/classifier/train.js';
import { BUILTIN_CLASSIFIER_PATH } from '../../models/vision/index.js';
import { seededRandom } from '../../models/train/random.js';
import { MIN_VISIBLE, SIZES, TRAIN_SEED_BASE, renderFrame } from './labelled-frames.js';

/**
 * `npm run train:vision` (second step): crops of every part in the training stills, each also
 * with jittered boxes (the detector's boxes are never exact), labelled part / defective part;
 * trains the crop classifier (deterministic from --seed) and writes its ONNX file.
 */
const program = new Command('train-classifier')
  .option('--images <n>', 'training images', '1600')
  .option('--epochs <n>', 'epochs', '25')
  .option('--jitter <n>', 'jittered crops per part besides the exact one', '3')
  .option('--background <n>', 'bare-belt crops per image', '2')
  .option('--seed <n>', 'seed of the training', '1')
  .option('--out <file>', 'where to write the model', BUILTIN_CLASSIFIER_PATH())
  .parse();
const o = program.opts<{ images: string; epochs: string; jitter: string; background: string; seed: string; out: string }>();
const n = Number.parseInt(o.images, 10);
const epochs = Number.parseInt(o.epochs, 10);
const jitter = Number.parseInt(o.jitter, 10);
const seed = Number.parseInt(o.seed, 10);
const background = Number.parseInt(o.background, 10);
const BACKGROUND = CLASSIFIER_CLASSES.indexOf(BACKGROUND_CLASS_NAME);
const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const started = Date.now();
const random = seededRandom(seed ^ 0x2545f491);
const crops: number[][] = [];
const labels: number[] = [];
for (let i = 0; i < n; i += 1) {
  const s = TRAIN_SEED_BASE + i;
  const [w, h] = SIZES[s % SIZES.length] as readonly [number, number];
  const { frame, parts } = renderFrame(s, w, h);
  for (const p of parts) {
    if (p.visible < MIN_VISIBLE) continue;
    for (let j = 0; j <= jitter; j += 1) {
      // Shift by up to 8% and scale by up to 10%, as the detector's boxes are off.
      const d = j === 0 ? { dx: 0, dy: 0, s: 1 } : { dx: (random() * 2 - 1) * 0.08, dy: (random() * 2 - 1) * 0.08, s: 1 + (random() * 2 - 1) * 0.1 };
      const box = { x: p.box.x + d.dx * p.box.w + ((1 - d.s) * p.box.w) / 2, y: p.box.y + d.dy * p.box.h + ((1 - d.s) * p.box.h) / 2, w: p.box.w * d.s, h: p.box.h * d.s };
      const c = new Float64Array(CROP_VALUES);
      cropInput(frame, box, c, 0, true);
      crops.push(Array.from(c));
      labels.push(p.defect === 'none' ? 0 : DEFECT_CLASS);
    }
  }
  // Background: boxes of a part's size on bare belt, so the classifier can veto the detector's ghosts.
  const size = parts[0]?.box.w ?? Math.round(0.17 * h);
  for (let k = 0; k < background; k += 1) {
    const box = { x: random() * (w - size), y: 0.1 * h + random() * (0.8 * h - size), w: size * (0.85 + 0.3 * random()), h: size * (0.85 + 0.3 * random()) };
    if (parts.some((p) => overlaps(cropRegion(box), p.box))) continue;
    const c = new Float64Array(CROP_VALUES);
    cropInput(frame, box, c, 0, true);
    crops.push(Array.from(c));
    labels.push(BACKGROUND);
  }
  if ((i + 1) % 400 === 0) process.stderr.write(`cropped ${i + 1}/${n} images: ${labels.length} crops (${Math.round((Date.now() - started) / 1000)} s)\n`);
}
const count = labels.length;
const data = new Float64Array(count * CROP_VALUES);
crops.forEach((c, i) => data.set(c, i * CROP_VALUES));
const { model, losses } = await trainClassifier(data, Uint8Array.from(labels), count, {
  hidden: [48, 16],
  epochs,
  batchSize: 64,
  learningRate: 0.002,
  seed,
  onEpoch: (e, loss) => process.stderr.write(`epoch ${e + 1}/${epochs}: loss ${loss.toFixed(4)} (${Math.round((Date.now() - started) / 1000)} s)\n`),
});
const bytes = exportClassifier(model, {
  name: 'defect-classifier',
  version: '1.0.0',
  classNames: CLASSIFIER_CLASSES.join(','),
  training: JSON.stringify({ command: `node dist/sim/vision/train-classifier.js --images ${n} --epochs ${epochs} --jitter ${jitter} --background ${background} --seed ${seed}`, crops: count, seeds: `${TRAIN_SEED_BASE}..${TRAIN_SEED_BASE + n - 1}`, finalLoss: losses[losses.length - 1] }),
});
await writeFile(o.out, bytes);
process.stderr.write(`wrote ${o.out} (${bytes.length} bytes) in ${Math.round((Date.now() - started) / 1000)} s\n`);
process.stdout.write(`${JSON.stringify({ bench: 'train-classifier', crops: count, epochs, final_loss: losses[losses.length - 1], seconds: Math.round((Date.now() - started) / 1000) })}\n`);
process.exit(0);
