/**
 * Group commit: items handed in while a write is running wait and go together in the next
 * one, so the database sees one transaction per burst, not one per message, and every
 * caller learns when its own item is durable. Bounded: past `maxPendingBytes` waiting, new
 * items are refused at once (the caller withholds the acknowledgement, and the sender keeps
 * the message and sends it again later).
 */
export class IngestOverloaded extends Error {
  readonly code = 'E_INGEST_OVERLOADED';
  constructor(message: string) {
    super(message);
    this.name = 'IngestOverloaded';
  }
}

export interface GroupCommitOptions<T> {
  /** Writes one batch durably; throws when it could not. */
  readonly write: (items: readonly T[]) => Promise<void>;
  /** Items per write at most. */
  readonly maxBatch: number;
  /** Bytes (as the caller counts them) waiting at most. */
  readonly maxPendingBytes: number;
  /**
   * Writes under way at once (default 1). With 2, the next batch is prepared while the
   * database commits the last one (the database still commits them one after another, in order).
   */
  readonly concurrency?: number;
}

/**
 * The items of one future write and the one promise they share: a batch is written whole or
 * not at all, so every item of it gets the same answer. One promise per batch, not one per
 * item: at thousands of messages a second, per-item promises and closures were a good part
 * of the garbage ingest made.
 */
class Batch<T> {
  readonly items: T[] = [];
  bytes = 0;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export class GroupCommit<T> {
  /** Batches waiting for a write, oldest first; only the last one takes new items. */
  private readonly waiting: Batch<T>[] = [];
  private waitingItems = 0;
  private pendingBytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private readonly writes = new Set<Promise<void>>();
  private closed = false;
  private readonly concurrency: number;

  constructor(private readonly o: GroupCommitOptions<T>) {
    this.concurrency = o.concurrency ?? 1;
  }

  /** Items waiting for a write (not counting the ones being written). */
  get queued(): number {
    return this.waitingItems;
  }

  /** Why an item of `bytes` would be refused now, or undefined when it would be taken. */
  refusal(bytes: number): IngestOverloaded | undefined {
    if (this.closed) return new IngestOverloaded('ingest is stopping');
    if (this.pendingBytes + bytes > this.o.maxPendingBytes && this.waitingItems > 0) {
      return new IngestOverloaded(`ingest is ${this.pendingBytes} bytes behind (at most ${this.o.maxPendingBytes}); the message stays with its sender`);
    }
    return undefined;
  }

  /**
   * Resolves when the item is written; rejects when the write failed or the queue is full.
   * Items of the same write share one promise.
   */
  add(item: T, bytes: number): Promise<void> {
    const refused = this.refusal(bytes);
    if (refused !== undefined) return Promise.reject(refused);
    let batch = this.waiting[this.waiting.length - 1];
    if (batch === undefined || batch.items.length >= this.o.maxBatch) {
      batch = new Batch<T>();
      this.waiting.push(batch);
    }
    batch.items.push(item);
    batch.bytes += bytes;
    this.waitingItems += 1;
    this.pendingBytes += bytes;
    this.kick();
    return batch.done;
  }

  private kick(): void {
    if (this.scheduled || this.waitingItems === 0 || this.inFlight >= this.concurrency) return;
    this.scheduled = true;
    // Let the items of this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.startOne();
    });
  }

  private startOne(): void {
    if (this.inFlight >= this.concurrency) return;
    const batch = this.waiting.shift();
    if (batch === undefined) return;
    this.waitingItems -= batch.items.length;
    this.inFlight += 1;
    let written: Promise<void>;
    try {
      written = this.o.write(batch.items);
    } catch (err) {
      written = Promise.reject(err);
    }
    const tracked: Promise<void> = written.then(
      (): void => this.finish(batch, tracked, undefined, true),
      (err: unknown): void => this.finish(batch, tracked, err, false),
    );
    this.writes.add(tracked);
    this.kick();
  }

  private finish(batch: Batch<T>, tracked: Promise<void>, err: unknown, ok: boolean): void {
    if (ok) batch.resolve();
    else batch.reject(err);
    this.pendingBytes -= batch.bytes;
    this.inFlight -= 1;
    this.writes.delete(tracked);
    this.kick();
  }

  /** Refuses new items and waits for the ones already handed in. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writes.size > 0 || this.waitingItems > 0 || this.scheduled) {
      if (this.writes.size > 0) await Promise.all(this.writes);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
