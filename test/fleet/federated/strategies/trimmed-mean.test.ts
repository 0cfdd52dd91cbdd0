import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StrategyError, fedAvg, trimmedMean, trimmedPerSide } from '../../../../fleet/federated/strategies/index.js';
import { attackedRoundArb, closeAsFloat32, honestRange, oneX100Round, outsideRange, roundArb } from './arbitraries.js';

const flat = (tensors: readonly Float32Array[]): number[] => tensors.flatMap((t) => [...t]);
const trimShareArb = fc.double({ min: 0, max: 0.49, noNaN: true });

describe('coordinate-wise trimmed mean', () => {
  it('drops floor(beta n) values from each end of every coordinate and averages the rest (property)', () => {
    fc.assert(
      fc.property(roundArb(20), trimShareArb, (updates, trimShare) => {
        const out = flat(trimmedMean.aggregate(updates, { trimShare }).tensors);
        const inputs = updates.map((u) => flat(u.tensors));
        const n = updates.length;
        const k = Math.floor(trimShare * n + 1e-9);
        out.forEach((v, j) => {
          const kept = inputs.map((x) => x[j] as number).sort((a, b) => a - b).slice(k, n - k);
          const expected = kept.reduce((s, x) => s + x, 0) / kept.length;
          expect(closeAsFloat32(v, expected, Math.max(...kept.map(Math.abs))), `coordinate ${j}: ${v} vs ${expected}`).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('with no trimming is the plain mean: FedAvg with equal sample counts (property)', () => {
    fc.assert(
      fc.property(roundArb(20), (updates) => {
        const out = flat(trimmedMean.aggregate(updates, { trimShare: 0 }).tensors);
        const mean = flat(fedAvg.aggregate(updates.map((u) => ({ tensors: u.tensors, samples: 1 })), {}).tensors);
        const scale = Math.max(...updates.flatMap((u) => flat(u.tensors)).map(Math.abs));
        out.forEach((v, j) => expect(closeAsFloat32(v, mean[j] as number, scale), `coordinate ${j}: ${v} vs ${mean[j]}`).toBe(true));
      }),
      { numRuns: 200 },
    );
  });

  it('stays within the honest values\' range while at most floor(beta n) updates are arbitrary (property)', () => {
    const arb = trimShareArb
      .filter((b) => b >= 0.05)
      .chain((trimShare) =>
        // Enough honest updates that beta n trims at least one: otherwise no attack is allowed.
        attackedRoundArb({ min: Math.ceil(1 / trimShare), max: Math.ceil(1 / trimShare) + 20 }, (honest) => {
          // The most Byzantine updates b with b <= floor(beta (honest + b)), and mostly that many.
          let most = 0;
          while (most + 1 <= trimmedPerSide(trimShare, honest + most + 1)) most += 1;
          return fc.oneof({ arbitrary: fc.constant(most), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: most }), weight: 1 });
        }).map((round) => ({ round, trimShare })),
      );
    fc.assert(
      fc.property(arb, ({ round, trimShare }) => {
        expect(round.byzantine.size).toBeLessThanOrEqual(trimmedPerSide(trimShare, round.updates.length));
        expect(outsideRange(trimmedMean.aggregate(round.updates, { trimShare }).tensors, honestRange(round.honest))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('is not moved out of the honest range by an update scaled by 100 (trimShare 0.1 of 11 trims one per side)', () => {
    const { updates, honest } = oneX100Round();
    expect(outsideRange(trimmedMean.aggregate(updates, { trimShare: 0.1 }).tensors, honestRange(honest))).toEqual([]);
  });

  it('loses the guarantee past floor(beta n): one arbitrary update more than it trims drags it out', () => {
    const honest = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => ({ tensors: [Float32Array.of(x)], samples: 1 }));
    const bad = [1, 2].map(() => ({ tensors: [Float32Array.of(1e30)], samples: 1 }));
    // n = 10, beta = 0.1: one trimmed per side, two huge updates.
    expect(trimmedMean.aggregate([...honest, ...bad], { trimShare: 0.1 }).tensors[0]?.[0]).toBeGreaterThan(8);
  });

  it('counts trimmed updates as floor(beta n), even where beta n is a rounding error below an integer', () => {
    expect(0.29 * 100).toBeLessThan(29);
    expect(trimmedPerSide(0.29, 100)).toBe(29);
    expect(trimmedPerSide(0.1, 10)).toBe(1);
    expect(trimmedPerSide(0.1, 9)).toBe(0);
    expect(trimmedPerSide(0.49, 3)).toBe(1);
  });

  it('refuses a trim share outside [0, 0.5)', () => {
    const updates = [{ tensors: [Float32Array.of(1)], samples: 1 }];
    for (const trimShare of [-0.1, 0.5, 0.7, Number.NaN]) {
      expect(() => trimmedMean.aggregate(updates, { trimShare })).toThrow(StrategyError);
    }
  });
});
