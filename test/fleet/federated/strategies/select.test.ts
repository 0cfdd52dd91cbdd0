import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxOf, selectInPlace } from '../../../../fleet/federated/strategies/select.js';

describe('quickselect', () => {
  it('puts the k-th smallest value at k, smaller before and larger after, within the range only (property)', () => {
    // Few distinct values as often as many: duplicates are what partitioning gets wrong.
    const values = fc.oneof(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 80 }), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 80 }));
    fc.assert(
      fc.property(
        values.chain((v) => fc.tuple(fc.constant(v), fc.nat(v.length - 1), fc.nat(v.length - 1), fc.nat(v.length - 1), fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }))),
        ([v, x, y, kRaw, rounds]) => {
          const lo = Math.min(x, y);
          const hi = Math.max(x, y);
          const k = lo + (kRaw % (hi - lo + 1));
          const a = Float32Array.from(v);
          // A small budget of rounds takes the fallback (sorting the rest) part of the way.
          if (rounds === undefined) selectInPlace(a, lo, hi, k);
          else selectInPlace(a, lo, hi, k, rounds);
          const sorted = v.slice(lo, hi + 1).sort((p, q) => p - q);
          expect(a[k]).toBe(sorted[k - lo]);
          for (let i = lo; i < k; i += 1) expect(a[i]).toBeLessThanOrEqual(a[k] as number);
          for (let i = k + 1; i <= hi; i += 1) expect(a[i]).toBeGreaterThanOrEqual(a[k] as number);
          expect([...a.slice(lo, hi + 1)].sort((p, q) => p - q)).toEqual(sorted);
          expect([...a.slice(0, lo), ...a.slice(hi + 1)]).toEqual([...v.slice(0, lo), ...v.slice(hi + 1)]);
          expect(maxOf(a, lo, hi)).toBe(sorted[sorted.length - 1]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
