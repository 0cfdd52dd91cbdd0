import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BoundedQueue } from '../../../runtime/pipeline/bounded-queue.js';
import type { EmitResult, RecordInput } from '../../../runtime/pipeline/record.js';
import { StoreWriter } from '../../../runtime/store/store-writer.js';
import { openOutbox, quietEvents, type OpenOutbox } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';

type TempDir = Awaited<ReturnType<typeof makeTempDir>>;

const rec = (n: number): RecordInput => ({ stream: 's', class: 'telemetry', ts: 1_700_000_000_000 + n, data: { n } });

interface Pushed {
  readonly stored: Promise<EmitResult>;
  settled: boolean;
}

function push(queue: BoundedQueue, records: readonly RecordInput[]): Pushed {
  let settle!: (r: EmitResult) => void;
  const p: Pushed = { stored: new Promise((resolve) => (settle = resolve)), settled: false };
  void queue.push(records, (r) => {
    p.settled = true;
    settle(r);
  });
  return p;
}

/** Gives the writer and LevelDB many turns of the event loop; what has not happened by then is held, not slow. */
async function turns(n = 200): Promise<void> {
  for (let i = 0; i < n; i += 1) await turn();
}

describe('the store writer lingers under load, never when idle', () => {
  let dir: TempDir | undefined;
  let o: OpenOutbox | undefined;
  let writer: StoreWriter | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await writer?.stop();
    await o?.close();
    await dir?.remove();
    writer = undefined;
  });

  async function start(lingerMs: number, batchMaxRecords = 100, edgeMaxRecords = 1000): Promise<BoundedQueue> {
    dir = await makeTempDir();
    o = await openOutbox(dir.path, { maxSizeBytes: 1 << 24, sync: false });
    const queue = new BoundedQueue('edge', { maxRecords: edgeMaxRecords, whenFull: 'block', sampleEvery: 2 });
    writer = new StoreWriter(o.outbox, quietEvents('store'), { batchMaxRecords, lingerMs, retryMinDelayMs: 10, retryMaxDelayMs: 100 });
    writer.attach(queue);
    writer.start();
    return queue;
  }

  it('writes the first record after a quiet spell at once, holds the next one for the linger, and writes a full batch at once', async () => {
    // Only setTimeout is faked: the linger cannot end by time unless the test moves the clock, so
    // whatever is stored without a move was not held. performance.now() stays real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const queue = await start(60_000, 5);

    const first = push(queue, [rec(1)]);
    expect((await first.stored).stored).toBe(1); // idle: no linger, the clock never moved
    expect(writer?.batchesWritten).toBe(1);

    const second = push(queue, [rec(2)]);
    await turns();
    expect(second.settled).toBe(false); // a write started less than 60 s ago: held
    // Records join it while it waits: one batch for all of them.
    const third = push(queue, [rec(3), rec(4)]);
    await turns();
    expect(third.settled).toBe(false);
    const full = push(queue, [rec(5), rec(6)]); // 5 records queued = batchMaxRecords: no reason to wait
    await Promise.all([second.stored, third.stored, full.stored]);
    expect(writer?.batchesWritten).toBe(2);

    const held = push(queue, [rec(7)]);
    await turns();
    expect(held.settled).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect((await held.stored).stored).toBe(1);
    expect(o?.outbox.size).toBe(7);
  });

  it('stops lingering when an edge is half full, so a busy source is not blocked or dropped by the wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const queue = await start(60_000, 1000, 8);
    await push(queue, [rec(1)]).stored;
    const a = push(queue, [rec(2), rec(3), rec(4)]);
    await turns();
    expect(a.settled).toBe(false);
    const b = push(queue, [rec(5)]); // 4 of 8: half full
    await Promise.all([a.stored, b.stored]);
    expect(o?.outbox.size).toBe(5);
  });

  it('ends the linger for whoever waits for the store to be idle (a shutdown), and stops at once while lingering', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const queue = await start(60_000);
    await push(queue, [rec(1)]).stored;
    const held = push(queue, [rec(2)]);
    await turns();
    expect(held.settled).toBe(false);
    await writer?.whenIdle();
    expect((await held.stored).stored).toBe(1);

    const heldAtStop = push(queue, [rec(3)]);
    await turns();
    expect(heldAtStop.settled).toBe(false);
    await writer?.stop(); // the clock never moves: the stop ended the linger
    writer = undefined;
    // What the linger held back is written, not left behind: without the linger it would have been.
    expect((await heldAtStop.stored).stored).toBe(1);
    expect(o?.outbox.size).toBe(3);
  });

  it('under a steady stream, starts a batch at most once per linger: batches <= run time / lingerMs + 1, none lost', async () => {
    const lingerMs = 40;
    const queue = await start(lingerMs, 10_000);
    const t0 = performance.now();
    const pushed: Pushed[] = [];
    for (let n = 0; n < 300; n += 1) {
      pushed.push(push(queue, [rec(n)]));
      // The writer gets a turn between records: without the linger each record would be a batch.
      await turn();
    }
    const results = await Promise.all(pushed.map((p) => p.stored));
    const elapsedMs = performance.now() - t0;
    expect(results.reduce((n, r) => n + r.stored, 0)).toBe(300);
    expect(o?.outbox.size).toBe(300);
    expect(writer?.batchesWritten).toBeLessThanOrEqual(Math.floor(elapsedMs / lingerMs) + 1);
    expect(writer?.batchesWritten).toBeLessThan(300 / 4);
  });
});
