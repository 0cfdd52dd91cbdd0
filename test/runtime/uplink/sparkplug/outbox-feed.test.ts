import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordInput } from '../../../../runtime/pipeline/record.js';
import { OutboxFeed, SPARKPLUG_CONSUMER, sourceForStream } from '../../../../runtime/uplink/sparkplug/outbox-feed.js';
import { openOutbox, quietEvents, type OpenOutbox } from '../../../support/store.js';
import { makeTempDir } from '../../../support/temp-dir.js';

const SOURCES = [
  { id: 'press-1', metrics: [{ name: 'x' }, { name: 't' }] },
  { id: 'press-1.rs485', metrics: [{ name: 'n' }] },
];

const sample = (stream: string, values: Record<string, unknown>, ts = 1_764_560_000_000, cls: RecordInput['class'] = 'telemetry'): RecordInput => ({ stream, class: cls, ts, data: { values, units: { x: 'g' } } });

describe('the stream of a stored record names its Sparkplug source', () => {
  it('is the longest configured id that is the stream or is followed in it by a dot', () => {
    const id = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,8}$/);
    fc.assert(
      fc.property(fc.uniqueArray(id, { minLength: 1, maxLength: 6 }), fc.oneof(id, fc.tuple(id, id).map(([a, b]) => `${a}.${b}`)), (ids, stream) => {
        const sorted = [...ids].sort((a, b) => b.length - a.length);
        const got = sourceForStream(sorted, stream);
        const fits = (s: string): boolean => stream === s || stream.startsWith(`${s}.`);
        if (got === undefined) expect(ids.filter(fits)).toEqual([]);
        else {
          expect(fits(got)).toBe(true);
          expect(ids.filter((s) => fits(s) && s.length > got.length)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
    expect(sourceForStream(['press-1.rs485', 'press-1'], 'press-1.rs485.slave-1.g')).toBe('press-1.rs485');
    expect(sourceForStream(['press-1'], 'press-10')).toBeUndefined();
  });
});

describe('OutboxFeed on a two-consumer outbox', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let o: OpenOutbox;

  beforeEach(async () => {
    dir = await makeTempDir('edgewise-spfeed-');
    o = await openOutbox(`${dir.path}/data`, { maxSizeBytes: 2 ** 30, sync: false, consumers: ['fleet', SPARKPLUG_CONSUMER] });
  });
  afterEach(async () => {
    await o.close();
    await dir.remove();
  });

  it('gives a record with a sample rate the time between its samples', async () => {
    const feed = new OutboxFeed(o.outbox.consumer(SPARKPLUG_CONSUMER), SOURCES, quietEvents('sparkplug'));
    await o.outbox.append([
      { stream: 'press-1', class: 'telemetry', ts: 2000, data: { n: 0, rateHz: 100, values: { x: [1, 2, 3] } } },
      { stream: 'press-1', class: 'telemetry', ts: 2030, data: { rateHz: 'fast', values: { x: [4] } } },
    ]);
    const got = await feed.next(10, new AbortController().signal);
    expect(got.map((r) => r.samplePeriodMs)).toEqual([10, undefined]);
  });

  it('hands on samples of configured sources, acknowledges the rest unsent, and a release hands the leases back', async () => {
    const feed = new OutboxFeed(o.outbox.consumer(SPARKPLUG_CONSUMER), SOURCES, quietEvents('sparkplug'));
    await o.outbox.append([
      sample('press-1', { x: [0.5], t: 40, other: 'text' }, 1000),
      sample('press-2', { x: 1 }, 1001), // not a configured source
      sample('press-1.anomaly', { score: 0.9 }, 1002), // none of its metrics
      { stream: 'press-1', class: 'alert', ts: 1003, data: { message: 'hot' } }, // not a sample
      sample('press-1.rs485.slave-1.g', { n: [7] }, 1004),
      sample('press-1', { x: 'high' }, 1005), // no numeric value
    ]);
    const signal = new AbortController().signal;
    const got = await feed.next(100, signal);
    expect(got.map((r) => [r.sourceId, r.ts, r.storedAtMs, r.values])).toEqual([
      ['press-1', 1000, 1000, { x: [0.5], t: 40 }],
      ['press-1.rs485', 1004, 1004, { n: [7] }],
    ]);
    expect(got[0]?.units).toEqual({ x: 'g' });
    expect(feed.stats()).toEqual({ skippedRecords: 4, undecodable: 0, leased: 2 });

    // The fleet acknowledges all six: only the two leased to the edge node stay stored.
    const fleet = o.outbox.consumer('fleet');
    fleet.ack(await fleet.readNext(100, 1 << 30));
    await o.outbox.flushDeletes();
    expect(o.outbox.stats().consumers[SPARKPLUG_CONSUMER]?.pending).toBe(2);
    expect(o.outbox.stats().records.telemetry).toBe(2);

    // A disconnect: released, the same records come again, oldest first.
    feed.release();
    const again = await feed.next(100, signal);
    expect(again.map((r) => r.id)).toEqual(got.map((r) => r.id));
    feed.ack(again);
    await o.outbox.flushDeletes();
    expect(o.outbox.stats().records.telemetry).toBe(0);
    expect(feed.stats().leased).toBe(0);

    // Nothing to read: next waits, and gives [] when its signal aborts.
    const abort = new AbortController();
    const waiting = feed.next(100, abort.signal);
    abort.abort();
    expect(await waiting).toEqual([]);
  });
});
