import { describe, expect, it } from 'vitest';
import { mlpFromInitializers, trainAutoencoderRound, type KeptWindows } from '../../../models/anomaly/autoencoder/federated-round.js';
import { parseMeta, splitSpread, trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { NormalWindows } from '../../../models/anomaly/autoencoder/normal-windows.js';
import { readFloatInitializers } from '../../../models/onnx/initializers.js';
import { logErrorMoments } from '../../../models/train/log-error-moments.js';
import { reconstructionLoss, parametersOf } from '../../../models/train/mlp-parameters.js';
import { LearningError } from '../../../runtime/federated/learner.js';
import { MotorSignals, type MotorProfile } from '../../../sim/mcu/signals.js';

const RATE = 200;
const W = 16;
const CHANNELS = ['vibration', 'temperature', 'current'];

/** Normal running of one motor as the stage keeps it: a window every 8 samples, raw, time-major. */
function windowsOf(seed: number, seconds: number, profile?: Partial<MotorProfile>, from = 0): KeptWindows {
  const sig = new MotorSignals(seed, profile);
  const rows = seconds * RATE;
  const samples = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i += 1) samples.set(sig.sample(from + i, RATE), i * 3);
  const count = Math.floor((rows - W) / 8) + 1;
  const data = new Float64Array(count * W * 3);
  const positions = new Float64Array(count);
  for (let k = 0; k < count; k += 1) {
    data.set(samples.subarray(k * 8 * 3, (k * 8 + W) * 3), k * W * 3);
    positions[k] = from + k * 8;
  }
  return { data, count, positions, channels: CHANNELS, windowSamples: W };
}

async function globalModel(): Promise<Uint8Array> {
  const rows = 60 * RATE;
  const sig = new MotorSignals(1);
  const samples = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i += 1) samples.set(sig.sample(i, RATE), i * 3);
  // Trained briefly: a global model early in federated training, with room to learn.
  return (await trainAutoencoderModel(samples, rows, { channels: CHANNELS, windowSamples: W, stride: 4, hidden: [16, 4, 16], epochs: 2, batchSize: 64, learningRate: 0.003, seed: 2, heldOut: 0.2 })).bytes;
}

/** Windows `indices` of `w` standardised with the model's metadata, as the scorer sees them. */
function standardised(bytes: Uint8Array, w: KeptWindows, indices: readonly number[]): Float64Array {
  const meta = parseMeta(bytes);
  const dims = W * 3;
  const x = new Float64Array(indices.length * dims);
  indices.forEach((k, r) => {
    for (let i = 0; i < dims; i += 1) x[r * dims + i] = ((w.data[k * dims + i] as number) - (meta.mean[i % 3] as number)) / (meta.std[i % 3] as number);
  });
  return x;
}

/** The loss of the global model plus `delta` on windows standardised with the global model's metadata. */
function lossWith(bytes: Uint8Array, delta: readonly Float32Array[] | undefined, w: KeptWindows): number {
  const meta = parseMeta(bytes);
  const inits = readFloatInitializers(bytes);
  const model = mlpFromInitializers(inits, W * 3);
  if (delta !== undefined) parametersOf(model).forEach((p, k) => p.forEach((v, j) => (p[j] = Math.fround((inits[k]?.data[j] as number) + (delta[k]?.[j] as number)))));
  const x = new Float64Array(w.count * W * 3);
  for (let i = 0; i < x.length; i += 1) x[i] = ((w.data[i] as number) - (meta.mean[i % 3] as number)) / (meta.std[i % 3] as number);
  return reconstructionLoss(model, x, w.count);
}

describe('the anomaly autoencoder trained in a federated round on a gateway', () => {
  it('returns a delta named and shaped as the global model initializers that lowers the loss on held-out normal data of its motor', async () => {
    const bytes = await globalModel();
    // Another motor (its own seed and load) than the global model saw.
    const kept = windowsOf(7, 40, { loadMean: 0.8 });
    const result = await trainAutoencoderRound(bytes, kept, { localEpochs: 5, learningRate: 0.003, proximalMu: null, heldOutShare: 0.2, batchSize: 64, seed: 1, signal: new AbortController().signal });
    const inits = readFloatInitializers(bytes);
    expect(result.tensors.map((t) => [t.name, t.shape])).toEqual(inits.map((t) => [t.name, t.dims]));
    expect(result.tensors.every((t) => t.values instanceof Float32Array && t.values.every(Number.isFinite))).toBe(true);
    // 20% held out, and training windows overlapping a held-out one dropped (these overlap by half).
    expect(result.samples).toBeGreaterThan(0.3 * kept.count);
    expect(result.samples).toBeLessThan(0.8 * kept.count);
    expect(result.validationLoss).not.toBeNull();
    // Later running of the same motor, never kept.
    const unseen = windowsOf(7, 20, { loadMean: 0.8 }, 100_000);
    const before = lossWith(bytes, undefined, unseen);
    const after = lossWith(bytes, result.tensors.map((t) => t.values), unseen);
    expect(after).toBeLessThan(0.8 * before);
  }, 60_000);

  it('returns the log-error moments of its held-out windows under the global model (not the trained one), none when nothing is held out', async () => {
    const bytes = await globalModel();
    const kept = windowsOf(7, 20, { loadMean: 0.8 });
    const opts = { localEpochs: 3, learningRate: 0.003, proximalMu: null, heldOutShare: 0.2, batchSize: 64, seed: 1, signal: new AbortController().signal };
    const result = await trainAutoencoderRound(bytes, kept, opts);
    const { held } = splitSpread(kept.positions, kept.count, Math.floor(kept.count * 0.2), W);
    const global = mlpFromInitializers(readFloatInitializers(bytes), W * 3);
    const expected = logErrorMoments(global, standardised(bytes, kept, held), held.length);
    expect(result.calibration).toEqual({ n: expected.count, sum: expected.sum, sumSq: expected.sumSquares });
    expect(result.calibration?.n).toBe(held.length);
    // The trained model reconstructs these windows better: its moments would be another (lower) mean.
    const trained = mlpFromInitializers(readFloatInitializers(bytes).map((t, k) => ({ ...t, data: t.data.map((v, j) => v + (result.tensors[k]?.values[j] as number)) })), W * 3);
    const after = logErrorMoments(trained, standardised(bytes, kept, held), held.length);
    expect(after.sum / after.count).toBeLessThan(expected.sum / expected.count);
    const none = await trainAutoencoderRound(bytes, kept, { ...opts, heldOutShare: 0 });
    expect(none.calibration).toBeUndefined();
    expect(none.validationLoss).toBeNull();
  }, 60_000);

  it('keeps the model nearer the global one under FedProx (the delta shrinks as mu grows)', async () => {
    const bytes = await globalModel();
    const kept = windowsOf(7, 20, { loadMean: 0.8 });
    const norm = async (mu: number | null): Promise<number> => {
      const r = await trainAutoencoderRound(bytes, kept, { localEpochs: 3, learningRate: 0.003, proximalMu: mu, heldOutShare: 0.2, batchSize: 64, seed: 1, signal: new AbortController().signal });
      return Math.sqrt(r.tensors.reduce((s, t) => s + t.values.reduce((a, v) => a + v * v, 0), 0));
    };
    expect(await norm(10)).toBeLessThan(await norm(null));
  }, 60_000);

  it('refuses too little data, a model of other channels and an aborted round with LearningError codes', async () => {
    const bytes = await globalModel();
    const signal = new AbortController().signal;
    const opts = { localEpochs: 1, learningRate: 0.003, proximalMu: null, heldOutShare: 0.2, batchSize: 64, seed: 1, signal };
    const few = windowsOf(7, 0.25);
    expect(few.count).toBe(5);
    await expect(trainAutoencoderRound(bytes, few, opts)).rejects.toMatchObject({ code: 'E_LEARNING_NO_DATA' });
    const kept = windowsOf(7, 20);
    await expect(trainAutoencoderRound(bytes, { ...kept, channels: ['vibration', 'temperature', 'pressure'] }, opts)).rejects.toMatchObject({ code: 'E_LEARNING_MODEL', message: expect.stringMatching(/current/) as string });
    await expect(trainAutoencoderRound(Uint8Array.of(1, 2, 3), kept, opts)).rejects.toBeInstanceOf(LearningError);
    const abort = new AbortController();
    abort.abort(new Error('deadline'));
    await expect(trainAutoencoderRound(bytes, kept, { ...opts, localEpochs: 50, signal: abort.signal })).rejects.toMatchObject({ code: 'E_LEARNING_ABORTED', message: expect.stringMatching(/deadline/) as string });
  }, 60_000);

  it('keeps at most the reservoir size per stream, and trains on the streams with the common channel list', () => {
    const keep = new NormalWindows(64, 4, 1);
    const w = new Float64Array(4 * 3);
    for (let i = 0; i < 1000; i += 1) keep.offer('a', CHANNELS, w.fill(i), 4 * i);
    for (let i = 0; i < 10; i += 1) keep.offer('b', CHANNELS, w.fill(-i), 4 * i);
    for (let i = 0; i < 500; i += 1) keep.offer('c', ['x', 'y'], new Float64Array(8), 4 * i);
    // Windows that overlap the last one taken are passed over (rows 0, 4, 8, ... of 4-row windows: none overlap).
    keep.offer('b', CHANNELS, w, 37);
    expect(keep.size).toBe(64 + 10 + 64);
    const snap = keep.snapshot();
    expect(snap.channels).toEqual(CHANNELS);
    expect(snap.count).toBe(74);
    expect(snap.data.length).toBe(74 * 12);
  });
});
