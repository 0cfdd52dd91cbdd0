import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededUniformSource } from '../../../../fleet/federated/privacy/index.js';
import { FederatedRoundError, poissonSample } from '../../../../fleet/federated/round/index.js';
import { gateways } from './fixtures.js';

describe('Poisson sampling of a round', () => {
  it('draws a subset, the same for a seed whatever the order the ids were listed in (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/), { maxLength: 60 }), fc.double({ min: 0.001, max: 1, noNaN: true }), fc.nat(), (ids, q, seed) => {
        const drawn = poissonSample(ids, q, seededUniformSource(seed));
        expect(new Set(drawn).size).toBe(drawn.length);
        expect(drawn.every((id) => ids.includes(id))).toBe(true);
        expect(poissonSample([...ids].reverse(), q, seededUniformSource(seed))).toEqual(drawn);
        if (q === 1) expect(drawn.length).toBe(ids.length);
      }),
      { numRuns: 300 },
    );
  });

  it('draws each gateway independently with probability q: one coin per gateway, in sorted order', () => {
    // The k-th sorted gateway is drawn exactly when the k-th uniform is below q.
    const ids = gateways(20);
    const draws = Array.from({ length: 20 }, (_, k) => (k % 3 === 0 ? 0.29 : 0.31));
    let next = 0;
    const drawn = poissonSample([...ids].reverse(), 0.3, () => draws[next++] as number);
    expect(next).toBe(20);
    expect(drawn).toEqual(ids.filter((_, k) => k % 3 === 0));
  });

  it('has the Binomial(N, q) size and per-gateway frequency q over many rounds (seeded)', () => {
    const ids = gateways(50);
    const q = 0.2;
    const rounds = 4000;
    const random = seededUniformSource(42);
    const counts = new Map(ids.map((id) => [id, 0]));
    let sum = 0;
    let sumSq = 0;
    for (let r = 0; r < rounds; r += 1) {
      const drawn = poissonSample(ids, q, random);
      sum += drawn.length;
      sumSq += drawn.length ** 2;
      for (const id of drawn) counts.set(id, (counts.get(id) as number) + 1);
    }
    const mean = sum / rounds;
    const variance = sumSq / rounds - mean ** 2;
    // N q = 10, N q (1 - q) = 8; the mean's standard error is sqrt(8 / 4000) = 0.045.
    expect(Math.abs(mean - 10)).toBeLessThan(0.2);
    expect(Math.abs(variance - 8)).toBeLessThan(0.8);
    // Each gateway: frequency q with standard error sqrt(q (1 - q) / rounds) = 0.0063; 5 sigma.
    for (const c of counts.values()) expect(Math.abs(c / rounds - q)).toBeLessThan(0.032);
  });

  it('refuses an eligible list that is not distinct gateway ids, and a source out of [0, 1)', () => {
    const random = seededUniformSource(1);
    expect(() => poissonSample(['gw-1', 'gw-1'], 0.5, random)).toThrow(/"gw-1" is listed twice/);
    expect(() => poissonSample(['gw-1', 'a/b'], 0.5, random)).toThrow(/eligibleGateways\[1\]: expected a gateway id/);
    expect(() => poissonSample(gateways(10_001), 0.5, random)).toThrow(/10001 gateways, at most 10000/);
    expect(() => poissonSample(['gw-1'], 0.5, () => 1)).toThrow(FederatedRoundError);
    expect(() => poissonSample(['gw-1'], 0, random)).toThrow(/samplingShare/);
  });
});
