import type { FeedRecord, SparkplugFeed } from '../../runtime/uplink/sparkplug/feed.js';
import { WaitList } from '../../runtime/wait-list.js';

/**
 * A SparkplugFeed in memory, for tests: records are pushed by the test (stored "now"), handed
 * out oldest first, acked by id, and everything leased and not acked goes back to the front on
 * release. Bounded: push throws past `capacity` (a test that fills it has a bug).
 */
export class MemoryFeed implements SparkplugFeed {
  private pending: FeedRecord[] = [];
  private leased: FeedRecord[] = [];
  private readonly waiters = new WaitList();
  private n = 0;
  readonly acked = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  /** Stores a record of `sourceId` with `values` taken at `ts` (default now). */
  push(sourceId: string, values: FeedRecord['values'], ts = Date.now(), units?: Record<string, string>): FeedRecord {
    if (this.pending.length + this.leased.length >= this.capacity) throw new Error('MemoryFeed is full');
    this.n += 1;
    const r: FeedRecord = { id: `r${this.n}`, sourceId, ts, storedAtMs: Date.now(), values, ...(units === undefined ? {} : { units }) };
    this.pending.push(r);
    this.waiters.wakeAll();
    return r;
  }

  get size(): number {
    return this.pending.length + this.leased.length;
  }

  async next(max: number, signal: AbortSignal): Promise<FeedRecord[]> {
    while (this.pending.length === 0) {
      if (signal.aborted) return [];
      await this.waiters.wait(signal);
    }
    if (signal.aborted) return [];
    const out = this.pending.splice(0, max);
    this.leased.push(...out);
    return out;
  }

  ack(records: readonly FeedRecord[]): void {
    const ids = new Set(records.map((r) => r.id));
    for (const id of ids) this.acked.add(id);
    this.leased = this.leased.filter((r) => !ids.has(r.id));
  }

  release(): void {
    this.pending = [...this.leased, ...this.pending];
    this.leased = [];
    if (this.pending.length > 0) this.waiters.wakeAll();
  }
}
