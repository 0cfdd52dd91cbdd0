import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue, OVERFLOW_POLICIES, type OverflowPolicy } from '../../../runtime/pipeline/bounded-queue.js';
import type { EmitResult, RecordInput } from '../../../runtime/pipeline/record.js';

const batch = (n: number, from = 0): RecordInput[] => Array.from({ length: n }, (_, i) => ({ stream: 's', class: 'telemetry', ts: 0, data: from + i }));

describe('bounded queue', () => {
  it('never holds more than its bound (except one oversized batch), and accounts for every record (property)', () => {
    const op = fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 30 }) }), fc.record({ take: fc.integer({ min: 1, max: 50 }) }));
    fc.assert(
      fc.property(fc.constantFrom<OverflowPolicy>('dropOldest', 'sample'), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 2, max: 5 }), fc.array(op, { maxLength: 60 }), (policy, maxRecords, sampleEvery, ops) => {
        const q = new BoundedQueue('e', { maxRecords, whenFull: policy, sampleEvery });
        let pushed = 0;
        let taken = 0;
        let droppedSettled = 0;
        for (const o of ops) {
          if ('push' in o) {
            pushed += o.push;
            void q.push(batch(o.push), (r: EmitResult) => (droppedSettled += r.dropped));
            // Over the bound only as one oversized batch alone in the queue.
            expect(q.depthRecords <= maxRecords || q.length === 1).toBe(true);
          } else {
            for (const item of q.take(o.take)) taken += item.records.length;
          }
        }
        const s = q.stats();
        expect(pushed).toBe(taken + s.dropped + s.depthRecords);
        expect(droppedSettled).toBe(s.dropped);
      }),
    );
  });

  it('dropOldest drops the oldest batches and tells their producers', async () => {
    const q = new BoundedQueue('e', { maxRecords: 4, whenFull: 'dropOldest', sampleEvery: 2 });
    const results: [number, EmitResult][] = [];
    for (let i = 0; i < 4; i += 1) await q.push(batch(2, i * 10), (r) => results.push([i, r]));
    expect(q.take(100).map((it) => it.records[0]?.data)).toEqual([20, 30]);
    expect(results.map(([i, r]) => [i, r.dropped])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(q.stats().dropped).toBe(4);
  });

  it('sample keeps one in sampleEvery batches while full', async () => {
    const q = new BoundedQueue('e', { maxRecords: 2, whenFull: 'sample', sampleEvery: 3 });
    for (let i = 0; i < 8; i += 1) await q.push(batch(1, i), () => undefined);
    // 0 and 1 fill it; of 2..7 (arriving while full) every third is kept, replacing the oldest.
    expect(q.take(100).map((it) => it.records[0]?.data)).toEqual([4, 7]);
    expect(q.stats().dropped).toBe(6);
  });

  it('block makes the producer wait for space and loses nothing', async () => {
    const q = new BoundedQueue('e', { maxRecords: 3, whenFull: 'block', sampleEvery: 2 });
    await q.push(batch(3), () => undefined);
    let second = false;
    const p = q.push(batch(2, 3), () => undefined).then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    expect(q.stats().blockedProducers).toBe(1);
    expect(q.take(3).flatMap((i) => i.records.map((r) => r.data))).toEqual([0, 1, 2]);
    await p;
    expect(q.take(3).flatMap((i) => i.records.map((r) => r.data))).toEqual([3, 4]);
    expect(q.stats().dropped).toBe(0);
  });

  it('a blocked producer gives up (and is told) when its signal aborts', async () => {
    const q = new BoundedQueue('e', { maxRecords: 1, whenFull: 'block', sampleEvery: 2 });
    await q.push(batch(1), () => undefined);
    const abort = new AbortController();
    let result: EmitResult | undefined;
    const p = q.push(batch(1), (r) => (result = r), abort.signal);
    abort.abort();
    await p;
    expect(result?.dropped).toBe(1);
  });

  it('knows exactly three policies', () => {
    expect(OVERFLOW_POLICIES).toEqual(['block', 'dropOldest', 'sample']);
  });
});
