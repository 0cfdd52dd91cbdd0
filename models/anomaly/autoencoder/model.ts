import type { InferenceBackend, LoadOptions, LoadedModel } from '../../engine/engine.js';
import { ModelError } from '../../engine/errors.js';
import { readModelMetadata } from '../../onnx/builder.js';
import { evidenceScore, normalTailEvidence } from '../math.js';
import type { Mlp } from '../../train/mlp.js';
import { chooseCalibration, type CalibrationChoice } from './federated-calibration.js';
import { exportAutoencoder } from './onnx-export.js';
import { trainAutoencoder } from '../../train/adam.js';

/** Everything needed to use a trained autoencoder besides its weights; stored in the ONNX file. */
export interface AutoencoderMeta {
  readonly kind: 'edgewise-autoencoder';
  readonly version: 1;
  readonly channels: readonly string[];
  readonly windowSamples: number;
  /** Per-channel normalisation learned from the training data. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Log-normal fit of the reconstruction error on held-out normal windows. */
  readonly calibration: { readonly logMean: number; readonly logStd: number };
  readonly seed: number;
  readonly trainingWindows: number;
  readonly heldOutWindows: number;
}

export interface TrainModelOptions {
  readonly channels: readonly string[];
  readonly windowSamples: number;
  /** Windows start every `stride` samples. */
  readonly stride: number;
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Share of windows held out for calibration (not trained on). */
  readonly heldOut: number;
  /**
   * Where each window starts (sample index), for windows sampled sparsely over a long period:
   * then every k-th window is held out, spread over the whole period so that calibration sees
   * every operating point, and training windows that overlap a held-out one are dropped (they
   * would leak it). Without positions the newest windows are held out.
   */
  readonly positions?: ArrayLike<number>;
  readonly onEpoch?: (epoch: number, loss: number) => void;
}

export interface TrainedModel {
  readonly bytes: Uint8Array;
  /** The trained network itself (the ONNX file holds the same weights as float32). */
  readonly network: Mlp;
  readonly meta: AutoencoderMeta;
  readonly losses: readonly number[];
}

const STD_FLOOR = 1e-6;
const ERROR_FLOOR = 1e-12;

/** Windows of `w` samples x C channels, raw, flattened time-major, starting every `stride`. */
export function cutWindows(samples: Float64Array, rows: number, channels: number, w: number, stride: number): { data: Float64Array; count: number } {
  const count = rows < w ? 0 : Math.floor((rows - w) / stride) + 1;
  const dims = w * channels;
  const data = new Float64Array(count * dims);
  for (let k = 0; k < count; k += 1) data.set(samples.subarray(k * stride * channels, (k * stride + w) * channels), k * dims);
  return { data, count };
}

function meanSquaredErrors(model: Mlp, data: Float64Array, count: number, dims: number): number[] {
  const out = model.predict(data, count);
  const errors: number[] = [];
  for (let k = 0; k < count; k += 1) {
    let s = 0;
    for (let i = 0; i < dims; i += 1) {
      const e = (out[k * dims + i] as number) - (data[k * dims + i] as number);
      s += e * e;
    }
    errors.push(s / dims);
  }
  return errors;
}

/**
 * Trains an autoencoder on samples the operator vouches for as normal (`rows` x channels,
 * row-major), calibrates its error on the newest held-out windows, and returns the ONNX
 * model with its metadata inside. Deterministic from the seed.
 */
export async function trainAutoencoderModel(samples: Float64Array, rows: number, o: TrainModelOptions): Promise<TrainedModel> {
  const { data, count } = cutWindows(samples, rows, o.channels.length, o.windowSamples, o.stride);
  return trainAutoencoderOnWindows(data, count, o);
}

/**
 * Splits windows sampled sparsely over a long period (`positions`: each one's first sample)
 * into training and held-out windows: every k-th window is held out, spread over the whole
 * period so that the held-out ones see every operating point, and a training window that
 * overlaps a held-out one is dropped (it would leak it). Indices in the input's order.
 */
export function splitSpread(positions: ArrayLike<number>, count: number, heldOut: number, windowSamples: number): { train: number[]; held: number[] } {
  const pos = positions;
  if (pos.length !== count) throw new ModelError('E_MODEL_INPUT', `autoencoder: ${pos.length} positions for ${count} windows`);
  const every = count / heldOut;
  const isHeld = Array.from({ length: count }, (_, k) => Math.floor((k + 1) / every) > Math.floor(k / every));
  const overlapsHeld = (k: number): boolean => {
    for (let j = k - 1; j >= 0 && (pos[k] as number) - (pos[j] as number) < windowSamples; j -= 1) if (isHeld[j] === true) return true;
    for (let j = k + 1; j < count && (pos[j] as number) - (pos[k] as number) < windowSamples; j += 1) if (isHeld[j] === true) return true;
    return false;
  };
  const all = Array.from({ length: count }, (_, k) => k);
  return { train: all.filter((k) => isHeld[k] !== true && !overlapsHeld(k)), held: all.filter((k) => isHeld[k] === true) };
}

/**
 * The same from windows already cut (`count` x windowSamples x channels, raw values, oldest
 * first): a gateway samples them over hours of normal running to cover every operating point.
 */
export async function trainAutoencoderOnWindows(raw: Float64Array, count: number, o: Omit<TrainModelOptions, 'stride'>): Promise<TrainedModel> {
  const channels = o.channels.length;
  const dims = o.windowSamples * channels;
  if (raw.length < count * dims) throw new ModelError('E_MODEL_INPUT', `autoencoder: ${raw.length} values for ${count} windows of ${dims}`);
  const values = count * o.windowSamples;
  const mean = o.channels.map((_, c) => {
    let s = 0;
    for (let i = c; i < count * dims; i += channels) s += raw[i] as number;
    return s / values;
  });
  const std = o.channels.map((_, c) => {
    let s = 0;
    for (let i = c; i < count * dims; i += channels) s += ((raw[i] as number) - (mean[c] as number)) ** 2;
    return Math.max(STD_FLOOR, Math.sqrt(s / values));
  });
  const all = new Float64Array(count * dims);
  for (let i = 0; i < all.length; i += 1) all[i] = ((raw[i] as number) - (mean[i % channels] as number)) / (std[i % channels] as number);
  const heldOut = Math.max(1, Math.floor(count * o.heldOut));
  let trainCount = count - heldOut;
  if (o.positions !== undefined) {
    const { train, held } = splitSpread(o.positions, count, heldOut, o.windowSamples);
    const order = [...train, ...held];
    const copy = all.slice();
    order.forEach((from, to) => all.set(copy.subarray(from * dims, (from + 1) * dims), to * dims));
    trainCount = train.length;
  }
  if (trainCount < 8) throw new ModelError('E_MODEL_INPUT', `autoencoder: ${trainCount} training windows of ${o.windowSamples} samples after holding ${heldOut} out; need at least 8 (more normal data)`);
  const train = all.subarray(0, trainCount * dims);
  const { model, losses } = await trainAutoencoder(train, trainCount, dims, { hidden: o.hidden, epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed, ...(o.onEpoch === undefined ? {} : { onEpoch: o.onEpoch }) });
  const errors = meanSquaredErrors(model, all.subarray((count - heldOut) * dims), heldOut, dims).map((e) => Math.log(e + ERROR_FLOOR));
  const logMean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const logStd = Math.max(1e-3, Math.sqrt(errors.reduce((a, b) => a + (b - logMean) ** 2, 0) / errors.length));
  const meta: AutoencoderMeta = { kind: 'edgewise-autoencoder', version: 1, channels: o.channels, windowSamples: o.windowSamples, mean, std, calibration: { logMean, logStd }, seed: o.seed, trainingWindows: trainCount, heldOutWindows: heldOut };
  return { bytes: exportAutoencoder(model, { edgewise: JSON.stringify(meta) }), network: model, meta, losses };
}

/** One scored window: the calibrated score, what drove it, and the raw error. */
export interface WindowScore {
  /**
   * Calibrated to [0, 1] on held-out normal windows: the evidence -log10 p that an error this
   * large is normal (log-normal fit), as evidenceScore; a typical normal window scores ~0.03.
   */
  readonly score: number;
  readonly meanSquaredError: number;
  /** Per channel, non-negative, summing to `score`. */
  readonly channels: Readonly<Record<string, number>>;
  /** Per time step of the window (oldest first), non-negative, summing to `score`. */
  readonly steps: readonly number[];
}

/** The autoencoder's metadata from its ONNX bytes; E_MODEL_INVALID when it is not an edgewise autoencoder. */
export function parseMeta(bytes: Uint8Array): AutoencoderMeta {
  let meta: AutoencoderMeta;
  try {
    meta = JSON.parse(readModelMetadata(bytes)['edgewise'] ?? 'null') as AutoencoderMeta;
  } catch (err) {
    throw new ModelError('E_MODEL_INVALID', `autoencoder: model metadata unreadable (${(err as Error).message})`, { cause: err });
  }
  if (meta === null || meta.kind !== 'edgewise-autoencoder' || meta.version !== 1) throw new ModelError('E_MODEL_INVALID', 'autoencoder: not an edgewise autoencoder (metadata "edgewise" missing or of another kind/version)');
  if (meta.mean.length !== meta.channels.length || meta.std.length !== meta.channels.length) throw new ModelError('E_MODEL_INVALID', 'autoencoder: metadata channel lists disagree');
  return meta;
}

/** A loaded autoencoder that scores windows through the inference engine. */
export class AutoencoderScorer {
  private constructor(
    /** The model's metadata, its calibration the one scored with (`calibrationChoice`). */
    readonly meta: AutoencoderMeta,
    readonly model: LoadedModel,
    /** Where the calibration comes from: the trained fit, or a federated release's pooled one (federated-calibration.ts). */
    readonly calibrationChoice: CalibrationChoice,
  ) {}

  static async load(bytes: Uint8Array, backend: InferenceBackend, loadOptions: LoadOptions): Promise<AutoencoderScorer> {
    const trained = parseMeta(bytes);
    const calibrationChoice = chooseCalibration(bytes, trained);
    const meta: AutoencoderMeta = { ...trained, calibration: calibrationChoice.calibration };
    const model = await backend.load(bytes, loadOptions);
    const dims = meta.windowSamples * meta.channels.length;
    const input = model.inputs[0];
    if (input === undefined || input.shape[1] !== dims) {
      await model.close();
      throw new ModelError('E_MODEL_INVALID', `autoencoder: input shape [${input?.shape.join(', ') ?? ''}] does not match ${meta.windowSamples} samples x ${meta.channels.length} channels`);
    }
    return new AutoencoderScorer(meta, model, calibrationChoice);
  }

  /** Scores windows given as raw values, `count` x windowSamples x channels (time-major). */
  async score(raw: Float64Array, count: number): Promise<WindowScore[]> {
    const { windowSamples: w, channels, mean, std, calibration } = this.meta;
    const c = channels.length;
    const dims = w * c;
    if (raw.length !== count * dims) throw new ModelError('E_MODEL_INPUT', `autoencoder: ${raw.length} values for ${count} windows of ${dims}`);
    const x = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) x[i] = ((raw[i] as number) - (mean[i % c] as number)) / (std[i % c] as number);
    const out = (await this.model.run({ x: { data: x, dims: [count, dims] } }))['reconstruction'];
    if (out === undefined) throw new ModelError('E_MODEL_RUN', 'autoencoder: no reconstruction output');
    const results: WindowScore[] = [];
    for (let k = 0; k < count; k += 1) {
      const perChannel = new Float64Array(c);
      const perStep = new Float64Array(w);
      let total = 0;
      for (let t = 0; t < w; t += 1) {
        for (let ch = 0; ch < c; ch += 1) {
          const i = k * dims + t * c + ch;
          const e = ((out.data[i] as number) - (x[i] as number)) ** 2;
          perChannel[ch] = (perChannel[ch] as number) + e;
          perStep[t] = (perStep[t] as number) + e;
          total += e;
        }
      }
      const mse = total / dims;
      // How unlikely an error this large is among held-out normal windows, on the shared scale.
      const score = evidenceScore(normalTailEvidence((Math.log(mse + ERROR_FLOOR) - calibration.logMean) / calibration.logStd));
      // The score split in proportion to where the error is (evenly for a perfect reconstruction).
      const share = (e: number, parts: number): number => (total > 0 ? (score * e) / total : score / parts);
      const channelShares: Record<string, number> = {};
      channels.forEach((name, ch) => {
        channelShares[name] = share(perChannel[ch] as number, c);
      });
      results.push({ score, meanSquaredError: mse, channels: channelShares, steps: Array.from(perStep, (e) => share(e, w)) });
    }
    return results;
  }

  close(): Promise<void> {
    return this.model.close();
  }
}
