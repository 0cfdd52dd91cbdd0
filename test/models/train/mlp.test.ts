import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mlp } from '../../../models/train/mlp.js';
import { trainAutoencoder } from '../../../models/train/adam.js';
import { seededRandom } from '../../../models/train/random.js';

describe('the on-device MLP trainer', () => {
  it('computes gradients that match finite differences (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 4 }), (seed, rows, dims, hidden) => {
        const model = new Mlp([dims, hidden, dims], seed);
        const random = seededRandom(seed + 1);
        const x = Float64Array.from({ length: rows * dims }, () => random() * 2 - 1);
        const { grads } = model.lossAndGradients(x, x, rows);
        const h = 1e-6;
        model.layers.forEach((layer, l) => {
          for (const [params, grad] of [
            [layer.w, grads.w[l]],
            [layer.b, grads.b[l]],
          ] as [Float64Array, Float64Array][]) {
            for (let i = 0; i < params.length; i += 1) {
              const keep = params[i] as number;
              params[i] = keep + h;
              const up = model.lossAndGradients(x, x, rows).loss;
              params[i] = keep - h;
              const down = model.lossAndGradients(x, x, rows).loss;
              params[i] = keep;
              const numeric = (up - down) / (2 * h);
              expect(Math.abs(numeric - (grad[i] as number))).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
            }
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic from its seed, and learns', async () => {
    const random = seededRandom(5);
    const rows = 256;
    const dims = 8;
    // Points on a 2-D subspace of 8-D: an autoencoder with a bottleneck of 2 can learn them.
    const data = new Float64Array(rows * dims);
    for (let r = 0; r < rows; r += 1) {
      const a = random() * 2 - 1;
      const b = random() * 2 - 1;
      for (let d = 0; d < dims; d += 1) data[r * dims + d] = 0.5 * Math.sin(d) * a + 0.5 * Math.cos(d) * b;
    }
    const options = { hidden: [6, 2, 6], epochs: 60, batchSize: 32, learningRate: 0.01, seed: 42 };
    const first = await trainAutoencoder(data, rows, dims, options);
    const second = await trainAutoencoder(data, rows, dims, options);
    expect(first.losses).toEqual(second.losses);
    expect(Array.from(first.model.layers[0]?.w ?? [])).toEqual(Array.from(second.model.layers[0]?.w ?? []));
    expect(first.losses[first.losses.length - 1] as number).toBeLessThan((first.losses[0] as number) / 10);
  });
});
