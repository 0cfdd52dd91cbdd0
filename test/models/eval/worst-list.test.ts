import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorstList } from '../../../models/eval/worst-list.js';

describe('WorstList', () => {
  it('property: keeps exactly the N worst, worst first, however many are added', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 300 }), fc.integer({ min: 0, max: 20 }), (xs, n) => {
        const list = new WorstList<number>(n, (a, b) => b - a);
        for (const x of xs) list.add(x);
        expect(list.list()).toEqual([...xs].sort((a, b) => b - a).slice(0, n));
      }),
    );
  });

  it('never holds more than four times its size', () => {
    const list = new WorstList<number>(5, (a, b) => a - b);
    let most = 0;
    for (let i = 0; i < 10_000; i += 1) {
      list.add(i % 97);
      most = Math.max(most, (list as unknown as { items: number[] }).items.length);
    }
    expect(most).toBeLessThan(20);
    expect(list.list()).toEqual([0, 0, 0, 0, 0]);
  });
});
