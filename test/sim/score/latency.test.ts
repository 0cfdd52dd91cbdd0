import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyReservoir, latencyHistogram, mergedQuantile, quantile, scoreLatency } from '../../../sim/score/latency.js';

const sortedRank = (values: number[], q: number): number => {
  const s = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  for (const v of s) if (s.filter((x) => x <= v).length >= q * s.length - 1e-9) return v;
  return s.at(-1) as number;
};

describe('latency percentiles', () => {
  it('are exact for fewer values than the reservoir holds (checked against a sort)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.9, 0.99, 0.07, 1), (values, q) => {
        const r = new LatencyReservoir(512, 3);
        for (const v of values) r.add(v);
        const snap = r.snapshot();
        expect(snap.seen).toBe(values.length);
        expect(quantile(snap.values, q)).toBe(sortedRank(values, q));
        expect(mergedQuantile([snap], q)).toBe(sortedRank(values, q));
      }),
    );
  });

  it('merge several full reservoirs into the percentile of all their values', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 50 }), { minLength: 1, maxLength: 5 }), (groups) => {
        const snaps = groups.map((g) => ({ seen: g.length, values: g }));
        const all = groups.flat();
        for (const q of [0.5, 0.99]) expect(mergedQuantile(snaps, q)).toBe(all.length === 0 ? null : sortedRank(all, q));
      }),
    );
  });

  it('keep a bounded, uniform sample of a long stream, the same for the same seed', () => {
    const run = (): number[] => {
      const r = new LatencyReservoir(1000, 42);
      for (let v = 0; v < 100_000; v += 1) r.add(v);
      return [...r.snapshot().values];
    };
    const kept = run();
    expect(kept).toHaveLength(1000);
    expect(run()).toEqual(kept);
    // A uniform sample of 0..99,999: its median near 50,000 (sd of the sample median ~1,600).
    expect(Math.abs((quantile(kept, 0.5) as number) - 50_000)).toBeLessThan(6000);
    expect(quantile(kept, 0.99) as number).toBeGreaterThan(95_000);
  });

  it('weigh a busy gateway by what it sent, not by what its reservoir kept', () => {
    // 10 kept of 1,000 sent at 100 ms against 10 kept of 10 at 5 ms: the median is 100 ms.
    const busy = { seen: 1000, values: new Array<number>(10).fill(100) };
    const quiet = { seen: 10, values: new Array<number>(10).fill(5) };
    expect(mergedQuantile([busy, quiet], 0.5)).toBe(100);
    expect(scoreLatency([busy, quiet])).toEqual({ count: 1010, p50Ms: 100, p99Ms: 100, maxMs: 100 });
    expect(scoreLatency([])).toEqual({ count: 0, p50Ms: null, p99Ms: null, maxMs: null });
  });

  it('histogram counts every value once, weighted', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 200 }), (values) => {
        const bins = latencyHistogram([{ seen: values.length, values }], 10);
        expect(bins).toHaveLength(10);
        expect(bins.reduce((a, b) => a + b.count, 0)).toBeCloseTo(values.length, 9);
      }),
    );
  });
});
