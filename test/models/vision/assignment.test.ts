import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, type Pair } from '../../../models/vision/assignment.js';

type Cost = (number | undefined)[][];

/** Every one-to-one set of allowed pairs, by brute force: the most pairs, then the least total cost. */
function bruteForce(cost: Cost): { pairs: number; total: number } {
  const rows = cost.length;
  const cols = cost[0]?.length ?? 0;
  let best = { pairs: 0, total: 0 };
  const usedCols = new Array<boolean>(cols).fill(false);
  const walk = (r: number, pairs: number, total: number): void => {
    if (r === rows) {
      if (pairs > best.pairs || (pairs === best.pairs && total < best.total)) best = { pairs, total };
      return;
    }
    walk(r + 1, pairs, total); // row r unmatched
    for (let c = 0; c < cols; c += 1) {
      const v = cost[r]?.[c];
      if (v === undefined || usedCols[c] === true) continue;
      usedCols[c] = true;
      walk(r + 1, pairs + 1, total + v);
      usedCols[c] = false;
    }
  };
  walk(0, 0, 0);
  return best;
}

const costMatrix = fc.integer({ min: 0, max: 5 }).chain((rows) =>
  fc.integer({ min: 0, max: 5 }).chain((cols) =>
    fc.array(fc.array(fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: undefined, freq: 3 }), { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }).map((m) => ({ rows, cols, m })),
  ),
);

describe('gated optimal assignment', () => {
  it('matches as many allowed pairs as brute force finds, at the same least total cost, one to one (property)', () => {
    fc.assert(
      fc.property(costMatrix, ({ rows, cols, m }) => {
        const pairs = assign(rows, cols, (r, c) => m[r]?.[c]);
        const rowsUsed = new Set(pairs.map((p) => p[0]));
        const colsUsed = new Set(pairs.map((p) => p[1]));
        expect(rowsUsed.size).toBe(pairs.length);
        expect(colsUsed.size).toBe(pairs.length);
        for (const [r, c] of pairs) expect(m[r]?.[c]).toBeDefined();
        const best = bruteForce(m);
        expect(pairs.length).toBe(best.pairs);
        const total = pairs.reduce((s, [r, c]) => s + (m[r]?.[c] as number), 0);
        expect(total).toBeCloseTo(best.total, 9);
      }),
      { numRuns: 500 },
    );
  });

  it('finds the pairing that greedy matching by best overlap misses', () => {
    // Costs are 1 - IoU. Greedy takes (0, 0) at 0.4 first and is left with (1, 1) at 0.9: total 1.3.
    // The optimum is (0, 1) + (1, 0): 0.5 + 0.45 = 0.95.
    const m: Cost = [
      [0.4, 0.5],
      [0.45, 0.9],
    ];
    expect(assign(2, 2, (r, c) => m[r]?.[c])).toEqual<Pair[]>([
      [0, 1],
      [1, 0],
    ]);
  });

  it('prefers one more allowed pair over a cheaper single pair, and never returns a forbidden one', () => {
    const m: Cost = [
      [0.1, 1.9],
      [0.2, undefined],
    ];
    expect(assign(2, 2, (r, c) => m[r]?.[c])).toEqual<Pair[]>([
      [0, 1],
      [1, 0],
    ]);
    expect(assign(2, 3, () => undefined)).toEqual([]);
    expect(assign(0, 3, () => 0)).toEqual([]);
  });

  it('says which cost is not a finite number >= 0', () => {
    expect(() => assign(1, 2, (_r, c) => (c === 1 ? Number.NaN : 0))).toThrow(/cost\(0, 1\) must be a finite number >= 0/);
    expect(() => assign(1, 1, () => -1)).toThrow(RangeError);
  });
});
