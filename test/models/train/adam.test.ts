import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAdamState, trainAutoencoder, trainMlp } from '../../../models/train/adam.js';
import { Mlp, meanSquaredError } from '../../../models/train/mlp.js';
import { seededRandom } from '../../../models/train/random.js';

const DIMS = 12;
const ROWS = 40;

function data(seed: number): Float64Array {
  const r = seededRandom(seed);
  return Float64Array.from({ length: ROWS * DIMS }, (_, i) => Math.sin(i * 0.7 + r()) + 0.1 * r());
}

function batches(x: Float64Array) {
  return (indices: readonly number[]) => {
    const b = new Float64Array(indices.length * DIMS);
    indices.forEach((row, k) => b.set(x.subarray(row * DIMS, (row + 1) * DIMS), k * DIMS));
    return { x: b, loss: (out: Float64Array) => meanSquaredError(out, b) };
  };
}

const weights = (m: Mlp): number[] => m.layers.flatMap((l) => [...l.w, ...l.b]);
const options = { epochs: 3, batchSize: 8, learningRate: 0.01, seed: 5 };

describe('Adam across calls and with a caller\'s own gradient term', () => {
  it('without a state or hook, trains as it did before they existed, bit for bit', async () => {
    const { model } = await trainAutoencoder(data(1), ROWS, DIMS, { ...options, hidden: [6], seed: 3 });
    // SHA-256 of the float64 weights that the trainer before these options made from the same data and seed
    // (pinned again when the dense loops of models/train/mlp.ts changed the order of their sums, in the last bits).
    const bytes = new Uint8Array(Float64Array.from(weights(model)).buffer);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('00d2984574288e62df07c5222f42a08aa0869fa64f470bb80b0ffd21a357d21b');
  });

  it('carries its moments and step count over in a state the caller keeps', async () => {
    const x = data(2);
    const kept = new Mlp([DIMS, 6, DIMS], 3);
    const state = createAdamState(kept);
    await trainMlp(kept, ROWS, { ...options, state }, batches(x));
    expect(state.step).toBe(3 * Math.ceil(ROWS / 8));
    expect(state.v.some((t) => t.w.some((v) => v > 0))).toBe(true);
    const fresh = new Mlp([DIMS, 6, DIMS], 3);
    await trainMlp(fresh, ROWS, options, batches(x));
    // The first call with a new state is the fresh run; the second continues it, unlike a fresh start.
    expect(weights(kept)).toEqual(weights(fresh));
    const continued = new Mlp([DIMS, 6, DIMS], 3);
    continued.layers.forEach((l, i) => (l.w.set(kept.layers[i]!.w), l.b.set(kept.layers[i]!.b)));
    const restarted = new Mlp([DIMS, 6, DIMS], 3);
    restarted.layers.forEach((l, i) => (l.w.set(kept.layers[i]!.w), l.b.set(kept.layers[i]!.b)));
    await trainMlp(continued, ROWS, { ...options, state }, batches(x));
    await trainMlp(restarted, ROWS, options, batches(x));
    expect(state.step).toBe(6 * Math.ceil(ROWS / 8));
    expect(weights(continued)).not.toEqual(weights(restarted));
    await expect(trainMlp(new Mlp([DIMS, 5, DIMS], 1), ROWS, { ...options, state }, batches(x))).rejects.toThrow(/another network shape/);
  });

  it('lets the caller change each batch\'s gradients before the step (zeroed: the weights stay)', async () => {
    const model = new Mlp([DIMS, 6, DIMS], 3);
    const before = weights(model);
    let calls = 0;
    await trainMlp(model, ROWS, { ...options, beforeStep: (g) => {
      calls += 1;
      for (const t of [...g.w, ...g.b]) t.fill(0);
    } }, batches(data(3)));
    expect(calls).toBe(3 * Math.ceil(ROWS / 8));
    expect(weights(model)).toEqual(before);
  });
});
