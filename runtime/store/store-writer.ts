import { setTimeout as sleep } from 'node:timers/promises';
import type { ComponentEvents } from '../health/events.js';
import type { BoundedQueue, QueueItem } from '../pipeline/bounded-queue.js';
import type { Sink } from '../pipeline/components.js';
import type { Checkpoint, RecordInput } from '../pipeline/record.js';
import type { Outbox } from './outbox.js';

export interface StoreWriterOptions {
  /** Records per LevelDB batch at most (one fsync each when `sync` is on). */
  readonly batchMaxRecords: number;
  readonly retryMinDelayMs: number;
  readonly retryMaxDelayMs: number;
  /**
   * While writes follow one another (under load), start a batch at most this often, so that
   * records gather into fewer, larger batches; the first record after a quiet spell is
   * written at once. 0 writes whatever is there as soon as the previous write is done.
   */
  readonly lingerMs?: number;
}

/**
 * The sink at the end of every pipeline: takes batches from the pipelines' last edges
 * (round robin, so one busy pipeline cannot starve another), writes them to the outbox in
 * one LevelDB batch, and only then settles them: that is the moment a source learns its
 * records are safe. Whatever arrives during a write joins the next batch (group commit),
 * so batches grow with load and latency stays low when idle. Under load a short linger
 * (`lingerMs`) lets more records join each batch: a LevelDB batch costs about as much CPU
 * for 3 records as for 30, and on an SD card each one is an fsync.
 *
 * A failing write (disk full, I/O error) is retried with backoff while the records stay
 * in hand; the edges fill up behind it and apply their policies.
 */
export class StoreWriter implements Sink {
  private readonly inputs: BoundedQueue[] = [];
  private next = 0;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private writing = false;
  private idleWaiters: (() => void)[] = [];
  private failing = false;
  private batches = 0;
  private lastWriteStartedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly outbox: Outbox,
    private readonly events: ComponentEvents,
    private readonly options: StoreWriterOptions,
  ) {}

  attach(queue: BoundedQueue): void {
    this.inputs.push(queue);
    queue.onPush(() => this.wake?.());
  }

  /** True while writes fail; the health report shows it. */
  get isFailing(): boolean {
    return this.failing;
  }

  get batchesWritten(): number {
    return this.batches;
  }

  start(): void {
    this.abort.signal.addEventListener('abort', () => this.wake?.(), { once: true });
    this.loop ??= this.run();
  }

  private takeRoundRobin(): QueueItem[] {
    const out: QueueItem[] = [];
    let budget = this.options.batchMaxRecords;
    for (let scanned = 0; scanned < this.inputs.length && budget > 0; scanned += 1) {
      const queue = this.inputs[this.next] as BoundedQueue;
      this.next = (this.next + 1) % this.inputs.length;
      for (const item of queue.take(budget)) {
        out.push(item);
        budget -= item.records.length;
      }
    }
    return out;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await this.linger(signal);
      const items = this.takeRoundRobin();
      if (items.length === 0) {
        this.notifyIdle();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (signal.aborted || this.inputs.some((q) => q.length > 0)) resolve();
        });
        this.wake = undefined;
        continue;
      }
      this.writing = true;
      this.lastWriteStartedAt = performance.now();
      await this.write(items, signal);
      this.writing = false;
    }
    this.notifyIdle();
  }

  /** A full batch is waiting, or an edge is half full (lingering longer could make it drop or block). */
  private enoughQueued(): boolean {
    let n = 0;
    for (const q of this.inputs) {
      if (q.depthRecords * 2 >= q.options.maxRecords) return true;
      n += q.depthRecords;
    }
    return n >= this.options.batchMaxRecords;
  }

  /** Waits until `lingerMs` after the previous write started, unless enough is queued or the writer stops. */
  private async linger(signal: AbortSignal): Promise<void> {
    const waitMs = this.lastWriteStartedAt + (this.options.lingerMs ?? 0) - performance.now();
    // Someone waiting for the store to be idle (a shutdown, a flush) ends the wait too.
    const full = (): boolean => signal.aborted || this.idleWaiters.length > 0 || this.enoughQueued();
    if (waitMs <= 0 || full()) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.wake = () => {
        if (full()) done();
      };
    });
  }

  private async write(items: readonly QueueItem[], signal: AbortSignal): Promise<void> {
    const records: RecordInput[] = [];
    // Checkpoints ride in the same LevelDB batch as the records they follow (items are in order per edge).
    const checkpoints: Checkpoint[] = [];
    for (const item of items) {
      for (const r of item.records) records.push(r);
      if (item.checkpoint !== undefined) checkpoints.push(item.checkpoint);
    }
    let delay = this.options.retryMinDelayMs;
    for (;;) {
      try {
        const result = await this.outbox.append(records, checkpoints);
        if (this.failing) this.events.info('store.write_recovered', {});
        this.failing = false;
        this.batches += 1;
        if (this.events.isEnabled('debug')) {
          const lastId = result.ids.findLast((id) => id !== null);
          if (lastId !== undefined) this.events.debug('store.committed', { records: records.length, lastId });
        }
        if (result.rejected.size > 0) {
          const [index, reason] = result.rejected.entries().next().value as [number, string];
          this.events.warn('store.rejected', { code: 'E_RECORD_INVALID', records: result.rejected.size, stream: records[index]?.stream, reason });
        }
        let offset = 0;
        for (const item of items) {
          let evicted = 0;
          let rejected = 0;
          for (let i = 0; i < item.records.length; i += 1) {
            if (result.evictedIndexes.has(offset + i)) evicted += 1;
            if (result.rejected.has(offset + i)) rejected += 1;
          }
          offset += item.records.length;
          item.settle({ stored: item.records.length - evicted - rejected, dropped: rejected, evicted, consumed: 0 });
        }
        return;
      } catch (err) {
        this.failing = true;
        this.events.error('store.write_failed', { code: (err as { code?: string }).code ?? 'E_STORE_WRITE', records: records.length, retryInMs: delay, reason: (err as Error).message });
        if (signal.aborted) {
          for (const item of items) item.settle({ stored: 0, dropped: item.records.length, evicted: 0, consumed: 0 });
          return;
        }
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        delay = Math.min(delay * 2, this.options.retryMaxDelayMs);
      }
    }
  }

  private notifyIdle(): void {
    if (this.writing || this.inputs.some((q) => q.length > 0)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when every input edge is empty and no write is in progress. */
  whenIdle(): Promise<void> {
    if (!this.writing && this.inputs.every((q) => q.length === 0)) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wake?.();
    });
  }

  /** Stops after the write in progress (if any). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
