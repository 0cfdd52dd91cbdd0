import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fedAvg, fedProx, type ModelUpdate } from '../../../../fleet/federated/strategies/index.js';
import { attackedRoundArb, closeAsFloat32, honestRange, oneX100Round, outsideRange, roundArb } from './arbitraries.js';

const flat = (tensors: readonly Float32Array[]): number[] => tensors.flatMap((t) => [...t]);

describe('weighted FedAvg', () => {
  it('equals the sample-weighted mean of the updates (property)', () => {
    fc.assert(
      fc.property(roundArb(12), (updates) => {
        const out = flat(fedAvg.aggregate(updates, {}).tensors);
        const total = updates.reduce((n, u) => n + u.samples, 0);
        const inputs = updates.map((u) => flat(u.tensors));
        const scale = Math.max(...inputs.flat().map(Math.abs));
        out.forEach((v, j) => {
          // The definition, summed the other way round: sum_i (n_i / N) u_i.
          const reference = Math.fround(inputs.reduceRight((s, x, i) => s + ((updates[i] as ModelUpdate).samples / total) * (x[j] as number), 0));
          expect(closeAsFloat32(v, reference, scale), `coordinate ${j}: ${v} vs ${reference}`).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('counts an update from k times the samples as k updates (property)', () => {
    fc.assert(
      fc.property(roundArb(6), fc.integer({ min: 2, max: 5 }), (updates, k) => {
        const [first, ...rest] = updates as [ModelUpdate, ...ModelUpdate[]];
        const weighted = fedAvg.aggregate([{ tensors: first.tensors, samples: first.samples * k }, ...rest], {});
        const repeated = fedAvg.aggregate([...Array.from({ length: k }, () => first), ...rest], {});
        const scale = Math.max(...updates.flatMap((u) => flat(u.tensors)).map(Math.abs));
        flat(weighted.tensors).forEach((v, j) => expect(closeAsFloat32(v, flat(repeated.tensors)[j] as number, scale)).toBe(true));
      }),
      { numRuns: 100 },
    );
  });

  it('IS ruined by a single update scaled by 100: the result leaves the honest updates\' range', () => {
    const { updates, honest } = oneX100Round();
    const outside = outsideRange(fedAvg.aggregate(updates, {}).tensors, honestRange(honest));
    // Every coordinate: the mean moves by about 99/11 of the honest value, far outside +-0.05.
    expect(outside).toHaveLength(23);
  });

  it('is pulled out of the honest range by any one update scaled by +-100 (property)', () => {
    fc.assert(
      fc.property(
        attackedRoundArb({ min: 2, max: 20 }, () => fc.constant(1)).filter((r) => r.attack === 'x100' || r.attack === 'sign-flip-x100'),
        (round) => {
          // A hostile gateway claims the sample count it likes: here the largest honest one. (With
          // the count of the update it copied, an attacker copying a 1-sample update among
          // 1000-sample ones weighs too little to leave the range: a run in a few found that.)
          const most = Math.max(...round.honest.map((u) => u.samples));
          const updates = round.updates.map((u, i) => (round.byzantine.has(i) ? { ...u, samples: most } : u));
          expect(outsideRange(fedAvg.aggregate(updates, {}).tensors, honestRange(round.honest)).length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('FedProx on the fleet', () => {
  it('is FedAvg bit for bit: the proximal term acts on the gateways (property)', () => {
    fc.assert(
      fc.property(roundArb(12), fc.double({ min: 1e-4, max: 10, noNaN: true }), (updates, mu) => {
        expect(fedProx.aggregate(updates, { mu }).tensors).toEqual(fedAvg.aggregate(updates, {}).tensors);
      }),
      { numRuns: 100 },
    );
  });
});
