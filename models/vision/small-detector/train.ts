import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DetectionDataset } from '../../datasets/types.js';
import type { ModelCard, OnTrainingProgress } from '../../model-dir/model-card.js';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint, writeModelDir } from '../../model-dir/model-dir.js';
import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import { OnnxConvChain } from '../../train/conv/onnx-conv-chain.js';
import { seededRandom, shuffleInPlace } from '../../train/random.js';
import { TensorAdam } from '../../train/conv/tensor-adam.js';
import { ARCHITECTURE, HEAD_OBJECT, INPUT_MEAN, INPUT_STD, STRIDE, SmallDetectorNet } from './architecture.js';
import { fillCrop, planCrops, type CropPlan } from './crops.js';
import { INPUT_NAME, OUTPUT_NAME, exportSmallDetector } from './export.js';
import { assignTargets, detectionLoss, type CropObject } from './loss.js';
import { autoInputSize } from './input-size.js';
import { chooseOperatingPoint } from './operating-point.js';
import { PreparedImageCache } from './training-images.js';

export interface SmallDetectorTrainOptions {
  /** The MODEL_DIR to write (model.onnx, model.json, checkpoint/ while training). */
  readonly outDir: string;
  readonly epochs: number;
  readonly seed: number;
  /** Square model input, a multiple of 8; default: 640, smaller when the objects are big (input-size.ts). */
  readonly inputSize?: number;
  readonly onProgress?: OnTrainingProgress;
  /** Continue from outDir's checkpoint when there is one (same dataset and options: the result is the same as a training that never stopped). */
  readonly resume?: boolean;
  /** Stops between mini-batches; the checkpoint of the last finished epoch stays for a resume. */
  readonly signal?: AbortSignal;
  /** Tuning; the defaults are what the board test (test 2) was measured with. */
  readonly batchSize?: number;
  readonly cropSize?: number;
  readonly learningRate?: number;
  readonly backgroundCropsPerImage?: number;
  /** Prepared images kept in memory (1.2 MB each at 640); default 400. */
  readonly cacheImages?: number;
  /** Threads ONNX Runtime may use for the training arithmetic; default 1 (measured: on 2 busy cores one thread trained 2.7x faster than two). */
  readonly threads?: number;
}

/** The exported model normalises inside its graph (export.ts): it takes the stage's plain 0..1 input. */
const EXPORTED_MEAN = [0, 0, 0] as const;
const EXPORTED_STD = [1, 1, 1] as const;

export const SMALL_DETECTOR_DEFAULTS = { batchSize: 16, cropSize: 128, learningRate: 0.004, backgroundCropsPerImage: 2, cacheImages: 400 } as const;
/** Cells of a crop's edge that are not trained (they would see padding where the image has pixels). */
const MARGIN_CELLS = 2;
/** The operating point written in the card when the validation split has no objects to choose it on: what YOLO exports default to. */
const DEFAULT_THRESHOLD = 0.25;
const WARMUP_STEPS = 30;
/** Gradients are clipped to this global norm (focal loss can spike when a crop holds a hard, rare case). */
const MAX_GRADIENT_NORM = 5;

/** Options or data the trainer cannot use (exit code 2 at the command line): the message says which and where. */
export class SmallDetectorInputError extends Error {
  override readonly name = 'SmallDetectorInputError';
  readonly code = 'E_TRAIN_INPUT';
}

/** A training stopped by its signal: the checkpoint of the last finished epoch is on disk. */
export class TrainingStopped extends Error {
  override readonly name = 'TrainingStopped';
  readonly code = 'E_TRAINING_STOPPED';
}

/** Everything random in epoch `epoch` comes from this stream: a resumed run draws what an unbroken one would. */
function epochRandom(seed: number, epoch: number): () => number {
  return seededRandom((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
}

/** Linear warm-up, then cosine decay to 5% of the rate over the whole training. */
function learningRateAt(step: number, total: number, base: number): number {
  if (step < WARMUP_STEPS) return (base * (step + 1)) / WARMUP_STEPS;
  const t = Math.min(1, (step - WARMUP_STEPS) / Math.max(1, total - WARMUP_STEPS));
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * Trains the small-object detector on a detection dataset and writes MODEL_DIR: the ONNX model
 * (YOLOv8 output layout, class names in its metadata) and its card. Deterministic from the
 * seed. After each epoch the weights and the optimizer are checkpointed; with `resume`, a
 * training continues from there and ends with the same weights as one that never stopped.
 */
export async function trainSmallDetector(dataset: DetectionDataset, o: SmallDetectorTrainOptions): Promise<ModelCard> {
  const inputSize = o.inputSize ?? autoInputSize(dataset);
  const batchSize = o.batchSize ?? SMALL_DETECTOR_DEFAULTS.batchSize;
  const cropSize = Math.min(o.cropSize ?? SMALL_DETECTOR_DEFAULTS.cropSize, inputSize);
  const learningRate = o.learningRate ?? SMALL_DETECTOR_DEFAULTS.learningRate;
  const background = o.backgroundCropsPerImage ?? SMALL_DETECTOR_DEFAULTS.backgroundCropsPerImage;
  if (!(Number.isInteger(inputSize) && inputSize >= 64 && inputSize % STRIDE === 0)) throw new SmallDetectorInputError(`small detector: input size must be a multiple of ${STRIDE} of at least 64, got ${inputSize}`);
  if (!(Number.isInteger(cropSize) && cropSize >= 8 * STRIDE && cropSize % STRIDE === 0)) throw new SmallDetectorInputError(`small detector: crop size must be a multiple of ${STRIDE} of at least ${8 * STRIDE}, got ${cropSize}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new SmallDetectorInputError(`small detector: epochs must be a whole number >= 1, got ${o.epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new SmallDetectorInputError(`small detector: batch size must be a whole number >= 1, got ${batchSize}`);
  checkDataset(dataset);
  const classes = dataset.classNames.length;
  const started = Date.now();

  const net = new SmallDetectorNet(classes);
  net.initialise(seededRandom(o.seed >>> 0));
  const params = net.parameters();
  const adam = new TensorAdam(params);
  const losses: number[] = [];
  let firstEpoch = 0;
  let secondsBefore = 0;
  const fingerprint = { architecture: ARCHITECTURE, classes, inputSize, cropSize, batchSize, learningRate, background, seed: o.seed, epochs: o.epochs, train: dataset.train.length };
  if (o.resume === true) {
    const c = await loadCheckpoint(o.outDir);
    if (c !== null) {
      const saved = c.state['options'] as Record<string, unknown> | undefined;
      const differs = Object.entries(fingerprint).filter(([k, v]) => saved?.[k] !== v);
      if (differs.length > 0) throw new SmallDetectorInputError(`small detector: the checkpoint in ${o.outDir} was made with other options (${differs.map(([k, v]) => `${k}: ${JSON.stringify(saved?.[k])} there, ${JSON.stringify(v)} now`).join('; ')}); resume with the same options or start over without --resume`);
      for (const p of params) {
        const t = c.tensors[p.name];
        if (t === undefined || t.length !== p.value.length) throw new SmallDetectorInputError(`small detector: the checkpoint in ${o.outDir} has no tensor ${p.name} of the right size; start over without --resume`);
        p.value.set(t);
      }
      adam.restore(c.tensors, c.state['adamStep'] as number);
      losses.push(...(c.state['losses'] as number[]));
      secondsBefore = c.state['seconds'] as number;
      firstEpoch = c.epoch;
    }
  }

  const cache = new PreparedImageCache(dataset.train, inputSize, o.cacheImages ?? SMALL_DETECTOR_DEFAULTS.cacheImages);
  // Each image's objects in input pixels (small, kept for the whole training: crops are planned from them).
  const planned: { objects: readonly { box: { x: number; y: number; w: number; h: number } }[] }[] = [];
  for (let i = 0; i < dataset.train.length; i += 1) planned.push({ objects: (await cache.get(i)).objects });
  // The val images are read after the last epoch (the operating point): one that does not decode
  // (a file cut short whose header reads fine) is refused now, not after the whole training.
  for (const s of dataset.val) await s.load();
  const planEpoch = (random: () => number): CropPlan[] => planCrops(planned, inputSize, cropSize, MARGIN_CELLS * STRIDE, background, random);
  const perEpoch = Math.ceil(planEpoch(epochRandom(o.seed, 0)).length / batchSize);
  const totalSteps = perEpoch * o.epochs;

  const grid = cropSize / STRIDE;
  const input = new Float32Array(batchSize * 3 * cropSize * cropSize);
  const chain = await OnnxConvChain.load(net.layers, cropSize, cropSize, new OnnxBackend(), o.threads ?? 1);
  try {
    for (let epoch = firstEpoch; epoch < o.epochs; epoch += 1) {
      const random = epochRandom(o.seed, epoch);
      const plans = planEpoch(random);
      const order = cropOrder(plans, dataset.train.length, cache.capacity, random);
      const steps = Math.ceil(plans.length / batchSize);
      let sum = 0;
      for (let step = 0; step < steps; step += 1) {
        if (o.signal?.aborted === true) throw new TrainingStopped(`training stopped in epoch ${epoch + 1} of ${o.epochs}; ${epoch} finished epoch(s) are in the checkpoint`);
        const batch = order.slice(step * batchSize, (step + 1) * batchSize).map((i) => plans[i] as CropPlan);
        const objects: CropObject[][] = [];
        for (let b = 0; b < batch.length; b += 1) {
          const plan = batch[b] as CropPlan;
          objects.push(fillCrop(await cache.get(plan.image), plan, b, cropSize, INPUT_MEAN, INPUT_STD, input));
        }
        net.zeroGrad();
        const head = await chain.forward(input.subarray(0, batch.length * 3 * cropSize * cropSize), batch.length);
        const channels = HEAD_OBJECT + 1 + classes;
        const cells = grid * grid;
        const targets = assignTargets(objects, grid, grid, classes, MARGIN_CELLS);
        const l = detectionLoss({ data: swapFirstAxes(head.data, batch.length, channels, cells), channels, batch: batch.length, height: grid, width: grid }, targets);
        await chain.backward(swapFirstAxes(l.dHead, channels, batch.length, cells));
        adam.update(learningRateAt(adam.step, totalSteps, learningRate), MAX_GRADIENT_NORM);
        sum += l.loss;
        o.onProgress?.({ epoch: epoch + 1, epochs: o.epochs, step: step + 1, steps, loss: sum / (step + 1) });
        await yieldToLoop();
      }
      losses.push(sum / steps);
      const tensors: Record<string, Float32Array> = { ...adam.tensors() };
      for (const p of params) tensors[p.name] = p.value;
      await saveCheckpoint(o.outDir, { epoch: epoch + 1, state: { options: fingerprint, adamStep: adam.step, losses, seconds: secondsBefore + (Date.now() - started) / 1000 }, tensors });
    }
  } finally {
    await chain.close();
  }

  const model = exportSmallDetector(net, inputSize, classNameMetadata(dataset.classNames));
  const operating = await chooseOperatingPoint(model, dataset.val, classes, EXPORTED_MEAN, EXPORTED_STD);
  const seconds = secondsBefore + (Date.now() - started) / 1000;
  const card: ModelCard = {
    format: 'edgewise-model',
    version: 1,
    task: 'detect',
    architecture: ARCHITECTURE,
    classNames: [...dataset.classNames],
    input: { name: INPUT_NAME, width: inputSize, height: inputSize, channels: 3, mean: [...EXPORTED_MEAN], std: [...EXPORTED_STD] },
    output: { name: OUTPUT_NAME, layout: 'yolov8' },
    threshold: operating?.threshold ?? DEFAULT_THRESHOLD,
    training: { dataset: dataset.root, trainSamples: dataset.train.length, valSamples: dataset.val.length, epochs: o.epochs, seed: o.seed, losses, seconds, finishedAt: new Date().toISOString() },
  };
  await writeModelDir(o.outDir, card, model);
  await removeCheckpoint(o.outDir);
  return card;
}

/**
 * The order of an epoch's crops: shuffled over the whole epoch when every image fits in the
 * cache; otherwise the images are shuffled into groups that fit, and crops shuffled within a
 * group, so each image is decoded once per epoch rather than once per crop.
 */
function cropOrder(plans: readonly CropPlan[], images: number, capacity: number, random: () => number): number[] {
  const all = plans.map((_, i) => i);
  if (images <= capacity) {
    shuffleInPlace(all, random);
    return all;
  }
  const imageOrder = Array.from({ length: images }, (_, i) => i);
  shuffleInPlace(imageOrder, random);
  const group = new Int32Array(images);
  imageOrder.forEach((image, rank) => (group[image] = Math.floor(rank / capacity)));
  const groups: number[][] = Array.from({ length: Math.ceil(images / capacity) }, () => []);
  for (const i of all) (groups[group[(plans[i] as CropPlan).image] as number] as number[]).push(i);
  return groups.flatMap((g) => {
    shuffleInPlace(g, random);
    return g;
  });
}

/**
 * What the trainer relies on, checked before any work (a dataset reader checks the files; this
 * also guards datasets made in code): classes, a training split, and boxes that are boxes.
 */
function checkDataset(dataset: DetectionDataset): void {
  const classes = dataset.classNames.length;
  if (classes === 0) throw new SmallDetectorInputError(`${dataset.root}: the dataset names no classes`);
  if (dataset.train.length === 0) throw new SmallDetectorInputError(`${dataset.root}: the training split is empty`);
  for (const s of [...dataset.train, ...dataset.val]) {
    s.boxes.forEach((b, i) => {
      const where = `${s.file}: object ${i + 1}`;
      if (!(Number.isInteger(b.classId) && b.classId >= 0 && b.classId < classes)) throw new SmallDetectorInputError(`${where}: class id ${b.classId} is not one of the dataset's ${classes} classes (0..${classes - 1})`);
      const inside = [b.cx, b.cy, b.w, b.h].every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
      if (!inside || b.w === 0 || b.h === 0) throw new SmallDetectorInputError(`${where}: box ${JSON.stringify([b.cx, b.cy, b.w, b.h])} is not a centre and size in 0..1`);
    });
  }
}

/** [A, B, plane] -> [B, A, plane]: the graphs run batch-first, the loss reads channel-first. */
function swapFirstAxes(data: Float32Array, a: number, b: number, plane: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i += 1) for (let j = 0; j < b; j += 1) out.set(data.subarray((i * b + j) * plane, (i * b + j + 1) * plane), (j * a + i) * plane);
  return out;
}

/**
 * The class names as the vision stage reads them (class-names.ts): `classNames`, comma-separated;
 * a name with a comma in it cannot go that way, so then `names` too, as a JSON list, which the
 * stage reads first.
 */
export function classNameMetadata(names: readonly string[]): Record<string, string> {
  const meta: Record<string, string> = { classNames: names.join(','), producer: 'edgewise model train vision', architecture: ARCHITECTURE };
  if (names.some((n) => n.includes(','))) meta['names'] = JSON.stringify(names);
  return meta;
}
