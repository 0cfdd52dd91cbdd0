import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STRATEGY_LIMITS, StrategyError, multiKrum, type ModelUpdate } from '../../../../fleet/federated/strategies/index.js';
import { attackedRoundArb, honestRange, oneX100Round, outsideRange } from './arbitraries.js';

const flat = (u: ModelUpdate): number[] => u.tensors.flatMap((t) => [...t]);
const squaredDistance = (a: number[], b: number[]): number => a.reduce((s, x, j) => s + (x - (b[j] as number)) ** 2, 0);

/** A round with f Byzantine updates (f >= 1) and n > 2f + 2; `f` is what the task declares. */
const krumRoundArb = fc
  .integer({ min: 1, max: 4 })
  .chain((f) => attackedRoundArb({ min: f + 3, max: f + 12 }, () => fc.oneof({ arbitrary: fc.constant(f), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: f }), weight: 1 })).map((round) => ({ round, f })))
  .filter(({ round, f }) => round.updates.length > 2 * f + 2);

describe('multi-Krum', () => {
  it('never selects an update farther from every honest one than the honest ones are from each other, times n - f - 2 (property)', () => {
    fc.assert(
      fc.property(krumRoundArb, fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), ({ round, f }, mRaw) => {
        const n = round.updates.length;
        const m = mRaw === undefined ? undefined : 1 + (mRaw % (n - f));
        const out = multiKrum.aggregate(round.updates, m === undefined ? { byzantineClients: f } : { byzantineClients: f, selectedUpdates: m });
        expect(out.selected).toHaveLength(m ?? n - f);
        expect(new Set(out.selected).size).toBe(out.selected?.length);
        // Krum's argument: an honest update's score is at most (n - f - 2) times the largest
        // honest distance; an update farther than that from every honest one counts at least
        // one such distance among its n - f - 2 nearest (only f - 1 other Byzantine ones to hide
        // among). Those "far" ones must never be chosen.
        const honest = round.honest.map(flat);
        let spread = 0;
        for (const a of honest) for (const b of honest) spread = Math.max(spread, squaredDistance(a, b));
        const far = [...round.byzantine].filter((i) => Math.min(...honest.map((h) => squaredDistance(flat(round.updates[i] as ModelUpdate), h))) > (n - f - 2) * spread);
        if (round.attack !== 'arbitrary') expect(far).toHaveLength(round.byzantine.size);
        for (const i of far) expect(out.selected).not.toContain(i);
        if (far.length === round.byzantine.size) expect(outsideRange(out.tensors, honestRange(round.honest))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves out an update scaled by 100 and stays within the honest range', () => {
    const { updates, honest, byzantine } = oneX100Round();
    const out = multiKrum.aggregate(updates, { byzantineClients: 2 });
    expect(out.selected).toHaveLength(9);
    expect(out.selected).not.toContain(byzantine);
    expect(outsideRange(out.tensors, honestRange(honest))).toEqual([]);
  });

  it('is fooled past its limit: colluding updates that outnumber the honest ones are all it picks', () => {
    // n = 7, f = 1 declared, but 4 identical Byzantine updates: each has three others at
    // distance 0 among its n - f - 2 = 4 nearest, while an honest one has two far ones.
    const honest = [0.9, 1, 1.1].map((x) => ({ tensors: [Float32Array.of(x, x)], samples: 1 }));
    const colluding = Array.from({ length: 4 }, () => ({ tensors: [Float32Array.of(-100, -100)], samples: 1 }));
    const out = multiKrum.aggregate([...honest, ...colluding], { byzantineClients: 1, selectedUpdates: 3 });
    expect(out.selected).toEqual([3, 4, 5]);
    expect(out.tensors[0]?.[0]).toBe(-100);
  });

  it('refuses n <= 2f + 2 updates, saying why, and takes 2f + 3', () => {
    const updates = (n: number): ModelUpdate[] => Array.from({ length: n }, (_, i) => ({ tensors: [Float32Array.of(i, -i)], samples: 1 }));
    for (const f of [1, 2, 5]) {
      try {
        multiKrum.aggregate(updates(2 * f + 2), { byzantineClients: f });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(StrategyError);
        expect((e as StrategyError).code).toBe('E_FEDERATED_TASK');
        expect((e as StrategyError).message).toBe(
          `multi-krum: ${2 * f + 2} updates are too few for byzantineClients ${f}: Krum needs n > 2f + 2 = ${2 * f + 2} (Blanchard et al. 2017); the round should not have closed below minClients`,
        );
      }
      expect(multiKrum.aggregate(updates(2 * f + 3), { byzantineClients: f }).selected).toHaveLength(f + 3);
    }
  });

  it('refuses to select more than n - f updates, and more updates than its distance table is bounded for', () => {
    const updates = Array.from({ length: 7 }, (_, i) => ({ tensors: [Float32Array.of(i)], samples: 1 }));
    expect(() => multiKrum.aggregate(updates, { byzantineClients: 2, selectedUpdates: 6 })).toThrow(/selectedUpdates must be an integer from 1 to n - f = 5, got 6/);
    const many = Array.from({ length: STRATEGY_LIMITS.maxKrumUpdates + 1 }, () => ({ tensors: [Float32Array.of(0)], samples: 1 }));
    expect(() => multiKrum.aggregate(many, { byzantineClients: 1 })).toThrow(/2001 updates is more than this rule takes at once \(2000\)/);
  });

  it('averages the selected updates with equal weight, whatever samples they claim', () => {
    const updates = [0, 1, 2, 3, 4].map((x) => ({ tensors: [Float32Array.of(x)], samples: x === 4 ? 1_000_000 : 1 }));
    const out = multiKrum.aggregate(updates, { byzantineClients: 1, selectedUpdates: 5 - 1 });
    expect(out.tensors[0]?.[0]).toBe(((out.selected ?? []).reduce((s, i) => s + i, 0)) / 4);
  });
});
