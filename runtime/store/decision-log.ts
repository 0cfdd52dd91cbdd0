import { cborDecode, cborEncode } from '../../fleet/protocol/cbor.js';
import type { ComponentEvents } from '../health/events.js';
import { EdgewiseError } from '../errors.js';
import { writeBatch, type Database, type StoreDb } from './database.js';
import { DECISION_END, DECISION_PREFIX, decisionCutoffKey, decisionKey } from './keys.js';
import { Mutex } from './mutex.js';

export interface DecisionLogOptions {
  /** Entries older than this are deleted by the sweeper. */
  readonly retentionDays: number;
  /** Hard bound on the log's bytes; over it, the oldest entries go first. */
  readonly maxSizeBytes: number;
  readonly sync: boolean;
}

/** The model that made a decision, as the signed release named it. */
export interface ModelRef {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
}

/**
 * One alert or model decision that led to an action: what decided, on what, and why.
 * Kept on the gateway for audit; it is not part of the outbox and is never evicted by
 * telemetry pressure, only by its own retention and size bound.
 */
export interface DecisionEntry {
  readonly ts: number;
  readonly kind: 'alert' | 'decision';
  readonly stream: string;
  readonly model: ModelRef | null;
  /** A short summary of the inputs (window span, channel means, frame id...). */
  readonly inputs: unknown;
  /** What drove the decision (per-channel contributions, image regions...). */
  readonly explanation: unknown;
  readonly outcome: unknown;
  /** The outbox record that carried this decision to the fleet, if any. */
  readonly recordId: string | null;
}

export interface DecisionLogStats {
  readonly entries: number;
  readonly bytes: number;
  readonly expired: number;
  readonly evicted: number;
}

const DAY_MS = 86_400_000;

/** An append-only, time-keyed log with retention in days and a byte bound. */
export class DecisionLog {
  private readonly mutex = new Mutex();
  private entries = 0;
  private bytes = 0;
  private expired = 0;
  private evicted = 0;
  private seq = 0;

  private constructor(
    private readonly database: Database,
    private readonly options: DecisionLogOptions,
    private readonly events: ComponentEvents,
  ) {}

  private get db(): StoreDb {
    return this.database.db;
  }

  static async open(database: Database, options: DecisionLogOptions, events: ComponentEvents): Promise<DecisionLog> {
    const log = new DecisionLog(database, options, events);
    for await (const [key, value] of database.db.iterator({ gte: DECISION_PREFIX, lt: DECISION_END })) {
      log.entries += 1;
      log.bytes += key.length + value.byteLength;
    }
    return log;
  }

  stats(): DecisionLogStats {
    return { entries: this.entries, bytes: this.bytes, expired: this.expired, evicted: this.evicted };
  }

  append(entry: DecisionEntry): Promise<void> {
    return this.mutex.run(async () => {
      if (this.database.state !== 'ok') throw new EdgewiseError('E_STORE_WRITE', 'decision log: store not writable until it is reopened (disk full?)');
      const key = decisionKey(entry.ts, this.database.epoch, this.seq++);
      const value = cborEncode(entry);
      try {
        await this.db.put(key, value, { sync: this.options.sync });
        this.database.endWrite(1, 0, true);
      } catch (err) {
        this.database.markWriteFailed(err);
        throw new EdgewiseError('E_STORE_WRITE', `decision log: write failed: ${(err as Error).message}`, { cause: err });
      }
      this.entries += 1;
      this.bytes += key.length + value.byteLength;
      if (this.bytes <= this.options.maxSizeBytes) return;
      // The entry is stored; a failed eviction must not make the caller append it again.
      try {
        // Never the entry just written, even when it is back-dated and sorts oldest.
        await this.deleteOldest((k, _size, totalBefore) => (totalBefore <= this.options.maxSizeBytes ? 'stop' : k === key ? 'skip' : 'delete'), 'evicted');
      } catch (err) {
        this.database.markWriteFailed(err);
        this.events.error('decisions.evict_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message });
      }
    });
  }

  /** Entries with `ts` in [fromMs, toMs), oldest first, at most `limit`. */
  async list(fromMs: number, toMs: number, limit: number): Promise<DecisionEntry[]> {
    const out: DecisionEntry[] = [];
    for await (const [, value] of this.db.iterator({ gte: decisionCutoffKey(fromMs), lt: decisionCutoffKey(toMs), limit })) {
      out.push(cborDecode(value) as DecisionEntry);
    }
    return out;
  }

  /** Deletes entries older than the retention; returns how many went. */
  sweep(nowMs: number): Promise<number> {
    return this.mutex.run(async () => {
      if (this.database.state !== 'ok') return 0;
      const cutoff = decisionCutoffKey(nowMs - this.options.retentionDays * DAY_MS);
      return this.deleteOldest((key) => (key < cutoff ? 'delete' : 'stop'), 'expired');
    });
  }

  /** Walks from the oldest entry, deleting, skipping or stopping as `decide(key, size, bytesLeft)` says. */
  private async deleteOldest(decide: (key: string, size: number, totalBefore: number) => 'delete' | 'skip' | 'stop', reason: 'expired' | 'evicted'): Promise<number> {
    const dels: { type: 'del'; key: string }[] = [];
    let freed = 0;
    for await (const [key, value] of this.db.iterator({ gte: DECISION_PREFIX, lt: DECISION_END })) {
      const size = key.length + value.byteLength;
      const verdict = decide(key, size, this.bytes - freed);
      if (verdict === 'stop') break;
      if (verdict === 'skip') continue;
      dels.push({ type: 'del', key });
      freed += size;
    }
    if (dels.length === 0) return 0;
    await this.database.beginWrite(dels.length);
    try {
      await writeBatch(this.db, dels);
      this.database.endWrite(0, dels.length, true);
    } catch (err) {
      this.database.endWrite(0, dels.length, false);
      throw err;
    }
    this.entries -= dels.length;
    this.bytes -= freed;
    if (reason === 'expired') this.expired += dels.length;
    else this.evicted += dels.length;
    this.events.info(`decisions.${reason}`, { entries: dels.length, bytes: freed });
    return dels.length;
  }
}
