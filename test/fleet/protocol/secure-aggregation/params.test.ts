import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SHARE_HOLDERS, planRound, SecureAggregationError } from '../../../../fleet/protocol/secure-aggregation/index.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `gw-${i}`);
const base = { round: 'r1', clients: ids(5), threshold: 3, vectorLength: 10, graph: { type: 'complete' } };

describe('secure round parameters', () => {
  it('take a threshold from a majority of each client\'s share holders (and at least 2) up to all of them', () => {
    expect(planRound(base).threshold).toBe(3);
    expect(() => planRound({ ...base, threshold: 2 })).toThrow(expect.objectContaining({ code: 'E_SECAGG', reason: 'invalid-params', message: expect.stringMatching(/threshold: expected an integer from 3/) as unknown }));
    expect(() => planRound({ ...base, threshold: 6 })).toThrow(SecureAggregationError);
    expect(planRound({ ...base, clients: ids(2), threshold: 2 }).clients).toEqual(['gw-0', 'gw-1']);
    // Harary graph of degree 4: 5 holders per client, whatever the number of clients.
    const seed = new Uint8Array(32);
    expect(planRound({ ...base, clients: ids(40), threshold: 3, graph: { type: 'harary', degree: 4, seed } }).holders('gw-7')).toHaveLength(5);
    expect(() => planRound({ ...base, clients: ids(40), threshold: 21, graph: { type: 'harary', degree: 4, seed } })).toThrow(/threshold/);
  });

  it('refuse a complete graph with more share holders than GF(2^8) sharing allows, and odd or too large degrees', () => {
    expect(() => planRound({ ...base, clients: ids(MAX_SHARE_HOLDERS + 1), threshold: 200 })).toThrow(/use a harary graph/);
    const seed = new Uint8Array(32);
    expect(() => planRound({ ...base, graph: { type: 'harary', degree: 3, seed } })).toThrow(/graph.degree/);
    expect(() => planRound({ ...base, graph: { type: 'harary', degree: 6, seed } })).toThrow(/graph.degree/);
    expect(() => planRound({ ...base, graph: { type: 'harary', degree: 4, seed: new Uint8Array(31) } })).toThrow(/graph.seed/);
    expect(() => planRound({ ...base, clients: ['gw-0', 'gw-0', 'gw-1'] })).toThrow(/listed twice/);
    expect(() => planRound({ ...base, clients: ['gw 0', 'gw-1', 'gw-2'] })).toThrow(/clients\[0\]/);
  });

  it('never throw anything but E_SECAGG on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true }), (value) => {
        try {
          planRound(value);
        } catch (err) {
          expect(err).toMatchObject({ code: 'E_SECAGG', reason: 'invalid-params' });
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('give every client the same neighbours whatever order the clients are listed in: symmetric, k-regular, from the seed', () => {
    const harary = fc.integer({ min: 3, max: 60 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        degree: fc.integer({ min: 1, max: Math.floor((n - 1) / 2) }).map((h) => 2 * h),
        seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        order: fc.shuffledSubarray(ids(n), { minLength: n, maxLength: n }),
      }),
    );
    fc.assert(
      fc.property(harary, ({ n, degree, seed, order }) => {
        const threshold = Math.floor((degree + 1) / 2) + 1;
        const a = planRound({ round: 'r', clients: ids(n), threshold, vectorLength: 1, graph: { type: 'harary', degree, seed } });
        const b = planRound({ round: 'r', clients: order, threshold, vectorLength: 1, graph: { type: 'harary', degree, seed } });
        for (const c of a.clients) {
          expect(a.neighbours(c)).toHaveLength(degree);
          expect(a.neighbours(c)).not.toContain(c);
          expect(b.neighbours(c)).toEqual(a.neighbours(c));
          for (const v of a.neighbours(c)) expect(a.isNeighbour(v, c)).toBe(true);
          expect(a.holders(c)).toEqual([...a.neighbours(c), c].sort());
        }
      }),
      { numRuns: 100 },
    );
  });

  it('draw another graph for another seed or round (the shuffle is not the identity)', () => {
    const plan = (round: string, fill: number) => planRound({ round, clients: ids(30), threshold: 3, vectorLength: 1, graph: { type: 'harary', degree: 4, seed: new Uint8Array(32).fill(fill) } });
    const edges = (p: ReturnType<typeof plan>) => p.clients.map((c) => p.neighbours(c).join(',')).join(';');
    expect(edges(plan('r1', 1))).toBe(edges(plan('r1', 1)));
    expect(edges(plan('r1', 1))).not.toBe(edges(plan('r1', 2)));
    expect(edges(plan('r1', 1))).not.toBe(edges(plan('r2', 1)));
    // Not a plain ring over the sorted ids either.
    const sorted = ids(30).sort();
    const plainRing = [sorted[1], sorted[2], sorted[28], sorted[29]].sort();
    expect(plan('r1', 1).neighbours(sorted[0]!)).not.toEqual(plainRing);
  });
});
