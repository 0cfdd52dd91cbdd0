import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mlp } from '../../../models/train/mlp.js';
import { trainAutoencoder } from '../../../models/train/adam.js';
import { seededRandom } from '../../../models/train/random.js';

describe('the on-device MLP trainer', () => {
  it('computes gradients that match finite differences (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 9 }), (seed, rows, dims, hidden) => {
        // Rows and widths on both sides of the dense loops' blocks of four.
        const model = new Mlp([dims, hidden, dims + 1, dims], seed);
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

  it('computes the same outputs and gradients as plain textbook loops, and a row\'s output does not depend on its batch (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 11 }), fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 13 }), (seed, rows, hidden, dims) => {
        const model = new Mlp([dims, ...hidden, dims], seed);
        const random = seededRandom(seed + 7);
        const x = Float64Array.from({ length: rows * dims }, () => random() * 2 - 1);
        const want = plainLossAndGradients(model, x, rows);
        const got = model.lossAndGradients(x, x, rows);
        const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-12 * (1 + Math.abs(b));
        expect(close(got.loss, want.loss)).toBe(true);
        model.layers.forEach((_, l) => {
          expect([...(got.grads.w[l] as Float64Array)].every((g, i) => close(g, want.w[l]![i]!))).toBe(true);
          expect([...(got.grads.b[l] as Float64Array)].every((g, i) => close(g, want.b[l]![i]!))).toBe(true);
        });
        const batch = model.predict(x, rows);
        for (let r = 0; r < rows; r += 1) expect([...model.predict(x.slice(r * dims, (r + 1) * dims), 1)]).toEqual([...batch.subarray(r * dims, (r + 1) * dims)]);
      }),
      { numRuns: 80 },
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

/** Mean squared error of reconstructing x and its gradients, written as plainly as possible: the reference for the fast loops. */
function plainLossAndGradients(model: Mlp, x: Float64Array, rows: number): { loss: number; w: number[][]; b: number[][] } {
  const acts: number[][] = [[...x]];
  model.layers.forEach((layer, l) => {
    const a = acts[l]!;
    const out: number[] = [];
    for (let r = 0; r < rows; r += 1) {
      for (let o = 0; o < layer.outputs; o += 1) {
        let s = layer.b[o]!;
        for (let i = 0; i < layer.inputs; i += 1) s += layer.w[o * layer.inputs + i]! * a[r * layer.inputs + i]!;
        out.push(l === model.layers.length - 1 ? s : Math.tanh(s));
      }
    }
    acts.push(out);
  });
  const y = acts.at(-1)!;
  let loss = 0;
  let delta = y.map((v, i) => {
    loss += (v - x[i]!) ** 2;
    return (2 * (v - x[i]!)) / y.length;
  });
  const w = model.layers.map((l) => new Array<number>(l.w.length).fill(0));
  const b = model.layers.map((l) => new Array<number>(l.b.length).fill(0));
  for (let l = model.layers.length - 1; l >= 0; l -= 1) {
    const layer = model.layers[l]!;
    const input = acts[l]!;
    const below = new Array<number>(rows * layer.inputs).fill(0);
    for (let r = 0; r < rows; r += 1) {
      for (let o = 0; o < layer.outputs; o += 1) {
        const d = delta[r * layer.outputs + o]!;
        b[l]![o]! += d;
        for (let i = 0; i < layer.inputs; i += 1) {
          w[l]![o * layer.inputs + i]! += d * input[r * layer.inputs + i]!;
          below[r * layer.inputs + i]! += d * layer.w[o * layer.inputs + i]!;
        }
      }
    }
    delta = below.map((d, i) => d * (1 - input[i]! ** 2));
  }
  return { loss: loss / y.length, w, b };
}
