import { loadavg } from 'node:os';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { DetectionDataset, DetectionSample, RgbImage } from '../../models/datasets/types.js';
import { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import type { ModelCard } from '../../models/model-dir/model-card.js';
import { readModelDir } from '../../models/model-dir/model-dir.js';
import { OnnxConvChain } from '../../models/train/conv/onnx-conv-chain.js';
import { seededRandom } from '../../models/train/random.js';
import { HEAD_OBJECT, INPUT_MEAN, INPUT_STD, STRIDE, SmallDetectorNet } from '../../models/vision/small-detector/architecture.js';
import { fillCrop, planCrops, type CropPlan } from '../../models/vision/small-detector/crops.js';
import { INPUT_NAME } from '../../models/vision/small-detector/export.js';
import { SMALL_DETECTOR_DEFAULTS, trainSmallDetector } from '../../models/vision/small-detector/train.js';
import { prepareImage, rgbaFrame, type PreparedImage } from '../../models/vision/small-detector/training-images.js';
import { VisionModel } from '../../models/vision/vision-model.js';
import { boardDataset } from '../../sim/datasets/board.js';
import { makeTempDir } from '../support/temp-dir.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- train [--images 120] [--epochs 3] [--rounds 3] [--runs 20]` (issue 17): how
 * fast `edgewise model train vision --task detect` trains the small-object detector here, and how
 * long the trained detector takes on a 640x640 frame with one thread. Under the gateway's V8
 * flags, as `bin/edgewise model train` runs.
 *
 * Training: the detector (models/vision/small-detector, trainSmallDetector with its defaults:
 * 128 px crops, batches of 16, one ONNX Runtime thread) on `--images` synthetic 640x640 boards
 * (sim/datasets/board.ts; test 2's data) for `--epochs`, from scratch with the same seed in each
 * of `--rounds` rounds, so every round does the same arithmetic. The boards are rendered once
 * beforehand (rendering is the simulator's cost, not the trainer's; a plant's PNG decode would
 * take its place; memory: about 2.4 MB a board, the rendered one and the trainer's prepared copy;
 * past 400 boards the trainer's cache re-prepares images every epoch). Times come from the
 * trainer's onProgress calls: an epoch ends at its last mini-batch. The first epoch carries the preparation (letterboxing every image through the
 * gateway's Preprocessor, planning crops, building and loading the training graphs), reported
 * apart as prepare_s; epoch_s is the mean of the later epochs (each includes the checkpoint
 * written after the epoch before it, as every epoch of a real training does), and images_per_s
 * is training images over epoch_s.
 *
 * Baseline for training: the floor of the same arithmetic. The trainer's mini-batch is a forward
 * graph and a backward graph run by ONNX Runtime (models/train/conv/onnx-conv-chain.ts) plus
 * TypeScript around them: filling crops, the loss and its gradient, two transposes, Adam. The
 * baseline runs only the two graphs (the same OnnxConvChain, one thread, batches of 16 real crops
 * cut from the same boards by the trainer's own planCrops/fillCrop) for as many crops as an epoch
 * has, and converts that to images/s. So ratio = training images/s / floor images/s is the share
 * of a training epoch that is the arithmetic ONNX Runtime must do anyway, and 1 - ratio what the
 * TypeScript around it costs: the number to watch when the trainer changes. Forward only
 * (forward_images_per_s) is given too; it is what inference-speed arithmetic would allow and says
 * what the backward graph costs (a bare GEMM FLOP rate would say less: these convolutions have
 * 3 to 32 channels, far from a GEMM's peak, so ratios to it would be small whatever we did).
 * Training and floor alternate in each round (which goes first alternates too); ratio is the
 * median of the rounds' own ratios.
 *
 * Inference: the last round's trained model at 640x640 on validation boards (RGBA frames as a
 * camera source hands them over), one ORT thread, `--runs` frames per arm and round, arms in a
 * rotating order:
 * - stage: VisionModel.run, the gateway's path: preprocessing, ONNX Runtime through the engine,
 *   YOLOv8 decoding at the card's operating point, NMS, boxes back to source pixels;
 * - preprocess: VisionModel.preprocess alone (a 640x640 RGBA frame to the float input; the
 *   decoding and NMS are what remains of the stage beside it and the engine);
 * - engine: VisionModel.infer on the preprocessed tensor (the engine's run alone);
 * - bare: onnxruntime-node alone, `InferenceSession.create(bytes, { intraOpNumThreads: 1,
 *   interOpNumThreads: 1, executionMode: 'sequential' })` and `session.run` on the same tensor.
 * infer_ms_640 is the stage's median (what a frame costs a gateway); infer_ratio = stage / bare.
 */
const VAL_IMAGES = 20;
const SEED = 1;
/** Distinct crop batches the floor cycles through (each 3 MB); the arithmetic does not depend on the values. */
const FLOOR_BATCHES = 4;
/** Boards the floor's crops are cut from. */
const FLOOR_IMAGES = 8;
/** Latency frames: validation boards cycled. */
const LATENCY_FRAMES = 10;

function option(args: readonly string[], name: string, fallback: number, min: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!(Number.isInteger(v) && v >= min)) {
    process.stderr.write(`usage: npm run bench -- train [--images N] [--epochs N>=2] [--rounds N] [--runs N>=5]: --${name} needs a whole number >= ${min}, got ${String(args[i + 1])}\n`);
    process.exit(2);
  }
  return v;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The board dataset with every board rendered once and kept (about 1.2 MB each), so rounds train on the same decoded images. */
async function renderAll(images: number): Promise<DetectionDataset> {
  const boards = boardDataset({ train: images, val: VAL_IMAGES, seed: SEED });
  const keep = async (s: DetectionSample): Promise<DetectionSample> => {
    const image = await s.load();
    return { file: s.file, boxes: s.boxes, load: async (): Promise<RgbImage> => image };
  };
  const train: DetectionSample[] = [];
  for (const s of boards.train) train.push(await keep(s));
  const val: DetectionSample[] = [];
  for (const s of boards.val) val.push(await keep(s));
  return { ...boards, train, val };
}

interface TrainingRound {
  /** Seconds of each epoch after the first. */
  readonly steadyEpochs: number[];
  readonly firstEpochS: number;
  /** From the call to the first mini-batch, less one mini-batch. */
  readonly prepareS: number;
  /** After the last mini-batch: export, the operating point on the validation boards, writing MODEL_DIR. */
  readonly finishS: number;
  readonly card: ModelCard;
}

async function trainRound(dataset: DetectionDataset, outDir: string, epochs: number): Promise<TrainingRound> {
  const t0 = performance.now();
  let first: number | undefined;
  const ends: number[] = [];
  let steps = 0;
  const card = await trainSmallDetector(dataset, {
    outDir,
    epochs,
    seed: SEED,
    onProgress: (p) => {
      const now = performance.now();
      first ??= now;
      steps = p.steps;
      if (p.step !== p.steps) return;
      ends.push(now);
      const s = (now - (ends.length > 1 ? (ends.at(-2) as number) : t0)) / 1000;
      progress(`  epoch ${p.epoch}/${p.epochs}: ${s.toFixed(2)} s${p.epoch === 1 ? ' (with the preparation)' : ''}, ${p.steps} mini-batches, loss ${p.loss.toFixed(4)}`);
    },
  });
  const done = performance.now();
  if (first === undefined || ends.length !== epochs) throw new Error(`the trainer reported ${ends.length} finished epochs of ${epochs}`);
  const stepMs = steps > 1 ? ((ends[0] as number) - first) / (steps - 1) : 0;
  return {
    steadyEpochs: ends.slice(1).map((t, i) => (t - (ends[i] as number)) / 1000),
    firstEpochS: ((ends[0] as number) - t0) / 1000,
    prepareS: (first - t0 - stepMs) / 1000,
    finishS: (done - (ends.at(-1) as number)) / 1000,
    card,
  };
}

/** The floor: the trainer's two ONNX Runtime graphs alone on real crops; ms per crop, forward only and forward + backward. */
class ArithmeticFloor {
  private constructor(
    private readonly chain: OnnxConvChain,
    private readonly batches: readonly Float32Array[],
    private readonly dHead: Float32Array,
    private readonly batchSize: number,
  ) {}

  /** The crops are cut by the trainer's own planCrops and fillCrop from the first boards; returns the floor and the crops of one epoch. */
  static async create(dataset: DetectionDataset, classes: number): Promise<{ floor: ArithmeticFloor; cropsPerEpoch: number }> {
    const size = 640;
    const crop = SMALL_DETECTOR_DEFAULTS.cropSize;
    const batchSize = SMALL_DETECTOR_DEFAULTS.batchSize;
    const margin = 2 * STRIDE;
    const objects = dataset.train.map((s) => ({ objects: s.boxes.map((b) => ({ box: { x: (b.cx - b.w / 2) * size, y: (b.cy - b.h / 2) * size, w: b.w * size, h: b.h * size } })) }));
    const cropsPerEpoch = planCrops(objects, size, crop, margin, SMALL_DETECTOR_DEFAULTS.backgroundCropsPerImage, seededRandom(7)).length;
    const random = seededRandom(11);
    const batches: Float32Array[] = [];
    const prepared: PreparedImage[] = [];
    for (const s of dataset.train.slice(0, FLOOR_IMAGES)) prepared.push(prepareImage(await s.load(), s.boxes, size));
    const plans = planCrops(prepared, size, crop, margin, SMALL_DETECTOR_DEFAULTS.backgroundCropsPerImage, random);
    for (let b = 0; b < FLOOR_BATCHES; b += 1) {
      const input = new Float32Array(batchSize * 3 * crop * crop);
      for (let k = 0; k < batchSize; k += 1) {
        const plan = plans[(b * batchSize + k) % plans.length] as CropPlan;
        fillCrop(prepared[plan.image] as PreparedImage, plan, k, crop, INPUT_MEAN, INPUT_STD, input);
      }
      batches.push(input);
    }
    const net = new SmallDetectorNet(classes);
    net.initialise(seededRandom(SEED));
    const chain = await OnnxConvChain.load(net.layers, crop, crop, new OnnxBackend(), 1);
    const grid = crop / STRIDE;
    const dHead = Float32Array.from({ length: batchSize * (HEAD_OBJECT + 1 + classes) * grid * grid }, () => (random() - 0.5) * 1e-3);
    return { floor: new ArithmeticFloor(chain, batches, dHead, batchSize), cropsPerEpoch };
  }

  /** Ms per crop over `crops` crops (whole batches). */
  async run(crops: number, backward: boolean): Promise<number> {
    const steps = Math.ceil(crops / this.batchSize);
    const t0 = performance.now();
    for (let s = 0; s < steps; s += 1) {
      await this.chain.forward(this.batches[s % this.batches.length] as Float32Array, this.batchSize);
      if (backward) await this.chain.backward(this.dHead);
    }
    return (performance.now() - t0) / (steps * this.batchSize);
  }

  close(): Promise<void> {
    return this.chain.close();
  }
}

async function onnxRuntime(): Promise<typeof Ort> {
  const m = await import('onnxruntime-node');
  return ((m as unknown as { default?: typeof Ort }).default ?? m) as typeof Ort;
}

interface Latency {
  readonly stage: number[];
  readonly engine: number[];
  readonly preprocess: number[];
  readonly bare: number[];
  /** Detections per frame the stage found (the trained model finds the defects, not an empty scene). */
  readonly detections: number;
  readonly truth: number;
}

async function latency(modelDir: string, dataset: DetectionDataset, rounds: number, runs: number): Promise<Latency> {
  const { card, model } = await readModelDir(modelDir);
  const input = card.input as NonNullable<ModelCard['input']>;
  if (input.width !== 640 || input.height !== 640) throw new Error(`the trained model's input is ${input.width}x${input.height}, not 640x640`);
  const samples = dataset.val.slice(0, LATENCY_FRAMES);
  const frames = await Promise.all(samples.map(async (s) => rgbaFrame(await s.load())));
  const vm = await VisionModel.load(model, new OnnxBackend({ threads: 1 }), { providers: ['cpu'], threads: 1 }, { task: 'detection', mean: input.mean, std: input.std, confidence: card.threshold });
  const tensors = frames.map((f) => Float32Array.from(vm.preprocess(f).tensor));
  const ort = await onnxRuntime();
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const dims = [1, 3, 640, 640];
  let detections = 0;
  const arms = {
    bare: async (i: number): Promise<number> => {
      const t0 = performance.now();
      await session.run({ [INPUT_NAME]: new ort.Tensor('float32', tensors[i % tensors.length] as Float32Array, dims) });
      return performance.now() - t0;
    },
    engine: async (i: number): Promise<number> => {
      const t0 = performance.now();
      await vm.infer(tensors[i % tensors.length] as Float32Array);
      return performance.now() - t0;
    },
    preprocess: async (i: number): Promise<number> => {
      const t0 = performance.now();
      vm.preprocess(frames[i % frames.length] as (typeof frames)[number]);
      return performance.now() - t0;
    },
    stage: async (i: number): Promise<number> => {
      const t0 = performance.now();
      const found = await vm.detect(frames[i % frames.length] as (typeof frames)[number]);
      const ms = performance.now() - t0;
      detections += found.length;
      return ms;
    },
  };
  const names = ['stage', 'preprocess', 'engine', 'bare'] as const;
  const ms: Record<(typeof names)[number], number[]> = { stage: [], preprocess: [], engine: [], bare: [] };
  try {
    for (const n of names) for (let i = 0; i < 3; i += 1) await arms[n](i);
    detections = 0;
    for (let r = 0; r < rounds; r += 1) {
      // Rotate which arm goes first, so none always runs on caches another warmed.
      for (let k = 0; k < names.length; k += 1) {
        const n = names[(r + k) % names.length] as (typeof names)[number];
        for (let i = 0; i < runs; i += 1) ms[n].push(await arms[n](i));
      }
      progress(`latency round ${r + 1}/${rounds}: stage ${median(ms.stage.slice(-runs)).toFixed(2)} ms, preprocessing ${median(ms.preprocess.slice(-runs)).toFixed(2)} ms, engine ${median(ms.engine.slice(-runs)).toFixed(2)} ms, bare ${median(ms.bare.slice(-runs)).toFixed(2)} ms (medians of ${runs})`);
    }
  } finally {
    await vm.close();
    await session.release();
  }
  const truth = samples.reduce((a, s) => a + s.boxes.length, 0) / samples.length;
  return { ...ms, detections: detections / ms.stage.length, truth };
}

export async function benchTrain(args: readonly string[]): Promise<void> {
  const images = option(args, 'images', 120, 1);
  const epochs = option(args, 'epochs', 3, 2);
  const rounds = option(args, 'rounds', 3, 1);
  const runs = option(args, 'runs', 20, 5);
  const load0 = loadavg()[0] as number;
  const dir = await makeTempDir('edgewise-bench-train-');
  try {
    progress(`rendering ${images} training and ${VAL_IMAGES} validation boards (640x640, once for all rounds)`);
    const r0 = performance.now();
    const dataset = await renderAll(images);
    const renderS = (performance.now() - r0) / 1000;
    const { floor, cropsPerEpoch } = await ArithmeticFloor.create(dataset, dataset.classNames.length);
    progress(`rendered in ${renderS.toFixed(1)} s; ${cropsPerEpoch} crops an epoch (${SMALL_DETECTOR_DEFAULTS.cropSize} px, batches of ${SMALL_DETECTOR_DEFAULTS.batchSize})`);
    await floor.run(2 * SMALL_DETECTOR_DEFAULTS.batchSize, true);

    const trained: TrainingRound[] = [];
    const floorMs: number[] = [];
    const forwardMs: number[] = [];
    const ratios: number[] = [];
    let last = '';
    try {
      for (let r = 0; r < rounds; r += 1) {
        const measureFloor = async (): Promise<void> => {
          floorMs.push(await floor.run(cropsPerEpoch, true));
          forwardMs.push(await floor.run(cropsPerEpoch, false));
        };
        last = join(dir.path, `round-${r + 1}`);
        progress(`round ${r + 1}/${rounds}: training ${epochs} epochs on ${images} boards${r % 2 === 1 ? ', after the floor' : ', then the floor'}`);
        if (r % 2 === 1) await measureFloor();
        trained.push(await trainRound(dataset, last, epochs));
        if (r % 2 === 0) await measureFloor();
        const t = trained[r] as TrainingRound;
        const epochS = mean(t.steadyEpochs);
        const floorEpochS = ((floorMs[r] as number) * cropsPerEpoch) / 1000;
        ratios.push(floorEpochS / epochS);
        progress(
          `round ${r + 1}: ${epochS.toFixed(2)} s an epoch after the first (${(images / epochS).toFixed(1)} images/s, ${(cropsPerEpoch / epochS).toFixed(0)} crops/s); preparation ${t.prepareS.toFixed(2)} s; floor ${floorEpochS.toFixed(2)} s (forward only ${(((forwardMs[r] as number) * cropsPerEpoch) / 1000).toFixed(2)} s): ratio ${(ratios[r] as number).toFixed(3)}`,
        );
      }
    } finally {
      await floor.close();
    }

    const epochS = median(trained.map((t) => mean(t.steadyEpochs)));
    const floorEpochS = (median(floorMs) * cropsPerEpoch) / 1000;
    const forwardEpochS = (median(forwardMs) * cropsPerEpoch) / 1000;
    const lastCard = (trained.at(-1) as TrainingRound).card;
    const losses = lastCard.training.losses;

    progress(`inference at 640x640, one thread: the model of round ${rounds} (operating point ${lastCard.threshold}), ${rounds} rounds of ${runs} frames per arm`);
    const lat = await latency(last, dataset, rounds, runs);
    const stage = median(lat.stage);
    const bare = median(lat.bare);
    const stageP95 = percentile(lat.stage, 95);
    const bareP95 = percentile(lat.bare, 95);
    progress(`stage ${stage.toFixed(2)} ms (p95 ${stageP95.toFixed(2)}), its preprocessing ${median(lat.preprocess).toFixed(2)} ms, engine ${median(lat.engine).toFixed(2)} ms, bare ${bare.toFixed(2)} ms (p95 ${bareP95.toFixed(2)}); ${lat.detections.toFixed(1)} detections a frame at the operating point (${lat.truth.toFixed(1)} defects labelled)`);

    printResult({
      bench: 'train',
      images_per_s: round1(images / epochS),
      epoch_s: round2(epochS),
      infer_ms_640: round2(stage),
      // Training against its arithmetic floor (the forward and backward graphs alone, same crops).
      floor_images_per_s: round1(images / floorEpochS),
      ratio: round3(median(ratios)),
      ratio_min: round3(Math.min(...ratios)),
      ratio_max: round3(Math.max(...ratios)),
      forward_images_per_s: round1(images / forwardEpochS),
      crops_per_s: Math.round(cropsPerEpoch / epochS),
      crops_per_epoch: cropsPerEpoch,
      first_epoch_s: round2(median(trained.map((t) => t.firstEpochS))),
      prepare_s: round2(median(trained.map((t) => t.prepareS))),
      finish_s: round2(median(trained.map((t) => t.finishS))),
      render_s: round1(renderS),
      loss_first: round3(losses[0] as number),
      loss_last: round3(losses.at(-1) as number),
      // Inference: the gateway's VisionModel path against bare ONNX Runtime on the same tensors.
      infer_p95_ms_640: round2(stageP95),
      infer_preprocess_ms_640: round2(median(lat.preprocess)),
      infer_engine_ms_640: round2(median(lat.engine)),
      infer_bare_ms_640: round2(bare),
      infer_bare_p95_ms_640: round2(bareP95),
      infer_ratio: round3(stage / bare),
      infer_ratio_p95: round3(stageP95 / bareP95),
      detections_per_frame: round1(lat.detections),
      images,
      epochs,
      rounds,
      runs_per_round: runs,
      load_1m_start: round2(load0),
      load_1m_end: round2(loadavg()[0] as number),
    });
  } finally {
    await dir.remove();
  }
}
