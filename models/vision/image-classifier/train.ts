import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import type { InferenceBackend } from '../../engine/engine.js';
import type { ClassificationDataset } from '../../datasets/types.js';
import type { ModelCard, OnTrainingProgress } from '../../model-dir/model-card.js';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint, writeModelDir } from '../../model-dir/model-dir.js';
import { createAdamState, trainMlp, type AdamState } from '../../train/adam.js';
import { Mlp } from '../../train/mlp.js';
import { seededRandom } from '../../train/random.js';
import { balancedEpoch, viewKeys } from './balanced-epoch.js';
import { DEFAULT_AUGMENT, type AugmentOptions } from './augment.js';
import { FeatureViews } from './feature-views.js';
import { CheckpointMismatchError, TrainingDataError } from './errors.js';
import { CLASSIFIER_INPUT, CLASSIFIER_OUTPUT, exportFrontEnd, exportImageClassifier, type FeatureScaling } from './export.js';
import { checkFrontEnd, featureCount, type FrontEndOptions } from './front-end.js';
import { InputImages } from './input-images.js';
import { softmaxCrossEntropy } from './loss.js';

export interface ImageClassifierOptions {
  /** The MODEL_DIR to write (and to keep the checkpoint in while training). */
  readonly outDir: string;
  readonly epochs: number;
  readonly seed: number;
  /** Side of the square input in pixels, a multiple of 8 and at least 24. Default 64. */
  readonly inputSize?: number;
  readonly onProgress?: OnTrainingProgress;
  /** Continue from the checkpoint in outDir when there is one (else start). */
  readonly resume?: boolean;
  /** Stops training between two mini-batches; the last finished epoch's checkpoint stays for a resume. */
  readonly signal?: AbortSignal;
  /** Runs the feature front end on the training images. Default: ONNX Runtime on the CPU, one thread. */
  readonly backend?: InferenceBackend;
  readonly hidden?: readonly number[];
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly augment?: Partial<AugmentOptions>;
  /** Variations of each image (the first: as it is) that epochs take turns with. Default 8. */
  readonly views?: number;
  /** Memory for training images at input size, and apart for their views' features, kept between epochs. Default 256 MiB each. */
  readonly cacheBytes?: number;
}

const DEFAULTS = { inputSize: 64, hidden: [64], batchSize: 32, learningRate: 0.002, views: 8, cacheBytes: 256 * 1024 * 1024 } as const;
/** Cells per side of the front end's pooling grid (16 x 16 px cells at the default input). */
const GRID = 4;
/** Rows of standardised features made at once: bounds the memory an epoch needs (2048 x 2208 features x 8 bytes = 36 MB). */
const CHUNK_ROWS = 2048;
export const ARCHITECTURE = 'fixed-features-mlp';

/** What must match for a checkpoint to be resumed: the same data and the same network. */
interface Identity {
  readonly classNames: readonly string[];
  readonly trainSamples: number;
  readonly inputSize: number;
  readonly grid: number;
  readonly hidden: readonly number[];
  readonly seed: number;
  readonly views: number;
  readonly augment: AugmentOptions;
}

interface Progress {
  epoch: number;
  losses: number[];
  seconds: number;
}

function checkDataset(d: ClassificationDataset): void {
  const classes = d.classNames.length;
  if (classes < 2) throw new TrainingDataError(`${d.root}: a classifier needs at least two classes (one folder each), found ${classes}${classes === 1 ? ` (${d.classNames[0] ?? ''})` : ''}`);
  if (d.train.length === 0) throw new TrainingDataError(`${d.root}: the train split has no images`);
  const counts = new Array<number>(classes).fill(0);
  for (const s of [...d.train, ...d.val]) {
    if (!(Number.isInteger(s.classId) && s.classId >= 0 && s.classId < classes)) throw new TrainingDataError(`${s.file}: class id ${s.classId} is beyond the ${classes} classes (${d.classNames.join(', ')})`);
  }
  for (const s of d.train) counts[s.classId] = (counts[s.classId] as number) + 1;
  const empty = counts.findIndex((n) => n === 0);
  if (empty >= 0) throw new TrainingDataError(`${d.root}: class "${d.classNames[empty] ?? empty}" has no training images`);
}

/** Standardised rows of float64 for the head, from raw features. */
function standardised(raw: Float32Array, scaling: FeatureScaling): Float64Array {
  const F = scaling.mean.length;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = ((raw[i] as number) - (scaling.mean[i % F] as number)) / (scaling.std[i % F] as number);
  return out;
}

/** Mean and spread of each feature over the training images as they are (view 0: no augmentation). */
async function featureScaling(views: FeatureViews, count: number): Promise<FeatureScaling> {
  const F = views.features;
  const mean = new Float64Array(F);
  const sq = new Float64Array(F);
  for (let start = 0; start < count; start += CHUNK_ROWS) {
    const keys = Array.from({ length: Math.min(CHUNK_ROWS, count - start) }, (_, k) => ({ image: start + k, view: 0 }));
    const f = await views.rows(keys);
    for (let i = 0; i < f.length; i += 1) {
      const v = f[i] as number;
      mean[i % F] = (mean[i % F] as number) + v;
      sq[i % F] = (sq[i % F] as number) + v * v;
    }
  }
  const std = new Float64Array(F);
  for (let k = 0; k < F; k += 1) {
    const m = (mean[k] as number) / count;
    mean[k] = m;
    const s = Math.sqrt(Math.max(0, (sq[k] as number) / count - m * m));
    // A feature that never changes (a grid cell always in the padding) is left unscaled.
    std[k] = s > 1e-6 ? s : 1;
  }
  return { mean, std };
}

function weightsOf(head: Mlp, adam: AdamState, scaling: FeatureScaling): Record<string, Float64Array> {
  const t: Record<string, Float64Array> = { featureMean: scaling.mean, featureStd: scaling.std };
  head.layers.forEach((l, i) => {
    t[`w${i}`] = l.w;
    t[`b${i}`] = l.b;
    t[`mw${i}`] = (adam.m[i] as { w: Float64Array }).w;
    t[`mb${i}`] = (adam.m[i] as { b: Float64Array }).b;
    t[`vw${i}`] = (adam.v[i] as { w: Float64Array }).w;
    t[`vb${i}`] = (adam.v[i] as { b: Float64Array }).b;
  });
  return t;
}

function restore(target: Float64Array, from: Float32Array | Float64Array | undefined, name: string): void {
  if (from === undefined || from.length !== target.length) throw new CheckpointMismatchError(`checkpoint: tensor ${name} is missing or of another size`);
  target.set(from);
}

/**
 * Trains an image classifier on a folder-per-class dataset and writes MODEL_DIR (model.onnx
 * with the class names in its metadata, model.json). The model is the fixed feature front end
 * (front-end.ts) and an MLP head trained with Adam on softmax cross-entropy, on class-balanced
 * epochs of augmented images; deterministic from the seed. After each epoch a checkpoint is
 * saved; with `resume` a stopped training continues from its last finished epoch and ends
 * with the very model an uninterrupted one would have made.
 */
export async function trainImageClassifier(dataset: ClassificationDataset, o: ImageClassifierOptions): Promise<ModelCard> {
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new RangeError(`image classifier: epochs must be a whole number >= 1, got ${o.epochs}`);
  checkDataset(dataset);
  const size = o.inputSize ?? DEFAULTS.inputSize;
  const front: FrontEndOptions = { size, grid: GRID };
  checkFrontEnd(front);
  const hidden = o.hidden ?? DEFAULTS.hidden;
  const batchSize = o.batchSize ?? DEFAULTS.batchSize;
  const augment: AugmentOptions = { ...DEFAULT_AUGMENT, ...o.augment };
  const classes = dataset.classNames.length;
  const features = featureCount(front);
  const viewCount = o.views ?? DEFAULTS.views;
  if (!(Number.isInteger(viewCount) && viewCount >= 1)) throw new RangeError(`image classifier: views must be a whole number >= 1, got ${viewCount}`);
  // The epochs are not part of it: a training resumed with more epochs goes on (its learning rate then decays over the new count).
  const identity: Identity = { classNames: dataset.classNames, trainSamples: dataset.train.length, inputSize: size, grid: GRID, hidden, seed: o.seed, views: viewCount, augment };

  const started = Date.now();
  const backend = o.backend ?? new OnnxBackend({ threads: 1 });
  const frontModel = await backend.load(exportFrontEnd(front));
  try {
    const images = new InputImages(dataset.train, size, o.cacheBytes ?? DEFAULTS.cacheBytes);
    const views = new FeatureViews(frontModel, images, features, augment, o.seed, o.cacheBytes ?? DEFAULTS.cacheBytes);
    const head = new Mlp([features, ...hidden, classes], o.seed);
    const adam = createAdamState(head);
    const progress: Progress = { epoch: 0, losses: [], seconds: 0 };
    let scaling: FeatureScaling | undefined;

    const checkpoint = o.resume === true ? await loadCheckpoint(o.outDir) : null;
    if (checkpoint !== null) {
      const saved = checkpoint.state as { identity?: Identity; losses?: number[]; seconds?: number; adamStep?: number };
      if (JSON.stringify(saved.identity) !== JSON.stringify(identity)) {
        throw new CheckpointMismatchError(`${o.outDir}: its checkpoint is of another training (${JSON.stringify(saved.identity)}, this one is ${JSON.stringify(identity)}); train without resume to start over`);
      }
      const t = checkpoint.tensors;
      scaling = { mean: new Float64Array(features), std: new Float64Array(features) };
      restore(scaling.mean, t['featureMean'], 'featureMean');
      restore(scaling.std, t['featureStd'], 'featureStd');
      const live = weightsOf(head, adam, scaling);
      for (const [name, target] of Object.entries(live)) if (name !== 'featureMean' && name !== 'featureStd') restore(target, t[name], name);
      adam.step = saved.adamStep ?? 0;
      progress.epoch = checkpoint.epoch;
      progress.losses = [...(saved.losses ?? [])];
      progress.seconds = saved.seconds ?? 0;
    }
    scaling ??= await featureScaling(views, dataset.train.length);

    const byClass: number[][] = Array.from({ length: classes }, () => []);
    dataset.train.forEach((s, i) => (byClass[s.classId] as number[]).push(i));
    const stopIfAsked = (): void => {
      if (o.signal?.aborted === true) throw o.signal.reason instanceof Error ? o.signal.reason : new Error('training stopped');
    };
    for (let epoch = progress.epoch; epoch < o.epochs; epoch += 1) {
      stopIfAsked();
      // Each epoch's draws from its own seed: a resumed epoch is the epoch it would have been.
      const random = seededRandom((o.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
      const rows = balancedEpoch(byClass, random);
      const steps = Array.from({ length: Math.ceil(rows.length / CHUNK_ROWS) }, (_, c) => Math.ceil(Math.min(CHUNK_ROWS, rows.length - c * CHUNK_ROWS) / batchSize)).reduce((a, b) => a + b, 0);
      let step = 0;
      let lossSum = 0;
      // Cosine decay to a tenth over the epochs asked for: big steps while far off, small ones to settle.
      const learningRate = (o.learningRate ?? DEFAULTS.learningRate) * (0.1 + 0.45 * (1 + Math.cos((Math.PI * epoch) / o.epochs)));
      for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
        const chunk = rows.slice(start, start + CHUNK_ROWS);
        const x = standardised(await views.rows(viewKeys(chunk, epoch, viewCount)), scaling);
        const labels = chunk.map((i) => (dataset.train[i] as { classId: number }).classId);
        await trainMlp(head, chunk.length, { epochs: 1, batchSize, learningRate, seed: Math.floor(random() * 2 ** 32), state: adam }, (indices) => {
          stopIfAsked();
          const batch = new Float64Array(indices.length * features);
          indices.forEach((e, r) => batch.set(x.subarray(e * features, (e + 1) * features), r * features));
          return {
            x: batch,
            loss: (out, n) => {
              const l = softmaxCrossEntropy(out, n, classes, (r) => labels[indices[r] as number] as number);
              step += 1;
              lossSum += l.value;
              o.onProgress?.({ epoch: epoch + 1, epochs: o.epochs, step, steps, loss: lossSum / step });
              return l;
            },
          };
        });
      }
      progress.epoch = epoch + 1;
      progress.losses.push(lossSum / Math.max(1, step));
      const seconds = progress.seconds + (Date.now() - started) / 1000;
      await saveCheckpoint(o.outDir, { epoch: progress.epoch, state: { identity, losses: progress.losses, seconds, adamStep: adam.step }, tensors: weightsOf(head, adam, scaling) });
    }

    const names = dataset.classNames;
    const metadata: Record<string, string> = { classNames: names.join(','), architecture: ARCHITECTURE, seed: String(o.seed) };
    // `classNames` is comma-separated; a folder name with a comma in it needs the list form (read first by class-names.ts).
    if (names.some((n) => n.includes(','))) metadata['names'] = JSON.stringify(names);
    const model = exportImageClassifier(front, head, scaling, classes, metadata);
    const card: ModelCard = {
      format: 'edgewise-model',
      version: 1,
      task: 'classify',
      architecture: `${ARCHITECTURE}-s${size}`,
      classNames: [...names],
      input: { name: CLASSIFIER_INPUT, width: size, height: size, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] },
      output: { name: CLASSIFIER_OUTPUT, layout: 'classification' },
      threshold: confidenceThreshold(classes),
      training: {
        dataset: dataset.root,
        trainSamples: dataset.train.length,
        valSamples: dataset.val.length,
        epochs: o.epochs,
        seed: o.seed,
        losses: progress.losses,
        seconds: progress.seconds + (Date.now() - started) / 1000,
        finishedAt: new Date().toISOString(),
      },
    };
    await writeModelDir(o.outDir, card, model);
    await removeCheckpoint(o.outDir);
    return card;
  } finally {
    await frontModel.close();
  }
}

/**
 * The suggested minimum confidence of the top class: halfway between a guess (1 / C) and
 * certainty. Below it the vision stage keeps the stream's class as it was (frame-class.ts),
 * so a frame the model is unsure of (a hand in the way, a part half in view) changes nothing.
 */
export function confidenceThreshold(classes: number): number {
  return Math.round(((1 + 1 / classes) / 2) * 1000) / 1000;
}
