import { WaitList } from '../wait-list.js';
import type { Checkpoint, EmitResult, RecordInput } from './record.js';

/**
 * What an edge does when it is full:
 * - `block`: the producer waits for space (backpressure up to the source);
 * - `dropOldest`: the oldest queued batch is dropped to make room (for frames and other
 *   data whose value decays: the next one is worth more than a late one);
 * - `sample`: while full, only every `sampleEvery`-th incoming batch is kept (it replaces
 *   the oldest), the rest are dropped: the stream thins out instead of stalling.
 */
export const OVERFLOW_POLICIES = ['block', 'dropOldest', 'sample'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

export interface QueueOptions {
  /** Capacity in records. A single batch larger than this is still accepted into an empty queue. */
  readonly maxRecords: number;
  readonly whenFull: OverflowPolicy;
  /** For `sample`: keep one in this many batches while full. */
  readonly sampleEvery: number;
}

/** A batch on an edge, with the callback that tells its producer what became of it. */
export interface QueueItem {
  readonly records: readonly RecordInput[];
  readonly settle: (result: EmitResult) => void;
  /** The source's position after these records, written with them (see record.ts). */
  readonly checkpoint?: Checkpoint;
}

export interface QueueStats {
  readonly name: string;
  readonly policy: OverflowPolicy;
  readonly depthRecords: number;
  readonly capacityRecords: number;
  /** Records dropped by the overflow policy since start. */
  readonly dropped: number;
  /** Records accepted since start. */
  readonly accepted: number;
  /** Producers waiting for space right now (block policy). */
  readonly blockedProducers: number;
}

const dropped = (n: number): EmitResult => ({ stored: 0, dropped: n, evicted: 0, consumed: 0 });

/** A FIFO of record batches bounded in records, with an overflow policy and counters. */
export class BoundedQueue {
  private items: QueueItem[] = [];
  private head = 0;
  private depth = 0;
  private droppedTotal = 0;
  private acceptedTotal = 0;
  private fullStreak = 0;
  private readonly spaceWaiters = new WaitList();
  private readonly itemWaiters = new WaitList();
  private listeners: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
  ) {
    if (!(options.maxRecords > 0)) throw new RangeError(`queue ${name}: maxRecords must be > 0`);
  }

  get depthRecords(): number {
    return this.depth;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  stats(): QueueStats {
    return {
      name: this.name,
      policy: this.options.whenFull,
      depthRecords: this.depth,
      capacityRecords: this.options.maxRecords,
      dropped: this.droppedTotal,
      accepted: this.acceptedTotal,
      blockedProducers: this.spaceWaiters.size,
    };
  }

  /** Called (synchronously) after every push: lets one consumer watch several queues. */
  onPush(listener: () => void): void {
    this.listeners.push(listener);
  }

  private fits(n: number): boolean {
    return this.depth === 0 || this.depth + n <= this.options.maxRecords;
  }

  /**
   * Offers a batch. Resolves once the batch is queued or dropped; under `block` that may
   * wait for space (or for `signal` to abort, which drops the batch).
   */
  async push(records: readonly RecordInput[], settle: (result: EmitResult) => void, signal?: AbortSignal, checkpoint?: Checkpoint): Promise<void> {
    const item: QueueItem = checkpoint === undefined ? { records, settle } : { records, settle, checkpoint };
    if (records.length === 0) {
      settle(dropped(0));
      return;
    }
    const policy = this.options.whenFull;
    if (policy === 'block') {
      while (!this.fits(records.length)) {
        if (signal?.aborted === true) {
          this.droppedTotal += records.length;
          settle(dropped(records.length));
          return;
        }
        await this.spaceWaiters.wait(signal);
      }
      this.enqueue(item);
      return;
    }

    if (this.fits(records.length)) {
      this.fullStreak = 0;
      this.enqueue(item);
      return;
    }
    if (policy === 'sample') {
      this.fullStreak += 1;
      if (this.fullStreak % this.options.sampleEvery !== 0) {
        this.droppedTotal += records.length;
        settle(dropped(records.length));
        return;
      }
    }
    // dropOldest, or the sampled batch: make room by dropping from the head.
    while (!this.fits(records.length)) {
      const oldest = this.shift();
      if (oldest === undefined) break;
      this.droppedTotal += oldest.records.length;
      oldest.settle(dropped(oldest.records.length));
    }
    this.enqueue(item);
  }

  private enqueue(item: QueueItem): void {
    this.items.push(item);
    this.depth += item.records.length;
    this.acceptedTotal += item.records.length;
    this.itemWaiters.wakeAll();
    for (const l of this.listeners) l();
  }

  private shift(): QueueItem | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as unknown as QueueItem;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item !== undefined) this.depth -= item.records.length;
    return item;
  }

  /**
   * Resolves when a batch of `n` records would be queued without waiting or dropping anything
   * (or the signal aborts): a producer that must not lose records to a `dropOldest` or `sample`
   * edge waits here first. Only as good as the producer is alone on the edge (a source is).
   */
  async waitForRoom(n: number, signal?: AbortSignal): Promise<void> {
    while (!this.fits(n) && signal?.aborted !== true) await this.spaceWaiters.wait(signal);
  }

  /** Removes queued batches totalling at most `maxRecords` records (at least one batch, if any). */
  take(maxRecords: number): QueueItem[] {
    const out: QueueItem[] = [];
    let n = 0;
    while (this.head < this.items.length) {
      const next = this.items[this.head];
      if (next === undefined) break;
      if (out.length > 0 && n + next.records.length > maxRecords) break;
      const item = this.shift();
      if (item === undefined) break;
      out.push(item);
      n += item.records.length;
    }
    if (out.length > 0) this.spaceWaiters.wakeAll();
    return out;
  }

  /** Resolves when the queue holds something, or the signal aborts. */
  waitForItems(signal: AbortSignal): Promise<void> {
    if (this.length > 0) return Promise.resolve();
    return this.itemWaiters.wait(signal);
  }

  /** Wakes consumers waiting in `waitForItems` without adding anything (to notice a drain). */
  wakeConsumers(): void {
    this.itemWaiters.wakeAll();
  }

  /** Drops everything still queued (used when a shutdown deadline passes). */
  dropAll(): number {
    let n = 0;
    for (let item = this.shift(); item !== undefined; item = this.shift()) {
      n += item.records.length;
      this.droppedTotal += item.records.length;
      item.settle(dropped(item.records.length));
    }
    this.spaceWaiters.wakeAll();
    return n;
  }
}
