import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CLASS_NAMES } from '../../models/vision/detector/architecture.js';
import { exportDetector } from '../../models/vision/detector/export.js';
import { trainDetector, type LabelledImage } from '../../models/vision/detector/train.js';
import { BUILTIN_DETECTOR_PATH } from '../../models/vision/index.js';
import { TRAIN_SEED_BASE, detectorPreprocessor, labelledImage } from './labelled-frames.js';

/**
 * `npm run train:vision`: renders training images with the conveyor simulator, trains the
 * defect detector (deterministic from --seed) and writes the ONNX file the vision stage uses
 * by default. Progress on stderr.
 */
const program = new Command('train-detector')
  .option('--images <n>', 'training images', '1600')
  .option('--epochs <n>', 'epochs', '10')
  .option('--seed <n>', 'seed of the training', '1')
  .option('--out <file>', 'where to write the model', BUILTIN_DETECTOR_PATH())
  .parse();
const o = program.opts<{ images: string; epochs: string; seed: string; out: string }>();
const n = Number.parseInt(o.images, 10);
const epochs = Number.parseInt(o.epochs, 10);
const seed = Number.parseInt(o.seed, 10);

const started = Date.now();
const pre = detectorPreprocessor();
const images: LabelledImage[] = [];
for (let i = 0; i < n; i += 1) {
  images.push(labelledImage(TRAIN_SEED_BASE + i, pre));
  if ((i + 1) % 200 === 0) process.stderr.write(`rendered ${i + 1}/${n} images (${Math.round((Date.now() - started) / 1000)} s)\n`);
}
const objects = images.reduce((a, i) => a + i.objects.filter((x) => !x.ignore).length, 0);
process.stderr.write(`training on ${n} images, ${objects} parts\n`);
const { model, losses, examples } = await trainDetector(images, {
  hidden: [48, 16],
  epochs,
  batchSize: 64,
  learningRate: 0.002,
  seed,
  negativesPerImage: 40,
  onEpoch: (e, loss) => process.stderr.write(`epoch ${e + 1}/${epochs}: loss ${loss.toFixed(4)} (${Math.round((Date.now() - started) / 1000)} s)\n`),
});
const bytes = exportDetector(model, {
  name: 'defect-detector',
  version: '1.0.0',
  classNames: CLASS_NAMES.join(','),
  training: JSON.stringify({ command: `node dist/sim/vision/train-detector.js --images ${n} --epochs ${epochs} --seed ${seed}`, images: n, examples, seeds: `${TRAIN_SEED_BASE}..${TRAIN_SEED_BASE + n - 1}`, finalLoss: losses[losses.length - 1] }),
});
await writeFile(o.out, bytes);
process.stderr.write(`wrote ${o.out} (${bytes.length} bytes) in ${Math.round((Date.now() - started) / 1000)} s\n`);
process.stdout.write(`${JSON.stringify({ bench: 'train-vision', images: n, examples, epochs, final_loss: losses[losses.length - 1], seconds: Math.round((Date.now() - started) / 1000) })}\n`);
process.exit(0);
