import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { AggregateStage } from '../../../runtime/stages/aggregate/index.js';

type Summary = { count: number; mean: number; min: number; max: number };

describe('aggregate stage', () => {
  it('summarises each stream per window: count, mean, min, max (property)', () => {
    const sample = fc.record({ t: fc.integer({ min: 0, max: 9999 }), v: fc.double({ min: -1e6, max: 1e6, noNaN: true }), stream: fc.constantFrom('a', 'b') });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 200 }), fc.integer({ min: 1, max: 3000 }), (samples, windowMs) => {
        const sorted = [...samples].sort((x, y) => x.t - y.t);
        const stage = new AggregateStage(windowMs, '.agg');
        const records: RecordInput[] = sorted.map((s) => ({ stream: s.stream, class: 'telemetry', ts: s.t, data: { n: 0, values: { x: [s.v] } } }));
        const out = [...stage.process(records), ...stage.flush()];
        // The same summaries, computed the obvious way.
        const expected = new Map<string, Summary>();
        for (const s of sorted) {
          const key = `${s.stream}.agg@${Math.floor(s.t / windowMs) * windowMs}`;
          const e = expected.get(key) ?? { count: 0, mean: 0, min: Infinity, max: -Infinity };
          e.mean = (e.mean * e.count + s.v) / (e.count + 1);
          e.count += 1;
          e.min = Math.min(e.min, s.v);
          e.max = Math.max(e.max, s.v);
          expected.set(key, e);
        }
        expect(out.length).toBe(expected.size);
        for (const r of out) {
          const got = (r.data as { channels: { x: Summary } }).channels.x;
          const want = expected.get(`${r.stream}@${r.ts}`) as Summary;
          expect(got.count).toBe(want.count);
          expect(got.min).toBe(want.min);
          expect(got.max).toBe(want.max);
          expect(got.mean).toBeCloseTo(want.mean, 3);
        }
      }),
    );
  });

  it('passes through records that carry no values', () => {
    const stage = new AggregateStage(1000, '.agg');
    const r: RecordInput = { stream: 'x', class: 'alert', ts: 5, data: { text: 'door open' } };
    expect(stage.process([r])).toEqual([r]);
  });
});
