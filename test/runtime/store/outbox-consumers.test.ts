import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RECORD_CLASSES, decodeRecord, type RecordClass } from '../../../fleet/protocol/index.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { consumerKey } from '../../../runtime/store/keys.js';
import { FLEET_CONSUMER, type OutboxReader, type StoredRecord } from '../../../runtime/store/outbox.js';
import { openOutbox, type OpenOutbox } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await dir.remove();
});

const BIG = 1 << 30;
const BOTH = [FLEET_CONSUMER, 'sparkplug'] as const;
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
/** Streams padded so that a record of every class has the same size (k from 24 to 255). */
const paddedStream: Record<RecordClass, string> = { telemetry: 's', result: 's---', alert: 's----' };
const rec = (cls: RecordClass, k: number): RecordInput => ({ stream: paddedStream[cls], class: cls, ts: 1000 + k, data: { k } });
const kOf = (r: StoredRecord): number => (decodeRecord(r.value).data as { k: number }).k;
const open = (path: string, consumers: readonly string[] = BOTH, maxSizeBytes = BIG): Promise<OpenOutbox> => openOutbox(path, { maxSizeBytes, sync: false, consumers });

/** Reads (leases) everything a consumer has not acknowledged, oldest first. */
async function drain(reader: OutboxReader, batch = 100): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (;;) {
    const next = await reader.readNext(batch, BIG);
    if (next.length === 0) return out;
    out.push(...next);
  }
}

describe('outbox consumers', () => {
  it('gives each consumer every record at its own pace, and deletes a record only once both acknowledged it', async () => {
    const o = await open(dir.path);
    const fleet = o.outbox.consumer(FLEET_CONSUMER);
    const spb = o.outbox.consumer('sparkplug');
    await o.outbox.append(range(30, 10).map((k) => rec('telemetry', k)));

    const fast = await drain(fleet, 4);
    expect(fast.map(kOf)).toEqual(range(30, 10));
    fleet.ack(fast);
    await o.outbox.flushDeletes();
    // The fleet has them all; Sparkplug has none yet: nothing may go.
    expect(o.outbox.size).toBe(10);
    expect(fleet.stats()).toMatchObject({ pending: 0, leased: 0, acked: 10 });
    expect(spb.stats()).toMatchObject({ pending: 10, leased: 0, acked: 0 });

    const slow = await spb.readNext(3, BIG);
    expect(slow.map(kOf)).toEqual([30, 31, 32]);
    spb.ack(slow.slice(1)); // PUBACKs out of order: 31 and 32 first
    await o.outbox.flushDeletes();
    expect(o.outbox.size).toBe(8);
    expect(spb.stats()).toMatchObject({ pending: 8, leased: 1, acked: 2 });
    spb.ack(slow.slice(0, 1));
    await o.outbox.flushDeletes();
    expect(o.outbox.size).toBe(7);
    // The first consumer's reads are the outbox's own: it has nothing left to read.
    expect(await o.outbox.readNext(10, BIG)).toEqual([]);
    expect((await drain(spb)).map(kOf)).toEqual(range(33, 7));
    await o.close();
  });

  it('releases one consumer\'s leases without touching the other\'s', async () => {
    const o = await open(dir.path);
    const fleet = o.outbox.consumer(FLEET_CONSUMER);
    const spb = o.outbox.consumer('sparkplug');
    await o.outbox.append(range(30, 6).map((k) => rec('alert', k)));
    const f = await fleet.readNext(4, BIG);
    const s = await spb.readNext(4, BIG);
    fleet.ack(f.slice(0, 2));
    await spb.releaseAll(); // Sparkplug's connection dropped
    expect(fleet.stats().leased).toBe(2);
    expect((await spb.readNext(10, BIG)).map(kOf)).toEqual(range(30, 6));
    expect((await fleet.readNext(10, BIG)).map(kOf)).toEqual([34, 35]);
    await fleet.releaseAll();
    expect((await fleet.readNext(10, BIG)).map(kOf)).toEqual([32, 33, 34, 35]);
    expect(s).toHaveLength(4);
    await o.close();
  });

  it('after a release, reads past the records it acknowledged (kept for the other consumer) without skipping one of another class', async () => {
    // Found by the property below: a read takes up to maxRecords per class, and skipping an
    // acknowledged telemetry record let a result record jump ahead of telemetry not read yet.
    const o = await open(dir.path);
    await o.outbox.append([...range(30, 4).map((k) => rec('telemetry', k)), rec('result', 34)]);
    const fleet = o.outbox.consumer(FLEET_CONSUMER);
    const two = await fleet.readNext(2, BIG);
    fleet.ack(two.slice(1)); // 31
    await fleet.releaseAll(); // 30 comes again
    expect((await drain(fleet, 3)).map(kOf)).toEqual([30, 32, 33, 34]);
    // A read that finds only records it already holds still moves on.
    fleet.ack(await fleet.readNext(1, BIG));
    await o.close();
  });

  it('resumes each consumer after what it acknowledged, across a reopen', async () => {
    let o = await open(dir.path);
    await o.outbox.append(range(30, 20).map((k) => rec(k % 3 === 0 ? 'result' : 'telemetry', k)));
    const f = await o.outbox.consumer(FLEET_CONSUMER).readNext(12, BIG);
    o.outbox.consumer(FLEET_CONSUMER).ack(f);
    const s = await o.outbox.consumer('sparkplug').readNext(8, BIG);
    o.outbox.consumer('sparkplug').ack(s.slice(0, 5));
    await o.close();
    o = await open(dir.path);
    expect(o.outbox.size).toBe(15);
    expect(o.outbox.consumer(FLEET_CONSUMER).stats()).toMatchObject({ pending: 8, acked: 0 });
    expect(o.outbox.consumer('sparkplug').stats()).toMatchObject({ pending: 15, acked: 0 });
    expect((await drain(o.outbox.consumer(FLEET_CONSUMER))).map(kOf)).toEqual(range(42, 8));
    expect((await drain(o.outbox.consumer('sparkplug'))).map(kOf)).toEqual(range(35, 15));
    await o.close();
  });

  it('drops a consumer removed from the config at open: what only it held back is deleted, and it holds nothing back any more', async () => {
    let o = await open(dir.path);
    await o.outbox.append(range(30, 10).map((k) => rec('telemetry', k)));
    const f = await o.outbox.consumer(FLEET_CONSUMER).readNext(7, BIG);
    o.outbox.consumer(FLEET_CONSUMER).ack(f);
    o.outbox.consumer('sparkplug').ack(await o.outbox.consumer('sparkplug').readNext(2, BIG));
    await o.close();

    o = await open(dir.path, [FLEET_CONSUMER]);
    expect(o.outbox.size).toBe(3); // 30..36 were the fleet's and only Sparkplug held them
    expect(await o.db.db.get(consumerKey('sparkplug'))).toBeUndefined();
    expect(await o.db.db.get(consumerKey(FLEET_CONSUMER))).toBeUndefined(); // one consumer: deletes are its acknowledgements
    expect(() => o.outbox.consumer('sparkplug')).toThrow(/no consumer "sparkplug".*declared: fleet/);
    const rest = await drain(o.outbox);
    expect(rest.map(kOf)).toEqual([37, 38, 39]);
    o.outbox.ack(rest);
    await o.outbox.flushDeletes();
    expect(o.outbox.size).toBe(0);
    await o.close();

    // Declared again later, a consumer starts at the oldest record still stored.
    o = await open(dir.path);
    await o.outbox.append([rec('alert', 40)]);
    expect((await drain(o.outbox.consumer('sparkplug'))).map(kOf)).toEqual([40]);
    await o.close();
  });

  it('refuses consumer names it cannot store, and repeats', async () => {
    await expect(open(dir.path, [])).rejects.toThrow(/at least one consumer/);
    await expect(open(`${dir.path}/a`, ['fleet', 'Spark plug'])).rejects.toThrow(/"Spark plug" is not a consumer name/);
    await expect(open(`${dir.path}/b`, ['fleet', 'fleet'])).rejects.toThrow(/declared twice/);
  });

  it('evicts records one consumer has and the other has not, and counts per consumer what it never got', async () => {
    const probe = await open(`${dir.path}/probe`);
    await probe.outbox.append([rec('telemetry', 50)]);
    const S = probe.outbox.stats().bytes.telemetry;
    await probe.close();

    const o = await open(`${dir.path}/db`, BOTH, 10 * S);
    const fleet = o.outbox.consumer(FLEET_CONSUMER);
    const spb = o.outbox.consumer('sparkplug');
    await o.outbox.append(range(30, 10).map((k) => rec('telemetry', k)));
    fleet.ack(await fleet.readNext(6, BIG)); // the fleet has 30..35; Sparkplug is offline
    const inFlight = await spb.readNext(1, BIG); // 30, on its way: not evicted
    await o.outbox.flushDeletes();
    await o.outbox.append(range(40, 4).map((k) => rec('telemetry', k))); // 4 over budget: 31..34 go
    expect(o.outbox.stats().evicted.telemetry).toBe(4);
    expect(fleet.stats().evictedUnsent.telemetry).toBe(0);
    expect(spb.stats().evictedUnsent.telemetry).toBe(4);
    expect(fleet.stats().pending).toBe(8); // 36..43
    expect(spb.stats().pending).toBe(10); // 30, 35..43
    spb.ack(inFlight);
    await o.outbox.flushDeletes();
    expect((await drain(spb)).map(kOf)).toEqual([35, ...range(36, 4), ...range(40, 4)]);
    // Over budget with only alerts coming: the newest telemetry is evicted as it comes, for both.
    await o.outbox.append(range(60, 3).map((k) => rec('alert', k)));
    await o.outbox.append([rec('telemetry', 70)]);
    expect(fleet.stats().evictedUnsent.telemetry + fleet.stats().evictedUnsent.alert).toBeGreaterThan(0);
    expect(spb.stats().evictedUnsent.telemetry).toBeGreaterThan(4);
    await o.close();
  });

  it('delivers to each consumer every record it has not acknowledged, in order, whatever the interleaving of appends, reads, acks, releases and reopens (property)', async () => {
    const name = fc.constantFrom(...BOTH);
    const command = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('append' as const), cls: fc.constantFrom(...RECORD_CLASSES), n: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), who: name, max: fc.integer({ min: 1, max: 5 }) }) },
      // Acknowledge some of what is leased, from the front or the back (PUBACKs out of order).
      // (A count, not a share: fc.double is uniform over the bits, so nearly always about 0.)
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('ack' as const), who: name, n: fc.integer({ min: 1, max: 5 }), fromBack: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), who: name }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const path = `${dir.path}/p${run++}`;
        let o = await open(path);
        let k = 0;
        // The model: per consumer, what it has leased now, what it acknowledged in this
        // session (never handed to it again), and ever (never lost for it, may come again
        // after a reopen).
        const leased = new Map<string, StoredRecord[]>(BOTH.map((c) => [c, []]));
        const ackedNow = new Map<string, Set<number>>(BOTH.map((c) => [c, new Set()]));
        const ackedEver = new Map<string, Set<number>>(BOTH.map((c) => [c, new Set()]));
        for (const c of commands) {
          if (c.kind === 'append') {
            await o.outbox.append(Array.from({ length: c.n }, () => rec(c.cls, k++)));
          } else if (c.kind === 'read') {
            const records = await o.outbox.consumer(c.who).readNext(c.max, BIG);
            const got = records.map(kOf);
            expect(got).toEqual([...got].sort((a, b) => a - b));
            const held = leased.get(c.who) as StoredRecord[];
            for (const x of got) {
              expect(held.map(kOf)).not.toContain(x);
              expect(ackedNow.get(c.who)?.has(x)).toBe(false);
            }
            held.push(...records);
          } else if (c.kind === 'ack') {
            const held = leased.get(c.who) as StoredRecord[];
            const n = Math.min(c.n, held.length);
            const chosen = c.fromBack ? held.slice(held.length - n) : held.slice(0, n);
            o.outbox.consumer(c.who).ack(chosen);
            for (const r of chosen) {
              ackedNow.get(c.who)?.add(kOf(r));
              ackedEver.get(c.who)?.add(kOf(r));
            }
            leased.set(c.who, held.filter((r) => !chosen.includes(r)));
          } else if (c.kind === 'release') {
            await o.outbox.consumer(c.who).releaseAll();
            leased.set(c.who, []);
          } else {
            await o.close();
            o = await open(path);
            for (const who of BOTH) {
              leased.set(who, []);
              ackedNow.set(who, new Set());
            }
          }
        }
        await o.outbox.flushDeletes();
        // Nothing is deleted that a consumer has not acknowledged: each gets, once released, all
        // it never acknowledged, in order, once; nothing it acknowledged in this session; and its
        // `pending` counter says how many that is.
        for (const who of BOTH) {
          const reader = o.outbox.consumer(who);
          await reader.releaseAll();
          const pending = reader.stats().pending;
          const rest = (await drain(reader, 3)).map(kOf);
          expect(rest).toEqual([...new Set(rest)].sort((a, b) => a - b));
          const ever = ackedEver.get(who) as Set<number>;
          expect(range(0, k).filter((x) => !ever.has(x) && !rest.includes(x))).toEqual([]);
          for (const x of rest) expect(ackedNow.get(who)?.has(x)).toBe(false);
          expect(pending).toBe(rest.length);
          await reader.releaseAll();
          reader.ack(await drain(reader, 7));
        }
        // Once both have everything, nothing is left.
        await o.outbox.flushDeletes();
        expect(o.outbox.size).toBe(0);
        await o.close();
      }),
      { numRuns: 60 },
    );
  });
});
