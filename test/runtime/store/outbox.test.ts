import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RECORD_CLASSES, decodeRecord, encodeRecord, type RecordClass } from '../../../fleet/protocol/index.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { outboxKey } from '../../../runtime/store/keys.js';
import type { StoredRecord } from '../../../runtime/store/outbox.js';
import { openOutbox, readAll, type OpenOutbox } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await dir.remove();
});

const BIG = 1 << 30;
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Streams padded so that a record of every class has the same size (seq < 36). */
const paddedStream: Record<RecordClass, string> = { telemetry: 's', result: 's---', alert: 's----' };
const rec = (cls: RecordClass, k: number): RecordInput => ({ stream: paddedStream[cls], class: cls, ts: 1000 + k, data: { k } });

describe('outbox', () => {
  it('reads back oldest first across classes and leases what it hands out', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    await o.outbox.append([rec('telemetry', 0), rec('alert', 1), rec('result', 2), rec('telemetry', 3)]);
    const first = await o.outbox.readNext(3, BIG);
    expect(first.map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([0, 1, 2]);
    expect(o.outbox.stats().leased).toBe(3);
    const second = await o.outbox.readNext(10, BIG);
    expect(second.map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([3]);
    expect(await o.outbox.readNext(10, BIG)).toEqual([]);
    await o.close();
  });

  it('deletes only acknowledged records; released leases are read again, oldest first', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    await o.outbox.append([0, 1, 2, 3, 4].map((k) => rec('telemetry', k)));
    const a = await o.outbox.readNext(2, BIG);
    const b = await o.outbox.readNext(2, BIG);
    o.outbox.ack(a);
    await o.outbox.flushDeletes();
    expect(o.outbox.size).toBe(3);
    await o.outbox.releaseAll(); // the connection that carried `b` died
    const again = await readAll(o.outbox);
    expect(again.map((r) => r.key)).toEqual([...b.map((r) => r.key), outboxKey('telemetry', again[2]?.suffix ?? '')]);
    await o.close();
  });

  it('flushDeletes waits for deletes that a flush queued before it took', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    await o.outbox.append([0, 1].map((k) => rec('telemetry', k)));
    const [a, b] = [await o.outbox.readNext(1, BIG), await o.outbox.readNext(1, BIG)];
    o.outbox.ack(a);
    const first = o.outbox.flushDeletes(); // writing a's delete
    o.outbox.ack(b);
    const background = o.outbox.flushDeletes(); // as the ack's own flush would: queued behind the first, it takes b
    await o.outbox.flushDeletes(); // queued after it: must not return before b's delete is written
    expect(o.outbox.size).toBe(0);
    await Promise.all([first, background]);
    await o.close();
  });

  it('keeps records and rebuilds its counters across a reopen', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: true });
    await o.outbox.append([rec('telemetry', 0), rec('result', 1), rec('alert', 2)]);
    const before = o.outbox.stats();
    await o.close();
    const p = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: true });
    expect(p.outbox.stats().records).toEqual(before.records);
    expect(p.outbox.stats().bytes).toEqual(before.bytes);
    expect(p.db.epoch).toBe(o.db.epoch + 1);
    expect(p.db.dbId).toBe(o.db.dbId);
    await p.close();
  });

  it('evicts by class (telemetry, then results, then alerts), oldest first, and counts exactly', async () => {
    // Measure one record's size, then give the outbox room for exactly 18 of them.
    const probe = await openOutbox(`${dir.path}/probe`, { maxSizeBytes: BIG, sync: false });
    // k from 24 to 255 is always a two-byte CBOR integer, so the size is the same for all.
    await probe.outbox.append(RECORD_CLASSES.map((c) => rec(c, 50)));
    const sizes = probe.outbox.stats().bytes;
    await probe.close();
    expect(sizes.telemetry).toBe(sizes.result);
    expect(sizes.result).toBe(sizes.alert);
    const S = sizes.telemetry;

    const o = await openOutbox(`${dir.path}/db`, { maxSizeBytes: 18 * S, sync: false });
    const box = o.outbox;
    const ks = (cls: RecordClass, from: number, n: number): RecordInput[] => Array.from({ length: n }, (_, i) => rec(cls, from + i));
    const remaining = async (): Promise<number[]> => {
      const all = await readAll(box);
      await box.releaseAll();
      return all.map((r) => (decodeRecord(r.value).data as { k: number }).k);
    };

    await box.append([...ks('telemetry', 30, 10), ...ks('result', 100, 5), ...ks('alert', 200, 3)]);
    expect(box.stats().evicted).toEqual({ telemetry: 0, result: 0, alert: 0 });

    await box.append(ks('alert', 203, 2)); // two oldest telemetry make room
    expect(box.stats().evicted).toEqual({ telemetry: 2, result: 0, alert: 0 });

    await box.append(ks('result', 105, 8)); // the other eight telemetry go
    expect(box.stats().evicted).toEqual({ telemetry: 10, result: 0, alert: 0 });
    expect(box.stats().records).toEqual({ telemetry: 0, result: 13, alert: 5 });

    const lone = await box.append(ks('telemetry', 40, 1)); // no older telemetry: the new one goes
    expect(lone.evictedNow).toBe(1);
    expect(box.stats().evicted).toEqual({ telemetry: 11, result: 0, alert: 0 });

    await box.append(ks('alert', 205, 3)); // then the oldest results
    expect(box.stats().evicted).toEqual({ telemetry: 11, result: 3, alert: 0 });
    // Global arrival order survives eviction: what is left reads back as it came in.
    expect(await remaining()).toEqual([103, 104, 200, 201, 202, 203, 204, ...range(105, 8), 205, 206, 207]);

    // Records on their way to the broker (leased) are not evicted: the next result goes instead.
    const leased = await box.readNext(2, BIG);
    expect(leased.map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([103, 104]);
    await box.append(ks('alert', 208, 1));
    expect(box.stats().evicted).toEqual({ telemetry: 11, result: 4, alert: 0 });

    // Acknowledged records free their space: two more alerts fit without evicting.
    box.ack(leased);
    await box.flushDeletes();
    await box.append(ks('alert', 209, 2));
    expect(box.stats().evicted).toEqual({ telemetry: 11, result: 4, alert: 0 });
    expect(box.stats().bytes.result + box.stats().bytes.alert).toBe(18 * S);
    expect(await remaining()).toEqual([200, 201, 202, 203, 204, ...range(106, 7), 205, 206, 207, 208, 209, 210]);

    await o.close();
  });

  it('with only alerts stored, a new alert evicts the oldest alert and a new telemetry record is evicted itself', async () => {
    const probe = await openOutbox(`${dir.path}/probe`, { maxSizeBytes: BIG, sync: false });
    await probe.outbox.append([rec('alert', 50)]);
    const S = probe.outbox.stats().bytes.alert;
    await probe.close();
    const o = await openOutbox(`${dir.path}/db`, { maxSizeBytes: 3 * S, sync: false });
    await o.outbox.append([rec('alert', 200), rec('alert', 201), rec('alert', 202)]);
    await o.outbox.append([rec('alert', 203)]);
    expect(o.outbox.stats().evicted).toEqual({ telemetry: 0, result: 0, alert: 1 });
    const t = await o.outbox.append([rec('telemetry', 30)]);
    expect(t.evictedNow).toBe(1);
    expect(o.outbox.stats().evicted).toEqual({ telemetry: 1, result: 0, alert: 1 });
    expect((await readAll(o.outbox)).map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([201, 202, 203]);
    await o.close();
  });

  it('gives the records what the model slots leave of the budget, evicting down to it on the next append', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: 20_000, sync: false });
    try {
      await o.outbox.append(range(0, 200).map((k) => ({ stream: 's', class: 'telemetry' as const, ts: 1000 + k, data: { k, pad: 'x'.repeat(40) } })));
      const before = o.outbox.stats();
      expect(before.bytes.telemetry).toBeGreaterThan(10_000);
      o.outbox.reserve(12_000); // two model slots on the same disk
      expect(o.outbox.stats().budgetBytes).toBe(8000);
      await o.outbox.append([{ stream: 's', class: 'telemetry', ts: 5000, data: { k: 999 } }]);
      expect(o.outbox.stats().bytes.telemetry).toBeLessThanOrEqual(8000);
      expect(o.outbox.stats().evicted.telemetry).toBeGreaterThan(0);
      o.outbox.reserve(1e9); // the records always keep a tenth
      expect(o.outbox.stats().budgetBytes).toBe(2000);
    } finally {
      await o.close();
    }
  });

  it('rejects a record it cannot store on its own, and stores the rest of the batch', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    const result = await o.outbox.append([
      rec('telemetry', 30),
      { stream: 's', class: 'telemetry', ts: 1, data: { f: () => 1 } },
      { stream: 'x'.repeat(129), class: 'telemetry', ts: 1, data: 1 },
      { stream: 's', class: 'telemetry', ts: Number.NaN, data: 1 },
      { stream: 's', class: 'telemetry', ts: 1, data: new Uint8Array(1024 * 1024) },
      rec('alert', 31),
    ]);
    expect(result.stored).toBe(2);
    expect([...result.rejected.keys()]).toEqual([1, 2, 3, 4]);
    expect(result.rejected.get(2)).toMatch(/^stream:/);
    expect(result.rejected.get(3)).toMatch(/^ts:/);
    expect(result.rejected.get(4)).toMatch(/at most 1048443/);
    expect(result.ids.map((id) => id === null)).toEqual([false, true, true, true, true, false]);
    expect(o.outbox.stats().rejected).toBe(4);
    expect((await readAll(o.outbox)).map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([30, 31]);
    await o.close();
  });

  it('key order is insertion order, per stream and across restarts (property)', async () => {
    const command = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), stream: fc.constantFrom('a', 'b', 'c'), cls: fc.constantFrom(...RECORD_CLASSES), n: fc.integer({ min: 1, max: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 12 }), async (commands) => {
        const path = `${dir.path}/p${run++}`;
        let o: OpenOutbox = await openOutbox(path, { maxSizeBytes: BIG, sync: false });
        const inserted: string[] = [];
        let k = 0;
        for (const c of commands) {
          if (c.kind === 'restart') {
            await o.close();
            o = await openOutbox(path, { maxSizeBytes: BIG, sync: false });
            continue;
          }
          const batch = Array.from({ length: c.n }, () => ({ stream: c.stream, class: c.cls, ts: 0, data: { k: k++ } }));
          await o.outbox.append(batch);
          for (const r of batch) inserted.push(`${r.stream}:${String(r.data.k)}`);
        }
        const read = (await readAll(o.outbox, 5)).map((r) => decodeRecord(r.value)).map((r) => `${r.stream}:${String((r.data as { k: number }).k)}`);
        await o.close();
        expect(read).toEqual(inserted);
      }),
      { numRuns: 40 },
    );
  });

  it('delivers every record not yet acknowledged, in order, whatever the appends, reads, acks, releases and restarts (property)', async () => {
    const command = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), cls: fc.constantFrom(...RECORD_CLASSES), n: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 5 }) }) },
      // A count, not a share: fc.double is uniform over the bits, so a share in [0, 1] is nearly always about 0.
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('ack' as const), n: fc.integer({ min: 1, max: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const path = `${dir.path}/d${run++}`;
        let o: OpenOutbox = await openOutbox(path, { maxSizeBytes: BIG, sync: false });
        const kOf = (r: StoredRecord): number => (decodeRecord(r.value).data as { k: number }).k;
        let k = 0;
        const acked = new Set<number>();
        let leased: StoredRecord[] = [];
        for (const c of commands) {
          if (c.kind === 'append') {
            await o.outbox.append(Array.from({ length: c.n }, () => rec(c.cls, k++)));
          } else if (c.kind === 'read') {
            const got = await o.outbox.readNext(c.max, BIG);
            // Oldest first, nothing handed out twice while leased.
            expect(got.map(kOf)).toEqual([...got.map(kOf)].sort((a, b) => a - b));
            for (const r of got) expect(leased.map(kOf)).not.toContain(kOf(r));
            leased.push(...got);
          } else if (c.kind === 'ack') {
            const n = Math.min(c.n, leased.length);
            o.outbox.ack(leased.slice(0, n));
            for (const r of leased.slice(0, n)) acked.add(kOf(r));
            leased = leased.slice(n);
          } else if (c.kind === 'release') {
            await o.outbox.releaseAll();
            leased = [];
          } else {
            await o.outbox.flushDeletes();
            await o.close();
            o = await openOutbox(path, { maxSizeBytes: BIG, sync: false });
            leased = [];
          }
        }
        // Whatever is left: everything not acknowledged and not leased now comes out, in order, once.
        const rest = (await readAll(o.outbox, 3)).map(kOf);
        await o.close();
        const expected = range(0, k).filter((x) => !acked.has(x) && !leased.some((r) => kOf(r) === x));
        expect(rest).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('reads a backlog in growing steps and hands out exactly the batch asked for, in order', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    // Records of 200 bytes: a LevelDB read stops at 16 KiB, so the larger steps come back short.
    await o.outbox.append(range(0, 300).map((k) => ({ ...rec('telemetry', k), data: { k, pad: 'x'.repeat(200) } })));
    const kOf = (r: StoredRecord): number => (decodeRecord(r.value).data as { k: number }).k;
    // 250 = 8 + 32 + 128 + 82: every step, the last one cut to what is left of the batch.
    expect((await o.outbox.readNext(250, BIG)).map(kOf)).toEqual(range(0, 250));
    expect((await o.outbox.readNext(2000, BIG)).map(kOf)).toEqual(range(250, 50));
    expect(await o.outbox.readNext(2000, BIG)).toEqual([]);
    await o.close();
  });

  it('does not open a LevelDB iterator to find nothing new after the last record it handed out', async () => {
    const o = await openOutbox(dir.path, { maxSizeBytes: BIG, sync: false });
    const db = o.db.db;
    let iterators = 0;
    const open = db.iterator.bind(db);
    db.iterator = ((options: Parameters<typeof open>[0]) => {
      iterators += 1;
      return open(options);
    }) as typeof db.iterator;
    await o.outbox.append([rec('telemetry', 0)]);
    expect((await o.outbox.readNext(10, BIG)).length).toBe(1);
    const afterFirst = iterators;
    expect(await o.outbox.readNext(10, BIG)).toEqual([]);
    expect(iterators).toBe(afterFirst);
    await o.outbox.append([rec('alert', 1)]);
    expect((await o.outbox.readNext(10, BIG)).map((r) => (decodeRecord(r.value).data as { k: number }).k)).toEqual([1]);
    expect(iterators).toBe(afterFirst + 1);
    await o.close();
  });

  it('evicts exactly like the reference model for arbitrary appends (property)', async () => {
    const step = fc.record({ cls: fc.constantFrom(...RECORD_CLASSES), n: fc.integer({ min: 1, max: 8 }), pad: fc.integer({ min: 0, max: 40 }) });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 15 }), fc.integer({ min: 200, max: 3000 }), async (steps, budget) => {
        const o = await openOutbox(`${dir.path}/m${run++}`, { maxSizeBytes: budget, sync: false });
        const model: { id: string; cls: RecordClass; size: number }[] = [];
        const evicted = { telemetry: 0, result: 0, alert: 0 };
        for (const s of steps) {
          const batch: RecordInput[] = Array.from({ length: s.n }, () => ({ stream: 'x'.repeat(1 + s.pad), class: s.cls, ts: 0, data: null }));
          const { ids } = await o.outbox.append(batch);
          ids.forEach((maybeId, i) => {
            const id = maybeId as string;
            const r = batch[i] as RecordInput;
            const key = outboxKey(r.class, '0'.repeat(20));
            model.push({ id, cls: r.class, size: key.length + encodeRecord({ id, ...r }).byteLength });
          });
          let total = model.reduce((t, m) => t + m.size, 0);
          for (const cls of RECORD_CLASSES) {
            for (let i = 0; i < model.length && total > budget; ) {
              const m = model[i] as (typeof model)[number];
              if (m.cls !== cls) {
                i += 1;
                continue;
              }
              model.splice(i, 1);
              total -= m.size;
              evicted[cls] += 1;
            }
          }
        }
        const left = (await readAll(o.outbox)).map((r) => decodeRecord(r.value).id);
        const stats = o.outbox.stats();
        await o.close();
        expect(left).toEqual(model.map((m) => m.id));
        expect(stats.evicted).toEqual(evicted);
      }),
      { numRuns: 40 },
    );
  });
});
