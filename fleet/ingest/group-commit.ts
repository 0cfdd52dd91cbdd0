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
  private writing: Promise<void> | undefined;
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
    if (this.writing !== undefined || this.queue.length === 0) return;
    // Let the items of this turn of the event loop join the batch.
    this.writing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.o.maxBatch);
      const bytes = batch.reduce((n, w) => n + w.bytes, 0);
      try {
        await this.o.write(batch.map((w) => w.item));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      } finally {
        this.pendingBytes -= bytes;
      }
    }
    this.writing = undefined;
  }

  /** Refuses new items and waits for the ones already handed in. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing !== undefined) await this.writing;
  }
}
