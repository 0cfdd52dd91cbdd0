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

interface Waiting<T> {
  readonly item: T;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  private queue: Waiting<T>[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private readonly writes = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly o: GroupCommitOptions<T>) {}

  /** Items waiting for a write (not counting the one being written). */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when the item is written; rejects when the write failed or the queue is full. */
  add(item: T, bytes: number): Promise<void> {
    if (this.closed) return Promise.reject(new IngestOverloaded('ingest is stopping'));
    if (this.pendingBytes + bytes > this.o.maxPendingBytes && this.queue.length > 0) {
      return Promise.reject(new IngestOverloaded(`ingest is ${this.pendingBytes} bytes behind (at most ${this.o.maxPendingBytes}); the message stays with its sender`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.kick();
    });
  }

  private kick(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= (this.o.concurrency ?? 1)) return;
    this.scheduled = true;
    // Let the items of this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.startOne();
    });
  }

  private startOne(): void {
    if (this.queue.length === 0 || this.inFlight >= (this.o.concurrency ?? 1)) return;
    const batch = this.queue.splice(0, this.o.maxBatch);
    const bytes = batch.reduce((n, w) => n + w.bytes, 0);
    this.inFlight += 1;
    const done = this.o.write(batch.map((w) => w.item)).then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
    const tracked = done.finally(() => {
      this.pendingBytes -= bytes;
      this.inFlight -= 1;
      this.writes.delete(tracked);
      this.kick();
    });
    this.writes.add(tracked);
    this.kick();
  }

  /** Refuses new items and waits for the ones already handed in. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writes.size > 0 || this.queue.length > 0 || this.scheduled) {
      if (this.writes.size > 0) await Promise.all(this.writes);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
