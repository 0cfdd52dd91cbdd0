import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { proximalGradient, proximalTerm } from '../../../models/train/proximal.js';

const tensorsArb = (shape: readonly number[]): fc.Arbitrary<Float64Array[]> => fc.tuple(...shape.map((n) => fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }).map((v) => Float64Array.from(v))));
const pairArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }).chain((shape) => fc.tuple(tensorsArb(shape), tensorsArb(shape)));
const muArb = fc.double({ min: 1e-3, max: 10, noNaN: true });

describe('FedProx\'s proximal term (applied on the gateway)', () => {
  it('has the gradient mu (w - w_global), which matches finite differences of mu/2 ||w - w_global||^2 (property)', () => {
    fc.assert(
      fc.property(pairArb, muArb, ([w, g], mu) => {
        const grad = proximalGradient(w, g, mu);
        const h = 1e-4;
        w.forEach((t, k) =>
          t.forEach((x, j) => {
            t[j] = x + h;
            const up = proximalTerm(w, g, mu);
            t[j] = x - h;
            const down = proximalTerm(w, g, mu);
            t[j] = x;
            const numeric = (up - down) / (2 * h);
            expect(Math.abs(numeric - (grad[k]?.[j] as number))).toBeLessThan(1e-5 * (1 + Math.abs(numeric)) + 1e-9 * Math.abs(up));
          }),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('is zero at the global model, and a small step against its gradient brings the weights closer (property)', () => {
    fc.assert(
      fc.property(pairArb, muArb, ([w, g], mu) => {
        expect(proximalTerm(g, g, mu)).toBe(0);
        const before = proximalTerm(w, g, mu);
        const grad = proximalGradient(w, g, mu);
        const lr = 0.5 / mu;
        const stepped = w.map((t, k) => t.map((x, j) => x - lr * (grad[k]?.[j] as number)));
        expect(proximalTerm(stepped, g, mu)).toBeLessThanOrEqual(before);
      }),
      { numRuns: 100 },
    );
  });

  it('changes neither input, and refuses tensors of other shapes or a bad mu', () => {
    const w = [Float64Array.of(1, 2), Float64Array.of(3)];
    const g = [Float64Array.of(0, 0), Float64Array.of(1)];
    expect(proximalGradient(w, g, 0.5)).toEqual([Float64Array.of(0.5, 1), Float64Array.of(1)]);
    expect(proximalTerm(w, g, 0.5)).toBe(0.25 * (1 + 4 + 4));
    expect(w).toEqual([Float64Array.of(1, 2), Float64Array.of(3)]);
    expect(g).toEqual([Float64Array.of(0, 0), Float64Array.of(1)]);
    expect(() => proximalGradient(w, [Float64Array.of(0, 0)], 1)).toThrow(/2 weight tensors against 1 of the global model/);
    expect(() => proximalTerm(w, [Float64Array.of(0), Float64Array.of(1)], 1)).toThrow(/tensor 0 has 2 values, the global model's has 1/);
    expect(() => proximalTerm(w, g, Number.NaN)).toThrow(/mu must be a finite number/);
    // Float32 tensors (as a dequantised global model) work the same.
    expect(proximalGradient([Float32Array.of(1)], [Float32Array.of(0.5)], 2)).toEqual([Float64Array.of(1)]);
  });
});
