import { describe, expect, it } from 'vitest';
import type { FeedRecord } from '../../../../runtime/uplink/sparkplug/feed.js';
import { aliasTable } from '../../../../runtime/uplink/sparkplug/metrics.js';
import { RecordMetrics } from '../../../../runtime/uplink/sparkplug/record-metrics.js';
import { quietEvents } from '../../../support/store.js';

const [press] = aliasTable([{ id: 'press-1', metrics: [{ name: 'x' }, { name: 't', type: 'Float' }, { name: 'n', type: 'UInt16' }] }]);
const record = (o: Partial<FeedRecord>): FeedRecord => ({ id: 'r1', sourceId: 'press-1', ts: 1_000, storedAtMs: 1_000, values: {}, ...o });

describe('a device\'s records as DDATA metrics', () => {
  it('sends each sample of a record of samples over time as its own value at its own time, the last one kept for births', () => {
    const rm = new RecordMetrics(quietEvents('sparkplug'));
    // A synthetic or serial sensor at 100 Hz with 4 samples a record: x at 1000, 1010, 1020, 1030 ms.
    const { metrics } = rm.toMetrics(press!, [record({ values: { x: [0.5, 0.6, 0.7, 0.8], t: [40, 40.5, 41, 41.5] }, samplePeriodMs: 10 })], 0);
    const x = metrics.filter((m) => m.metric.name === 'x');
    expect(x.map((m) => [m.ts, m.value])).toEqual([
      [1000, 0.5],
      [1010, 0.6],
      [1020, 0.7],
      [1030, 0.8],
    ]);
    expect(metrics.filter((m) => m.metric.name === 't').map((m) => m.value)).toEqual([40, 40.5, 41, 41.5]);
    expect(rm.lastValues.get(x[0]!.metric.alias)).toEqual({ value: 0.8, ts: 1030 });
    expect(rm.badValues).toBe(0);
  });

  it('nulls and counts the one sample that does not fit, not the record', () => {
    const rm = new RecordMetrics(quietEvents('sparkplug'));
    const { metrics } = rm.toMetrics(press!, [record({ values: { n: [7, -1, 9] }, samplePeriodMs: 1000 / 3 })], 0);
    expect(metrics.map((m) => [m.ts, m.value])).toEqual([
      [1000, 7],
      [1333, null],
      [1667, 9],
    ]);
    expect(rm.badValues).toBe(1);
  });

  it('without a sample rate, a list is one value: a one-element list is its element, a longer one does not fit', () => {
    const rm = new RecordMetrics(quietEvents('sparkplug'));
    const { metrics } = rm.toMetrics(press!, [record({ values: { n: [7], x: [1, 2, 3] } })], 0);
    expect(metrics.map((m) => [m.metric.name, m.ts, m.value])).toEqual([
      ['x', 1000, null],
      ['n', 1000, 7],
    ]);
    expect(rm.badValues).toBe(1);
  });
});
