import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StrategyError, clipUpdate, l2Norm, type ModelUpdate } from '../../../../fleet/federated/strategies/index.js';
import { FLOAT32_MAX, shapeArb, updateArb } from './arbitraries.js';

const boundArb = fc.double({ min: 1e-6, max: 1e6, noNaN: true });
const anyUpdateArb = fc.oneof(shapeArb.chain((s) => updateArb(s, 1e3)), shapeArb.chain((s) => updateArb(s, FLOAT32_MAX)), shapeArb.chain((s) => updateArb(s, 1e-3)));

describe('update norm clipping', () => {
  it('never increases the norm, and never leaves it above the bound (property)', () => {
    fc.assert(
      fc.property(anyUpdateArb, boundArb, (update, bound) => {
        const { update: out, clipped, norm } = clipUpdate(update, bound);
        expect(norm).toBe(l2Norm(update.tensors));
        expect(l2Norm(out.tensors)).toBeLessThanOrEqual(norm);
        expect(l2Norm(out.tensors)).toBeLessThanOrEqual(bound);
        expect(clipped).toBe(norm > bound);
        out.tensors.forEach((t, k) => t.forEach((v, j) => expect(Math.abs(v)).toBeLessThanOrEqual(Math.abs(update.tensors[k]?.[j] as number))));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves an update within the bound as it is: the same object, not a copy (property)', () => {
    fc.assert(
      fc.property(anyUpdateArb, fc.double({ min: 1, max: 1e6, noNaN: true }), (update, factor) => {
        const norm = l2Norm(update.tensors);
        const result = clipUpdate(update, Math.max(1e-9, norm * factor));
        expect(result.clipped).toBe(false);
        expect(result.update).toBe(update);
      }),
      { numRuns: 300 },
    );
  });

  it('scales an update over the bound to just below it, keeping its direction and sample count (property)', () => {
    fc.assert(
      fc.property(
        shapeArb.chain((s) => updateArb(s, 1e3)).filter((u) => l2Norm(u.tensors) > 1e-3),
        fc.double({ min: 1e-3, max: 0.999, noNaN: true }),
        (update, share) => {
          const bound = l2Norm(update.tensors) * share;
          const { update: out, clipped } = clipUpdate(update, bound);
          expect(clipped).toBe(true);
          expect(out.samples).toBe(update.samples);
          // Within 2^-22 of the bound (the margin that keeps it from rounding above).
          expect(l2Norm(out.tensors)).toBeGreaterThan(bound * (1 - 2 ** -20));
          const scale = bound / l2Norm(update.tensors);
          out.tensors.forEach((t, k) => t.forEach((v, j) => expect(Math.abs(v - scale * (update.tensors[k]?.[j] as number))).toBeLessThanOrEqual(2 ** -21 * Math.abs(scale * (update.tensors[k]?.[j] as number)) + 1e-44)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a non-finite update and a bound that is not a positive finite number', () => {
    const ok: ModelUpdate = { tensors: [Float32Array.of(3, 4)], samples: 1 };
    expect(clipUpdate(ok, 5)).toEqual({ update: ok, clipped: false, norm: 5 });
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const e = (() => {
        try {
          clipUpdate({ tensors: [Float32Array.of(1), Float32Array.of(2, bad)], samples: 1 }, 1);
        } catch (error) {
          return error as StrategyError;
        }
        throw new Error('not refused');
      })();
      expect(e.code).toBe('E_FEDERATED_UPDATE');
      expect(e.message).toContain(`tensor 1, value 1 is ${String(bad)}`);
    }
    for (const bound of [0, -1, Number.NaN, Infinity, 1e-12]) {
      expect(() => clipUpdate(ok, bound)).toThrow(expect.objectContaining({ code: 'E_FEDERATED_TASK' }) as Error);
    }
  });
});
