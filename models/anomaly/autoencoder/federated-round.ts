import type { FloatTensor } from '../../../fleet/protocol/federated/tensor.js';
import { LearningError, type LocalTrainingResult } from '../../../runtime/federated/learner.js';
import { readFloatInitializers, type FloatInitializer } from '../../onnx/initializers.js';
import { logErrorMoments } from '../../train/log-error-moments.js';
import { trainLocally } from '../../train/local-training.js';
import { Mlp } from '../../train/mlp.js';
import { parametersOf, reconstructionLoss } from '../../train/mlp-parameters.js';
import { parseMeta, splitSpread, type AutoencoderMeta } from './model.js';

/** Normal windows a stage kept: raw values, `count` x windowSamples x channels (the stream's channel order), oldest first. */
export interface KeptWindows {
  readonly data: Float64Array;
  readonly count: number;
  /** Each window's first sample (a running sample index), to hold out windows spread over the period. */
  readonly positions: Float64Array;
  /** The stream's channels, in the windows' column order. */
  readonly channels: readonly string[];
  readonly windowSamples: number;
}

export interface RoundTrainingOptions {
  readonly localEpochs: number;
  readonly learningRate: number;
  readonly proximalMu: number | null;
  /** Share of the windows held out as local validation (its loss is reported, the windows never leave). */
  readonly heldOutShare: number;
  readonly batchSize: number;
  /** Seeds the batch order. */
  readonly seed: number;
  readonly signal: AbortSignal;
}

/** As trainAutoencoderOnWindows: fewer training windows than this teach nothing worth sending. */
const MIN_TRAINING_WINDOWS = 8;

/**
 * The network of an exported autoencoder (onnx-export.ts: Gemm with transB=1, so `w{l}` is
 * [outputs, inputs] row-major exactly as Mlp holds it, and `b{l}` is [outputs]) rebuilt from its
 * float initializers. Throws E_LEARNING_MODEL when they are not such a chain.
 */
export function mlpFromInitializers(inits: readonly FloatInitializer[], inputs: number): Mlp {
  if (inits.length < 2 || inits.length % 2 !== 0) throw new LearningError('E_LEARNING_MODEL', `global model: expected weight and bias pairs, got ${inits.length} float initializers`);
  const sizes = [inputs];
  for (let l = 0; l < inits.length / 2; l += 1) {
    const w = inits[2 * l] as FloatInitializer;
    const b = inits[2 * l + 1] as FloatInitializer;
    const fanIn = sizes[l] as number;
    const out = w.dims[0] ?? 0;
    if (w.dims.length !== 2 || w.dims[1] !== fanIn || b.dims.length !== 1 || b.dims[0] !== out || out < 1) {
      throw new LearningError('E_LEARNING_MODEL', `global model: layer ${l} is ${w.name} [${w.dims.join(', ')}], ${b.name} [${b.dims.join(', ')}]; expected [n, ${fanIn}] and [n]`);
    }
    sizes.push(out);
  }
  if (sizes[sizes.length - 1] !== inputs) throw new LearningError('E_LEARNING_MODEL', `global model: reconstructs ${String(sizes[sizes.length - 1])} values of ${inputs}`);
  const model = new Mlp(sizes, 0);
  const params = parametersOf(model);
  inits.forEach((t, k) => (params[k] as Float64Array).set(t.data));
  return model;
}

/** Windows standardised with the global model's mean and std, its channels picked from the stream's columns. */
function standardise(w: KeptWindows, indices: readonly number[], meta: AutoencoderMeta): Float64Array {
  const columns = meta.channels.map((ch) => w.channels.indexOf(ch));
  const from = w.channels.length;
  const c = columns.length;
  const dims = meta.windowSamples * c;
  const out = new Float64Array(indices.length * dims);
  indices.forEach((k, r) => {
    for (let t = 0; t < meta.windowSamples; t += 1) {
      for (let j = 0; j < c; j += 1) {
        const raw = w.data[k * meta.windowSamples * from + t * from + (columns[j] as number)] as number;
        out[r * dims + t * c + j] = (raw - (meta.mean[j] as number)) / (meta.std[j] as number);
      }
    }
  });
  return out;
}

/**
 * One federated round of the anomaly autoencoder on a gateway: the global model (its weights
 * from the ONNX initializers, its normalisation from its metadata, as the scorer uses it)
 * trained E epochs on the kept normal windows with the stage's trainer (Adam, FedProx's term
 * when mu is set), a share of the windows held out spread over the period; returns the delta
 * (local - global, float32, named and shaped as the global model's initializers), the training
 * windows' count, the held-out loss, and the held-out windows' log-error moments under the
 * global model (the fleet's calibration of its next release). Pure but for the event-loop yields of trainMlp.
 */
export async function trainAutoencoderRound(globalModel: Uint8Array, windows: KeptWindows, o: RoundTrainingOptions): Promise<LocalTrainingResult> {
  let meta: AutoencoderMeta;
  let inits: FloatInitializer[];
  try {
    meta = parseMeta(globalModel);
    inits = readFloatInitializers(globalModel);
  } catch (err) {
    throw new LearningError('E_LEARNING_MODEL', `global model: ${(err as Error).message}`, { cause: err });
  }
  const missing = meta.channels.filter((ch) => !windows.channels.includes(ch));
  if (missing.length > 0 || meta.windowSamples !== windows.windowSamples) {
    throw new LearningError('E_LEARNING_MODEL', `global model needs channels ${meta.channels.join(', ')} in windows of ${meta.windowSamples}; this stage keeps ${windows.channels.join(', ')} in windows of ${windows.windowSamples}`);
  }
  const global = mlpFromInitializers(inits, meta.windowSamples * meta.channels.length);
  const heldCount = windows.count < 2 || o.heldOutShare <= 0 ? 0 : Math.max(1, Math.floor(windows.count * o.heldOutShare));
  const { train, held } = heldCount === 0 ? { train: Array.from({ length: windows.count }, (_, k) => k), held: [] } : splitSpread(windows.positions, windows.count, heldCount, windows.windowSamples);
  if (train.length < MIN_TRAINING_WINDOWS) {
    throw new LearningError('E_LEARNING_NO_DATA', `${train.length} normal training windows kept (${windows.count} in all, ${held.length} held out); need at least ${MIN_TRAINING_WINDOWS}`);
  }
  // Measured before training (which starts from `global`): the fleet pools these into the
  // calibration of the model it releases, so they must describe the model every gateway had.
  const heldX = held.length === 0 ? null : standardise(windows, held, meta);
  const moments = heldX === null ? null : logErrorMoments(global, heldX, held.length);
  const x = standardise(windows, train, meta);
  let local: Mlp;
  try {
    ({ model: local } = await trainLocally(global, x, train.length, {
      epochs: o.localEpochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      optimiser: 'adam',
      seed: o.seed,
      ...(o.proximalMu === null ? {} : { proximalMu: o.proximalMu }),
      signal: o.signal,
    }));
  } catch (err) {
    if (o.signal.aborted) throw new LearningError('E_LEARNING_ABORTED', `training stopped: ${String((o.signal.reason as Error | undefined)?.message ?? o.signal.reason)}`, { cause: err });
    throw err;
  }
  const trained = parametersOf(local);
  const tensors: FloatTensor[] = inits.map((t, k) => {
    const p = trained[k] as Float64Array;
    const values = new Float32Array(p.length);
    // Against the float32 values the fleet holds, so global + delta is what this gateway trained.
    for (let j = 0; j < p.length; j += 1) values[j] = (p[j] as number) - (t.data[j] as number);
    return { name: t.name, shape: [...t.dims], values };
  });
  const validationLoss = heldX === null ? null : reconstructionLoss(local, heldX, held.length);
  const result = { tensors, samples: train.length, validationLoss };
  return moments === null ? result : { ...result, calibration: { n: moments.count, sum: moments.sum, sumSq: moments.sumSquares } };
}
