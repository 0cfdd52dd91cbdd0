import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, type ModelUpdate } from '../../../../fleet/federated/strategies/index.js';
import { attackedRoundArb, honestRange, oneX100Round, outsideRange, permutationArb, roundArb } from './arbitraries.js';

const flat = (tensors: readonly Float32Array[]): number[] => tensors.flatMap((t) => [...t]);

describe('coordinate-wise median', () => {
  it('is the middle value of each coordinate, or the mean of the two middle ones (property)', () => {
    fc.assert(
      fc.property(roundArb(15), (updates) => {
        const out = flat(median.aggregate(updates, {}).tensors);
        const inputs = updates.map((u) => flat(u.tensors));
        out.forEach((v, j) => {
          const column = inputs.map((x) => x[j] as number).sort((a, b) => a - b);
          const n = column.length;
          const expected = n % 2 === 1 ? column[(n - 1) / 2] : Math.fround(((column[n / 2 - 1] as number) + (column[n / 2] as number)) / 2);
          expect(v === expected, `coordinate ${j}: ${v} vs ${expected}`).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('stays within the honest values\' range while fewer than half the updates are arbitrary (property)', () => {
    fc.assert(
      fc.property(
        // Mostly the most a median withstands: one fewer Byzantine update than honest ones.
        attackedRoundArb({ min: 1, max: 15 }, (honest) => fc.oneof({ arbitrary: fc.constant(honest - 1), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: honest - 1 }), weight: 1 })),
        (round) => {
          expect(outsideRange(median.aggregate(round.updates, {}).tensors, honestRange(round.honest))).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is not moved out of the honest range by an update scaled by 100', () => {
    const { updates, honest } = oneX100Round();
    expect(outsideRange(median.aggregate(updates, {}).tensors, honestRange(honest))).toEqual([]);
  });

  it('loses the guarantee at half: as many arbitrary updates as honest ones can drag it out', () => {
    const honest = [1, 2, 3].map((x) => ({ tensors: [Float32Array.of(x)], samples: 1 }));
    const bad = [1, 2, 3].map(() => ({ tensors: [Float32Array.of(1e30)], samples: 1 }));
    expect(median.aggregate([...honest, ...bad], {}).tensors[0]?.[0]).toBeGreaterThan(3);
  });

  it('answers +0, never -0, whatever order a column holding both zeros comes in (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, -0), { minLength: 1, maxLength: 9 }).chain((zeros) => fc.tuple(fc.constant(zeros), permutationArb(zeros.length))), ([zeros, order]) => {
        const updates: ModelUpdate[] = order.map((i) => ({ tensors: [Float32Array.of(zeros[i] as number)], samples: 1 }));
        expect(Object.is(median.aggregate(updates, {}).tensors[0]?.[0], 0)).toBe(true);
      }),
    );
  });
});
