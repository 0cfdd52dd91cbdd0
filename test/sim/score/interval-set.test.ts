import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalSet } from '../../../sim/score/interval-set.js';

describe('IntervalSet', () => {
  it('holds exactly the numbers added, in as few runs as there are gaps, and reports every overlap', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(300), fc.nat(20)), { maxLength: 60 }), (ranges) => {
        const set = new IntervalSet();
        const model = new Set<number>();
        for (const [start, len] of ranges) {
          let already = 0;
          for (let k = start; k < start + len; k += 1) {
            if (model.has(k)) already += 1;
            model.add(k);
          }
          expect(set.addRange(start, start + len)).toBe(already);
        }
        expect(set.size).toBe(model.size);
        for (let k = 0; k < 330; k += 1) expect(set.has(k)).toBe(model.has(k));
        const runs = set.runs();
        // Disjoint, sorted and not touching: one run per stretch of consecutive numbers.
        for (let i = 1; i < runs.length; i += 1) expect((runs[i] as [number, number])[0]).toBeGreaterThan((runs[i - 1] as [number, number])[1]);
        const sorted = [...model].sort((a, b) => a - b);
        const stretches = sorted.filter((v, i) => i === 0 || v !== (sorted[i - 1] as number) + 1).length;
        expect(set.runCount).toBe(stretches);
        expect(set.end).toBe(sorted.length === 0 ? 0 : (sorted.at(-1) as number) + 1);
      }),
    );
  });

  it('keeps one run for a million numbers added in order', () => {
    const set = new IntervalSet();
    for (let k = 0; k < 1_000_000; k += 1) set.add(k);
    expect(set.runCount).toBe(1);
    expect(set.size).toBe(1_000_000);
  });

  it('refuses negative or non-integer bounds', () => {
    const set = new IntervalSet();
    expect(() => set.addRange(-1, 2)).toThrow(RangeError);
    expect(() => set.addRange(1.5, 2)).toThrow(RangeError);
    expect(() => set.addRange(3, 2)).toThrow(RangeError);
  });
});
