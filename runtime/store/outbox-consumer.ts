import type { RecordClass } from '../../fleet/protocol/index.js';
import { EdgewiseError } from '../errors.js';
import type { StoredRecord } from './outbox.js';

/** The consumer every gateway has: the uplink to the fleet. */
export const FLEET_CONSUMER = 'fleet';

const CONSUMER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * What an uplink needs from the outbox: its own delivery cursor. `Outbox.consumer(name)`
 * hands one out; the outbox itself is one too, for its first consumer (see `Outbox`).
 */
export interface OutboxReader {
  /** Leases the oldest records this consumer has neither leased nor acknowledged (see `Outbox.readNext`). */
  readNext(maxRecords: number, maxBytes: number, signal?: AbortSignal): Promise<StoredRecord[]>;
  /** This consumer's broker has these records; the outbox deletes a record once every consumer acknowledged it. */
  ack(acked: readonly StoredRecord[]): void;
  /** Hands back this consumer's leases not yet acknowledged: they are read again, oldest first. */
  releaseAll(): Promise<void>;
  readonly changeVersion: number;
  waitForChange(seen: number, signal: AbortSignal): Promise<void>;
}

export interface ConsumerStats {
  /** Records stored that this consumer has not acknowledged (leased ones included). */
  readonly pending: number;
  /** Records handed to it and not acknowledged yet. */
  readonly leased: number;
  /** Records it acknowledged since the outbox opened. */
  readonly acked: number;
  /** Records evicted (or refused for low space) before it acknowledged them: what it never got. */
  readonly evictedUnsent: Readonly<Record<RecordClass, number>>;
  /** Every record up to this order suffix was acknowledged by it (null: none yet); what a restart resumes after. */
  readonly ackedThrough: string | null;
}

/** The consumers declared at open, checked: names a LevelDB key and a metric label can carry, no repeats. */
export function checkConsumerNames(names: readonly string[]): readonly string[] {
  if (names.length === 0) throw new EdgewiseError('E_CONFIG_INVALID', `outbox.consumers: expected at least one consumer (${FLEET_CONSUMER})`);
  const seen = new Set<string>();
  for (const name of names) {
    if (!CONSUMER_NAME.test(name)) throw new EdgewiseError('E_CONFIG_INVALID', `outbox.consumers: ${JSON.stringify(name)} is not a consumer name (expected 1 to 32 of a-z, 0-9, _ and -, starting with a letter)`);
    if (seen.has(name)) throw new EdgewiseError('E_CONFIG_INVALID', `outbox.consumers: ${JSON.stringify(name)} is declared twice`);
    seen.add(name);
  }
  return names;
}

/** Where the next read starts: after `suffix`, or at it (`inclusive`, after a release). */
export interface Cursor {
  readonly suffix: string;
  readonly inclusive: boolean;
}

/**
 * One consumer's delivery state. Invariants (the outbox keeps them under its mutex):
 * - `leases` holds the records handed out and not yet acknowledged (with one consumer, also
 *   those acknowledged whose delete is not written yet: see `Outbox.ackFor`), in ascending order of
 *   suffix: a read leases only records past the cursor, and only `releaseAll`, which empties
 *   `leases`, moves the cursor back. So the first entry is the oldest lease.
 * - every stored record below the cursor that is not leased was acknowledged by it;
 * - a record is acknowledged by it when its suffix is at or below `through`, or it is in `acked`.
 *   `acked` holds the rest (acknowledged, still stored because another consumer has not
 *   acknowledged it, or its delete is not written yet) and is pruned as `through` moves on.
 */
export class ConsumerState {
  cursor: Cursor | null = null;
  readonly leases = new Map<string, StoredRecord>();
  readonly acked = new Map<string, string>();
  /** Every stored record with a suffix at or below this was acknowledged by it (null: none known). */
  through: string | null = null;
  /** `through` as last written to LevelDB (multi-consumer outboxes only). */
  persistedThrough: string | null = null;
  /** Stored records it acknowledged: `pending` is the outbox's size minus this. */
  ackedStored = 0;
  ackedTotal = 0;
  readonly evictedUnsent: Record<RecordClass, number> = { telemetry: 0, result: 0, alert: 0 };

  constructor(readonly name: string) {}

  /** At open: resume after what was acknowledged before the restart. */
  resumeAfter(through: string | null): void {
    this.through = through;
    this.persistedThrough = through;
    this.cursor = through === null ? null : { suffix: through, inclusive: false };
  }

  isAcked(key: string, suffix: string): boolean {
    return (this.through !== null && suffix <= this.through) || this.acked.has(key);
  }

  /** Whether a read would skip this record: already handed to this consumer, or acknowledged by it. */
  holds(key: string): boolean {
    return this.leases.has(key) || (this.acked.size > 0 && this.acked.has(key));
  }

  /**
   * Moves `through` up to just below the oldest record not acknowledged (the oldest lease,
   * or the cursor), and forgets acknowledgements it now covers. Returns whether it moved.
   */
  advance(): boolean {
    const c = this.cursor;
    if (c === null) return false;
    let bound: string | null = c.inclusive ? previousSuffix(c.suffix) : c.suffix;
    const oldestLease = this.leases.values().next().value as StoredRecord | undefined;
    if (oldestLease !== undefined && (bound === null || oldestLease.suffix <= bound)) bound = previousSuffix(oldestLease.suffix);
    if (bound === null || (this.through !== null && bound <= this.through)) return false;
    this.through = bound;
    // Acknowledgements arrive mostly in order: prune from the front, and sweep all of it
    // only when out-of-order ones have piled up behind a newer one.
    for (const [key, suffix] of this.acked) {
      if (suffix > bound) break;
      this.acked.delete(key);
    }
    if (this.acked.size > 2 * this.leases.size + 1024) {
      for (const [key, suffix] of this.acked) if (suffix <= bound) this.acked.delete(key);
    }
    return true;
  }

  /** `ackedStored` and `ackedLeased` from the outbox: with one consumer, acknowledged records stay leased until deleted. */
  stats(size: number, ackedStored: number, ackedLeased = 0): ConsumerStats {
    return {
      pending: size - ackedStored,
      leased: this.leases.size - ackedLeased,
      acked: this.ackedTotal,
      evictedUnsent: { ...this.evictedUnsent },
      ackedThrough: this.through,
    };
  }
}

/** The suffix just before `suffix` in key order (suffixes are fixed-width lowercase hex). */
export function previousSuffix(suffix: string): string | null {
  const n = BigInt(`0x${suffix}`);
  if (n === 0n) return null;
  return (n - 1n).toString(16).padStart(suffix.length, '0');
}

/** What a consumer's handle calls in its outbox. */
export interface ConsumerOps {
  read(maxRecords: number, maxBytes: number, signal?: AbortSignal): Promise<StoredRecord[]>;
  ack(records: readonly StoredRecord[]): void;
  release(): Promise<void>;
  version(): number;
  wait(seen: number, signal: AbortSignal): Promise<void>;
  stats(): ConsumerStats;
}

/** One consumer's view of the outbox (`Outbox.consumer(name)`): its own cursor, leases and acknowledgements. */
export class OutboxConsumer implements OutboxReader {
  constructor(
    readonly name: string,
    private readonly ops: ConsumerOps,
  ) {}

  readNext(maxRecords: number, maxBytes: number, signal?: AbortSignal): Promise<StoredRecord[]> {
    return this.ops.read(maxRecords, maxBytes, signal);
  }

  ack(acked: readonly StoredRecord[]): void {
    this.ops.ack(acked);
  }

  releaseAll(): Promise<void> {
    return this.ops.release();
  }

  get changeVersion(): number {
    return this.ops.version();
  }

  waitForChange(seen: number, signal: AbortSignal): Promise<void> {
    return this.ops.wait(seen, signal);
  }

  stats(): ConsumerStats {
    return this.ops.stats();
  }
}
