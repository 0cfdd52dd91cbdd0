import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { SensorLog } from '../../datasets/types.js';
import type { OnTrainingProgress } from '../../model-dir/model-card.js';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint, writeModelDir } from '../../model-dir/model-dir.js';
import { createAdamState, trainMlp, type AdamState } from '../../train/adam.js';
import { Mlp, meanSquaredError } from '../../train/mlp.js';
import { parametersOf } from '../../train/mlp-parameters.js';
import { splitSpread, type AutoencoderMeta } from '../autoencoder/model.js';
import { exportAutoencoder } from '../autoencoder/onnx-export.js';
import { ANOMALY_DEFAULTS } from '../index.js';
import { SensorDataError, TrainingOptionError, TrainingStoppedError } from './errors.js';
import { SENSOR_METADATA_KEY, type SensorInput, type SensorModelCard } from './sensor-card.js';
import { prepareLogs, sampleNormalWindows } from './sensor-windows.js';

export interface TrainAnomalyOptions {
  /** MODEL_DIR: model.onnx, model.json and, while training, checkpoint/. */
  readonly outDir: string;
  readonly seed: number;
  readonly epochs?: number;
  /** Samples a window; the stage's `autoencoder.windowSamples` must be the same. */
  readonly windowSamples?: number;
  /** The stage's scoring stride (recorded in the card, used by `model eval`). */
  readonly strideSamples?: number;
  readonly hidden?: readonly number[];
  readonly learningRate?: number;
  readonly batchSize?: number;
  /** Training windows kept at most, sampled uniformly over all the logs' normal running (bounds memory and time). */
  readonly maxWindows?: number;
  /** Share of the windows held out, spread over the logs, to calibrate the score on. */
  readonly heldOutShare?: number;
  /** Channels to model, in this order; default: the first log's. */
  readonly channels?: readonly string[];
  /** Resample logs to this rate; default: their own (they must agree). */
  readonly rateHz?: number;
  /** Go on from the last checkpoint in outDir when it is of the same data and settings. */
  readonly resume?: boolean;
  readonly onProgress?: OnTrainingProgress;
  /** Things a person should know (a checkpoint not used, logs resampled, no labels). */
  readonly onNotice?: (message: string) => void;
  /** Stops after the epoch in progress, its checkpoint written (TrainingStoppedError). */
  readonly signal?: AbortSignal;
  /** What the card names as the dataset; default: the logs' files. */
  readonly dataset?: string;
}

/** As the stage trains on a gateway (ANOMALY_DEFAULTS.autoencoder), so a CSV-trained model is the same kind of model. */
export const CSV_TRAINING_DEFAULTS = {
  epochs: ANOMALY_DEFAULTS.autoencoder.epochs,
  windowSamples: ANOMALY_DEFAULTS.autoencoder.windowSamples,
  strideSamples: ANOMALY_DEFAULTS.autoencoder.strideSamples,
  hidden: ANOMALY_DEFAULTS.autoencoder.hidden,
  learningRate: ANOMALY_DEFAULTS.autoencoder.learningRate,
  batchSize: 64,
  maxWindows: ANOMALY_DEFAULTS.autoencoder.trainWindows,
  heldOutShare: 0.2,
} as const;

/** Fewer training windows than this teach nothing (as the stage's trainer). */
const MIN_TRAINING_WINDOWS = 8;
/** Held-out windows at least: a log-normal fit on fewer is noise. */
const MIN_HELD_OUT = 4;
const STD_FLOOR = 1e-6;
const ERROR_FLOOR = 1e-12;

type Settings = Required<Pick<TrainAnomalyOptions, 'epochs' | 'windowSamples' | 'strideSamples' | 'learningRate' | 'batchSize' | 'maxWindows' | 'heldOutShare'>> & { readonly hidden: readonly number[] };

function settingsOf(o: TrainAnomalyOptions): Settings {
  const d = CSV_TRAINING_DEFAULTS;
  const s: Settings = {
    epochs: o.epochs ?? d.epochs,
    windowSamples: o.windowSamples ?? d.windowSamples,
    strideSamples: o.strideSamples ?? d.strideSamples,
    hidden: o.hidden ?? d.hidden,
    learningRate: o.learningRate ?? d.learningRate,
    batchSize: o.batchSize ?? d.batchSize,
    maxWindows: o.maxWindows ?? d.maxWindows,
    heldOutShare: o.heldOutShare ?? d.heldOutShare,
  };
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new TrainingOptionError(`${name}: expected an integer from ${min} to ${max}, got ${v}`);
  };
  // The stage's schema bounds (models/anomaly/schema.ts): a model outside them could not be used.
  int('epochs', s.epochs, 1, 1000);
  int('windowSamples', s.windowSamples, 2, 1024);
  int('strideSamples', s.strideSamples, 1, 1024);
  int('batchSize', s.batchSize, 1, 4096);
  int('maxWindows', s.maxWindows, 64, 100_000);
  int('seed', o.seed, 0, 4_294_967_295);
  if (s.hidden.length < 1 || s.hidden.length > 5) throw new TrainingOptionError(`hidden: expected 1 to 5 layer sizes, got ${s.hidden.length}`);
  s.hidden.forEach((h, i) => int(`hidden[${i}]`, h, 1, 1024));
  if (!(s.learningRate > 0 && s.learningRate <= 1)) throw new TrainingOptionError(`learningRate: expected a number in (0, 1], got ${s.learningRate}`);
  if (!(s.heldOutShare > 0 && s.heldOutShare < 1)) throw new TrainingOptionError(`heldOutShare: expected a number in (0, 1), got ${s.heldOutShare}`);
  if (o.rateHz !== undefined && !(o.rateHz > 0 && Number.isFinite(o.rateHz))) throw new TrainingOptionError(`rateHz: expected a positive number, got ${o.rateHz}`);
  return s;
}

/** Per-channel mean and std over every value of the windows (the stage's trainer does the same). */
function normalisation(raw: Float64Array, count: number, windowSamples: number, channels: number): { mean: number[]; std: number[] } {
  const n = count * windowSamples;
  const mean = new Array<number>(channels).fill(0);
  const sq = new Array<number>(channels).fill(0);
  for (let i = 0; i < n * channels; i += 1) mean[i % channels] = (mean[i % channels] as number) + (raw[i] as number);
  for (let c = 0; c < channels; c += 1) mean[c] = (mean[c] as number) / n;
  for (let i = 0; i < n * channels; i += 1) sq[i % channels] = (sq[i % channels] as number) + ((raw[i] as number) - (mean[i % channels] as number)) ** 2;
  return { mean, std: sq.map((s) => Math.max(STD_FLOOR, Math.sqrt(s / n))) };
}

/** The log-normal fit of the windows' reconstruction errors: what the scorer turns into p-values. */
function calibrate(model: Mlp, x: Float64Array, count: number, dims: number): { logMean: number; logStd: number } {
  const out = model.predict(x, count);
  const logs: number[] = [];
  for (let k = 0; k < count; k += 1) {
    let s = 0;
    for (let i = k * dims; i < (k + 1) * dims; i += 1) s += ((out[i] as number) - (x[i] as number)) ** 2;
    logs.push(Math.log(s / dims + ERROR_FLOOR));
  }
  const logMean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const logStd = Math.max(1e-3, Math.sqrt(logs.reduce((a, b) => a + (b - logMean) ** 2, 0) / logs.length));
  return { logMean, logStd };
}

/** The network's weights and Adam's moments as named tensors, for a checkpoint. */
function tensorsOf(model: Mlp, adam: AdamState): Record<string, Float64Array> {
  const t: Record<string, Float64Array> = {};
  parametersOf(model).forEach((p, k) => (t[`p${k}`] = p));
  model.layers.forEach((_, l) => {
    t[`m.w${l}`] = (adam.m[l] as { w: Float64Array }).w;
    t[`m.b${l}`] = (adam.m[l] as { b: Float64Array }).b;
    t[`v.w${l}`] = (adam.v[l] as { w: Float64Array }).w;
    t[`v.b${l}`] = (adam.v[l] as { b: Float64Array }).b;
  });
  return t;
}

/** Restores a checkpoint's tensors into the network and Adam; false when a tensor is missing or of another size. */
function restore(model: Mlp, adam: AdamState, tensors: Readonly<Record<string, Float32Array | Float64Array>>): boolean {
  const targets = tensorsOf(model, adam);
  for (const [name, into] of Object.entries(targets)) if (tensors[name]?.length !== into.length) return false;
  for (const [name, into] of Object.entries(targets)) into.set(tensors[name] as Float64Array);
  return true;
}

/**
 * Trains the anomaly autoencoder on sensor logs, as the gateway's anomaly stage would train it
 * on its own stream: windows of `windowSamples` consecutive rows (at the logs' one rate) of
 * normal running only (rows labelled 0; every row when the logs have no labels, said through
 * onNotice), sampled uniformly to at most `maxWindows`, normalised per channel; a share held out
 * spread over the logs (splitSpread, training windows overlapping them dropped) calibrates the
 * score (log-normal fit of their errors, so scores are the stage's p-value scale). A checkpoint
 * after each epoch; `resume` goes on from it, giving the same model as an uninterrupted run.
 * Writes MODEL_DIR (model.onnx with AutoencoderMeta and the sensor input in its metadata, the card)
 * and returns the card. Deterministic from the seed (but for the card's times).
 */
export async function trainAnomalyModel(logs: readonly SensorLog[], o: TrainAnomalyOptions): Promise<SensorModelCard> {
  const started = performance.now();
  const s = settingsOf(o);
  const prepared = prepareLogs(logs, { ...(o.channels === undefined ? {} : { channels: o.channels }), ...(o.rateHz === undefined ? {} : { rateHz: o.rateHz }) });
  const files = logs.map((l) => l.file);
  for (const l of prepared.logs) if (l.resampled) o.onNotice?.(`${l.file}: resampled from ${l.rateHz.toPrecision(4)} Hz to ${prepared.rateHz.toPrecision(4)} Hz (linear, no anti-alias filter)`);
  if (!prepared.labelled) o.onNotice?.(`${logs.some((l) => l.labels !== null) ? 'some logs have' : 'the logs have'} no label column: every row of ${logs.filter((l) => l.labels === null).map((l) => l.file).join(', ')} is taken as normal running`);
  const c = prepared.channels.length;
  const dims = s.windowSamples * c;
  const sample = sampleNormalWindows(prepared, s.windowSamples, Math.max(1, s.windowSamples >> 1), s.maxWindows, o.seed);
  const heldOut = Math.max(MIN_HELD_OUT, Math.floor(sample.count * s.heldOutShare));
  const split = sample.count > heldOut ? splitSpread(sample.positions, sample.count, heldOut, s.windowSamples) : { train: [], held: [] };
  if (split.train.length < MIN_TRAINING_WINDOWS) {
    throw new SensorDataError(
      `${files.join(', ')}: ${sample.normalRows} rows of normal running make ${sample.count} windows of ${s.windowSamples} samples (${split.train.length} to train on once ${heldOut} are held out to calibrate); need at least ${MIN_TRAINING_WINDOWS}: give a longer log of normal running${prepared.labelled ? ' (rows labelled 0)' : ''}`,
    );
  }
  const { mean, std } = normalisation(sample.data, sample.count, s.windowSamples, c);
  // Training windows first, then the held-out ones, standardised.
  const order = [...split.train, ...split.held];
  const x = new Float64Array(order.length * dims);
  order.forEach((from, to) => {
    for (let i = 0; i < dims; i += 1) x[to * dims + i] = ((sample.data[from * dims + i] as number) - (mean[i % c] as number)) / (std[i % c] as number);
  });
  const trainCount = split.train.length;
  const train = x.subarray(0, trainCount * dims);
  // A checkpoint goes on only with the same windows and network: a hash of both.
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ channels: prepared.channels, rateHz: prepared.rateHz, seed: o.seed, hidden: s.hidden, windowSamples: s.windowSamples, batchSize: s.batchSize, learningRate: s.learningRate, trainCount }))
    .update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
    .digest('hex');

  const model = new Mlp([dims, ...s.hidden, dims], o.seed);
  const adam = createAdamState(model);
  let losses: number[] = [];
  let secondsBefore = 0;
  if (o.resume === true) {
    const ck = await loadCheckpoint(o.outDir);
    const st = ck?.state as { fingerprint?: unknown; losses?: unknown; step?: unknown; seconds?: unknown } | undefined;
    if (ck === null) o.onNotice?.(`no checkpoint in ${o.outDir}: training from the start`);
    else if (st?.fingerprint !== fingerprint) o.onNotice?.(`the checkpoint in ${o.outDir} is of other data or settings: training from the start`);
    else if (ck.epoch > s.epochs) o.onNotice?.(`the checkpoint in ${o.outDir} is at epoch ${ck.epoch}, past the ${s.epochs} asked: training from the start`);
    else if (!restore(model, adam, ck.tensors) || !Array.isArray(st.losses) || typeof st.step !== 'number') o.onNotice?.(`the checkpoint in ${o.outDir} is incomplete: training from the start`);
    else {
      adam.step = st.step;
      losses = (st.losses as number[]).slice(0, ck.epoch);
      secondsBefore = typeof st.seconds === 'number' ? st.seconds : 0;
      o.onNotice?.(`resuming from the checkpoint after epoch ${ck.epoch} of ${s.epochs}`);
    }
  } else {
    await removeCheckpoint(o.outDir);
  }
  const steps = Math.ceil(trainCount / s.batchSize);
  for (let epoch = losses.length; epoch < s.epochs; epoch += 1) {
    let step = 0;
    let sum = 0;
    const epochLosses = await trainMlp(model, trainCount, { epochs: 1, batchSize: s.batchSize, learningRate: s.learningRate, seed: (o.seed + epoch * 0x9e3779b1) >>> 0, state: adam }, (indices) => {
      const batch = new Float64Array(indices.length * dims);
      indices.forEach((row, r) => batch.set(train.subarray(row * dims, (row + 1) * dims), r * dims));
      return {
        x: batch,
        loss: (out) => {
          const l = meanSquaredError(out, batch);
          step += 1;
          sum += l.value;
          o.onProgress?.({ epoch: epoch + 1, epochs: s.epochs, step, steps, loss: sum / step });
          return l;
        },
      };
    });
    losses.push(epochLosses[0] as number);
    await saveCheckpoint(o.outDir, { epoch: epoch + 1, state: { fingerprint, losses, step: adam.step, seconds: secondsBefore + (performance.now() - started) / 1000 }, tensors: tensorsOf(model, adam) });
    if (o.signal?.aborted === true && epoch + 1 < s.epochs) throw new TrainingStoppedError(`training stopped after epoch ${epoch + 1} of ${s.epochs}; its checkpoint is in ${o.outDir}: run again with --resume to go on`);
  }

  const meta: AutoencoderMeta = {
    kind: 'edgewise-autoencoder',
    version: 1,
    channels: [...prepared.channels],
    windowSamples: s.windowSamples,
    mean,
    std,
    calibration: calibrate(model, x.subarray(trainCount * dims), split.held.length, dims),
    seed: o.seed,
    trainingWindows: trainCount,
    heldOutWindows: split.held.length,
  };
  const sensor: SensorInput = {
    rateHz: prepared.rateHz,
    units: [...prepared.units],
    windowSamples: s.windowSamples,
    strideSamples: s.strideSamples,
    windowMs: (s.windowSamples * 1000) / prepared.rateHz,
    trainedOn: prepared.labelled ? 'normal-rows' : 'all-rows',
  };
  const bytes = exportAutoencoder(model, { edgewise: JSON.stringify(meta), [SENSOR_METADATA_KEY]: JSON.stringify(sensor) });
  const card: SensorModelCard = {
    format: 'edgewise-model',
    version: 1,
    task: 'anomaly',
    architecture: `autoencoder-mlp-${[dims, ...s.hidden, dims].join('-')}`,
    classNames: [...prepared.channels],
    output: { name: 'reconstruction', layout: 'autoencoder' },
    // Scores are on the stage's p-value scale: the stage's default raise threshold means the same here.
    threshold: ANOMALY_DEFAULTS.alert.raiseThreshold,
    training: {
      dataset: o.dataset ?? files.map((f) => basename(f)).join(', '),
      trainSamples: trainCount,
      valSamples: split.held.length,
      epochs: losses.length,
      seed: o.seed,
      losses,
      seconds: Math.round((secondsBefore + (performance.now() - started) / 1000) * 100) / 100,
      finishedAt: new Date().toISOString(),
    },
    sensor,
  };
  await writeModelDir(o.outDir, card, bytes);
  await removeCheckpoint(o.outDir);
  return card;
}
