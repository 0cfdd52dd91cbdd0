import { MAX_RECORD_BYTES, MAX_STREAM_LENGTH, MAX_TIMESTAMP_MS, RECORD_CLASSES, encodeRecord, type RecordClass } from '../../fleet/protocol/index.js';
import { EdgewiseError } from '../errors.js';
import type { ComponentEvents } from '../health/events.js';
import type { Checkpoint, RecordInput } from '../pipeline/record.js';
import type { Iterator as LevelIterator } from 'classic-level';
import { writeBatch, type BatchOp, type Database, type StoreDb } from './database.js';
import { CHECKPOINT_PREFIX, CONSUMER_END, CONSUMER_PREFIX, MAX_SEQ, SUFFIX_LENGTH, classPrefix, classRangeEnd, consumerKey, orderSuffix, outboxKey, recordId } from './keys.js';
import { WaitList } from '../wait-list.js';
import { Mutex } from './mutex.js';
import { ConsumerState, FLEET_CONSUMER, OutboxConsumer, checkConsumerNames, previousSuffix, type ConsumerStats, type OutboxReader } from './outbox-consumer.js';

export { FLEET_CONSUMER, OutboxConsumer, type ConsumerStats, type OutboxReader } from './outbox-consumer.js';

export interface OutboxOptions {
  /** Budget for records (key + value bytes); over it, records are evicted by class. */
  readonly maxSizeBytes: number;
  /** fsync every append batch (survives power loss) or leave it to the OS (survives kill -9 only). */
  readonly sync: boolean;
  /**
   * Who reads the outbox, each with its own delivery cursor (default: the fleet uplink alone).
   * A record is deleted once every one of them acknowledged it. A consumer stored by an earlier
   * run and not declared now is dropped at open and holds nothing back any more.
   */
  readonly consumers?: readonly string[];
}

/** A record as it sits in the outbox: its key, class and the CBOR bytes that go on the wire. */
export interface StoredRecord {
  readonly key: string;
  readonly suffix: string;
  readonly cls: RecordClass;
  readonly value: Uint8Array;
  /** Bytes charged to the budget: key length + value length. */
  readonly size: number;
}

export interface AppendResult {
  /** Per input, its record id, or null when the record was rejected. */
  readonly ids: readonly (string | null)[];
  readonly stored: number;
  /** Records of this append that were evicted at once (the budget was full of higher classes). */
  readonly evictedNow: number;
  /** Their positions in the appended array. */
  readonly evictedIndexes: ReadonlySet<number>;
  /** Positions of records refused as given, with the reason. */
  readonly rejected: ReadonlyMap<number, string>;
}

type PerClass = Record<RecordClass, number>;

export interface OutboxStats {
  readonly budgetBytes: number;
  readonly records: Readonly<PerClass>;
  readonly bytes: Readonly<PerClass>;
  readonly appended: Readonly<PerClass>;
  /** Bytes (keys and values) of every record appended since start, evicted or not: what was written. */
  readonly appendedBytes: number;
  readonly evicted: Readonly<PerClass>;
  /** Records handed out and not acknowledged yet, summed over the consumers. */
  readonly leased: number;
  readonly writeErrors: number;
  /** Records refused as given (see `append`). */
  readonly rejected: number;
  /** Telemetry and results refused while the filesystem was below its free-space watermark (also counted in `evicted`). */
  readonly refusedLowSpace: number;
  /** Per consumer, in the order declared. */
  readonly consumers: Readonly<Record<string, ConsumerStats>>;
}


const zero = (): PerClass => ({ telemetry: 0, result: 0, alert: 0 });
const DELETE_FLUSH_RECORDS = 2048;
/** Records deleted per LevelDB batch at open, when a dropped consumer leaves records every other one acknowledged. */
const OPEN_DELETE_BATCH = 4096;
const SUFFIX = new RegExp(`^[0-9a-f]{${SUFFIX_LENGTH}}$`);
const RECOVERY_MIN_DELAY_MS = 1000;
const RECOVERY_MAX_DELAY_MS = 30_000;

interface FreshRecord extends StoredRecord {
  /** Position in the appended array. */
  readonly index: number;
}

/** The record's wire bytes, or why it cannot be stored. */
function encodeInput(id: string, input: RecordInput): Uint8Array | string {
  if (typeof input.stream !== 'string' || input.stream.length === 0 || input.stream.length > MAX_STREAM_LENGTH) {
    return `stream: expected a name of 1 to ${MAX_STREAM_LENGTH} characters, got ${JSON.stringify(String(input.stream).slice(0, 40))}`;
  }
  if (!(RECORD_CLASSES as readonly string[]).includes(input.class)) return `class: expected one of ${RECORD_CLASSES.join(', ')}, got ${JSON.stringify(input.class)}`;
  if (typeof input.ts !== 'number' || !(input.ts >= 0 && input.ts <= MAX_TIMESTAMP_MS)) return `ts: expected ms since 1970 (0 to ${MAX_TIMESTAMP_MS}), got ${String(input.ts)}`;
  let value: Uint8Array;
  try {
    value = encodeRecord({ id, stream: input.stream, class: input.class, ts: input.ts, data: input.data });
  } catch (err) {
    return `data: not encodable as CBOR (${(err as Error).message})`;
  }
  if (value.byteLength > MAX_RECORD_BYTES) return `record of ${value.byteLength} bytes: expected at most ${MAX_RECORD_BYTES} (one MQTT batch)`;
  return value;
}


/**
 * The durable, ordered, bounded queue of records waiting for the fleet (and for any other
 * uplink declared as a consumer, such as a Sparkplug B edge node to the plant's broker).
 *
 * Order: keys are `{epoch}{seq}` (see keys.ts), so reading oldest-first is a merge of the
 * three class ranges by suffix. Delivery, per consumer (`consumer(name)`): `readNext` leases
 * records to an uplink, `ack` marks them delivered (after the broker's PUBACK), `releaseAll`
 * hands leases back after a lost connection so they are read again. A record is deleted once
 * every consumer acknowledged it. With one consumer that delete is the whole record of the
 * acknowledgement; with more, each consumer's acknowledged-through suffix is written in the
 * batch of the deletes (`u!{name}`, keys.ts), so after a kill -9 each resumes where it was
 * (records it acknowledged out of order above that come again: redelivery, never loss).
 * The outbox's own `readNext`, `ack` and `releaseAll` are those of the first consumer.
 *
 * Budget: `append` evicts the oldest records no consumer has leased, of the lowest class
 * first, in the same LevelDB batch as the new records, and counts per consumer what it
 * evicted before that consumer acknowledged it (`evictedUnsent`).
 *
 * Every operation runs under one mutex: counters, leases and cursors stay exact.
 */
export class Outbox implements OutboxReader {
  private readonly mutex = new Mutex();
  private readonly records = zero();
  private readonly bytes = zero();
  private readonly appended = zero();
  private appendedBytes = 0;
  private readonly evicted = zero();
  private writeErrors = 0;
  private rejectedTotal = 0;
  private seq = 0;
  private epoch: number;
  /** Per consumer: its cursor, leases and acknowledgements, in the order declared. */
  private readonly consumers: readonly ConsumerState[];
  private readonly primary: ConsumerState;
  /** More than one consumer: acknowledgements are kept per consumer and cursors persisted. */
  private readonly shared: boolean;
  /** An acknowledgement may have moved a consumer's acknowledged-through suffix: write it with the next flush. */
  private cursorsDirty = false;
  /** Per class, the suffix after which eviction looks for victims (null: from the oldest). */
  private readonly evictAfter: Record<RecordClass, string | null> = { telemetry: null, result: null, alert: null };
  /**
   * Per class, a suffix no stored record is above (null: unknown, read to find out). A reader
   * whose cursor is at or past it has nothing new in that class, so `readNext` skips the
   * LevelDB iterator: at a few records a second the uplink asked twice per record (once for
   * the record, once to find nothing), and each iterator is a native object V8 keeps until a
   * major collection.
   */
  private readonly newest: Record<RecordClass, string | null> = { telemetry: null, result: null, alert: null };
  private pendingDeletes: StoredRecord[] = [];
  private readonly pendingDeleteKeys = new Set<string>();
  private deleteTimer: NodeJS.Immediate | undefined;
  private flushing: Promise<void> | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private version = 0;
  private readonly changeWaiters = new WaitList();
  private readonly handles = new Map<string, OutboxConsumer>();
  private closed = false;

  private constructor(
    private readonly database: Database,
    private readonly options: OutboxOptions,
    private readonly events: ComponentEvents,
  ) {
    this.epoch = database.epoch;
    this.consumers = checkConsumerNames(options.consumers ?? [FLEET_CONSUMER]).map((name) => new ConsumerState(name));
    this.primary = this.consumers[0] as ConsumerState;
    this.shared = this.consumers.length > 1;
    database.onDamaged(() => this.scheduleRecovery(RECOVERY_MIN_DELAY_MS));
  }

  /**
   * Tries to reopen a damaged store in the background, with backoff, so the outbox heals
   * even when no source is writing (a failed delete, an idle gateway).
   */
  private scheduleRecovery(delayMs: number): void {
    if (this.recoveryTimer !== undefined || this.closed) return;
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      this.mutex
        .run(async () => {
          if (this.closed || this.database.state === 'ok') return;
          await this.recover();
        })
        .then(
          () => this.flushInBackground(),
          (err: unknown) => {
            this.events.warn('outbox.recovery_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message, retryInMs: Math.min(delayMs * 2, RECOVERY_MAX_DELAY_MS) });
            this.scheduleRecovery(Math.min(delayMs * 2, RECOVERY_MAX_DELAY_MS));
          },
        );
    }, delayMs);
  }

  private reservedBytes = 0;
  private limitBytes = Number.POSITIVE_INFINITY;
  private lowSpace = false;
  private refusedLowSpace = 0;

  /**
   * The records' share of the data directory's budget as measured on disk (store-budget.ts):
   * the next append evicts down to it. Records always keep a tenth of the budget.
   */
  limitTo(bytes: number): void {
    this.limitBytes = Math.max(0, bytes);
  }

  /**
   * While the filesystem is below its free-space watermark, appends store alerts only:
   * telemetry and results are refused (and counted as evicted), so whatever fills the disk,
   * the outbox stops adding to it before LevelDB's writes fail.
   */
  setLowSpace(low: boolean): void {
    this.lowSpace = low;
  }

  get isLowSpace(): boolean {
    return this.lowSpace;
  }

  /**
   * Bytes of the storage budget used by something else on the same disk (the model slots):
   * the records get what is left, and the next append evicts down to it. Records always keep
   * a tenth of the budget.
   */
  reserve(bytes: number): void {
    this.reservedBytes = Math.max(0, bytes);
  }

  /** The records' share of the storage budget. */
  budgetBytes(): number {
    return Math.max(Math.floor(this.options.maxSizeBytes / 10), Math.min(this.limitBytes, this.options.maxSizeBytes - this.reservedBytes));
  }

  /** Opens the outbox on an opened database, counting what is already stored (one scan). */
  static async open(database: Database, options: OutboxOptions, events: ComponentEvents): Promise<Outbox> {
    const outbox = new Outbox(database, options, events);
    const started = Date.now();
    const { dropped, deleted } = await outbox.loadConsumers();
    await outbox.countStored();
    events.info('outbox.opened', {
      records: { ...outbox.records },
      bytes: outbox.totalBytes(),
      budgetBytes: options.maxSizeBytes,
      consumers: outbox.consumers.map((c) => c.name),
      scanMs: Date.now() - started,
    });
    if (dropped.length > 0) events.warn('outbox.consumers_dropped', { code: 'E_STORE_CONSUMER', dropped, deletedRecords: deleted });
    return outbox;
  }

  /**
   * Reads the consumers' acknowledged-through suffixes and drops those of consumers no longer
   * declared. Records that every declared consumer acknowledged (held back only by a dropped
   * one) are deleted now. With one consumer left its cursor goes too: its acknowledgements
   * are deletes again, and every record still stored is one it has not acknowledged.
   */
  private async loadConsumers(): Promise<{ dropped: string[]; deleted: number }> {
    const stored = new Map<string, string | null>();
    for (const [key, value] of await this.db.iterator({ gte: CONSUMER_PREFIX, lt: CONSUMER_END }).all()) {
      const text = Buffer.from(value).toString('latin1');
      // A damaged value resumes that consumer from the oldest record: redelivery, not loss.
      stored.set(key.slice(CONSUMER_PREFIX.length), SUFFIX.test(text) ? text : null);
    }
    const declared = new Set(this.consumers.map((c) => c.name));
    const dropped = [...stored.keys()].filter((name) => !declared.has(name));
    // Acknowledged by every declared consumer: at or below the lowest of their suffixes.
    const throughs = this.consumers.map((c) => stored.get(c.name) ?? null);
    const bound = throughs.includes(null) ? null : (throughs as string[]).reduce((a, b) => (b < a ? b : a));
    const staleKeys = [...dropped, ...(this.shared || !stored.has(this.primary.name) ? [] : [this.primary.name])].map(consumerKey);
    const deleted = await this.deleteThrough(bound, staleKeys);
    for (const c of this.consumers) c.resumeAfter(this.shared ? (stored.get(c.name) ?? null) : null);
    return { dropped, deleted };
  }

  /** Deletes every record with a suffix at or below `bound`, in batches, and then `keys`. */
  private async deleteThrough(bound: string | null, keys: readonly string[]): Promise<number> {
    let deleted = 0;
    const write = async (ops: BatchOp[], records: number): Promise<void> => {
      await this.database.beginWrite(records);
      try {
        await writeBatch(this.db, ops);
        this.database.endWrite(0, records, true);
      } catch (err) {
        this.database.endWrite(0, records, false);
        throw new EdgewiseError('E_STORE_WRITE', `outbox: deleting records every consumer acknowledged failed: ${(err as Error).message}`, { cause: err });
      }
      deleted += records;
    };
    if (bound !== null) {
      for (const cls of RECORD_CLASSES) {
        const it = this.db.keys({ gte: classPrefix(cls), lte: outboxKey(cls, bound) });
        try {
          for (;;) {
            const found = await it.nextv(OPEN_DELETE_BATCH);
            if (found.length === 0) break;
            await write(found.map((key) => ({ type: 'del' as const, key })), found.length);
          }
        } finally {
          await it.close();
        }
      }
    }
    if (keys.length > 0) await write(keys.map((key) => ({ type: 'del' as const, key })), 0);
    return deleted;
  }

  private get db(): StoreDb {
    return this.database.db;
  }

  /** Recounts records and bytes per class from LevelDB (at open, and after a reopen). */
  private async countStored(): Promise<void> {
    for (const c of this.consumers) c.ackedStored = 0;
    // Only consumers that have acknowledged anything can count a stored record as theirs.
    const acking = this.consumers.filter((c) => c.through !== null || c.acked.size > 0);
    for (const cls of RECORD_CLASSES) {
      this.records[cls] = 0;
      this.bytes[cls] = 0;
      this.newest[cls] = null;
      const it = this.db.iterator({ gte: classPrefix(cls), lt: classRangeEnd(cls) });
      try {
        for (;;) {
          const entries = await it.nextv(4096);
          if (entries.length === 0) break;
          for (const [key, value] of entries) {
            this.records[cls] += 1;
            this.bytes[cls] += key.length + value.byteLength;
            const suffix = key.slice(key.length - SUFFIX_LENGTH);
            this.newest[cls] = suffix;
            for (const c of acking) if (c.isAcked(key, suffix)) c.ackedStored += 1;
          }
        }
      } finally {
        await it.close();
      }
    }
  }

  /**
   * After a failed write: reopen LevelDB (a new epoch, so new keys still sort last), recount,
   * and only then write again. Throws while the cause persists; the caller retries.
   */
  private async recover(): Promise<void> {
    await this.database.reopen();
    this.epoch = this.database.epoch;
    this.seq = 0;
    await this.countStored();
    this.events.info('outbox.recovered', { epoch: this.epoch, records: { ...this.records } });
    this.notify();
  }

  private totalBytes(): number {
    return this.bytes.telemetry + this.bytes.result + this.bytes.alert;
  }

  /** Number of records stored (not counting acked records whose delete is still pending). */
  get size(): number {
    return this.records.telemetry + this.records.result + this.records.alert;
  }

  stats(): OutboxStats {
    return {
      budgetBytes: this.budgetBytes(),
      records: { ...this.records },
      bytes: { ...this.bytes },
      appended: { ...this.appended },
      appendedBytes: this.appendedBytes,
      evicted: { ...this.evicted },
      leased: this.consumers.reduce((n, c) => n + c.leases.size, 0) - (this.shared ? 0 : this.pendingDeleteKeys.size),
      writeErrors: this.writeErrors,
      rejected: this.rejectedTotal,
      refusedLowSpace: this.refusedLowSpace,
      consumers: Object.fromEntries(this.consumers.map((c) => [c.name, this.consumerStats(c)])),
    };
  }

  private consumerStats(c: ConsumerState): ConsumerStats {
    // One consumer: what it acknowledged is what waits for its delete (see ackFor).
    return this.shared ? c.stats(this.size, c.ackedStored) : c.stats(this.size, this.pendingDeleteKeys.size, this.pendingDeleteKeys.size);
  }

  /** The names declared at open, the first being the one `readNext`, `ack` and `releaseAll` serve. */
  get consumerNames(): readonly string[] {
    return this.consumers.map((c) => c.name);
  }

  /** The delivery handle of a declared consumer; one per name, the same object each call. */
  consumer(name: string): OutboxConsumer {
    const state = this.consumers.find((c) => c.name === name);
    if (state === undefined) throw new EdgewiseError('E_CONFIG_INVALID', `outbox: no consumer ${JSON.stringify(name)} was declared at open (declared: ${this.consumerNames.join(', ')})`);
    let handle = this.handles.get(name);
    if (handle === undefined) {
      handle = new OutboxConsumer(name, {
        read: (maxRecords, maxBytes, signal) => this.readFor(state, maxRecords, maxBytes, signal),
        ack: (records) => this.ackFor(state, records),
        release: () => this.releaseFor(state),
        version: () => this.version,
        wait: (seen, signal) => this.waitForChange(seen, signal),
        stats: () => this.consumerStats(state),
      });
      this.handles.set(name, handle);
    }
    return handle;
  }

  /**
   * Stores records in one LevelDB batch and resolves only when LevelDB has it, which is the
   * moment a source may be told its records are safe. Evicts to stay within the budget.
   * A record that cannot be stored as given (not CBOR-encodable, too large, a bad stream
   * name or timestamp) is rejected on its own; the rest of the batch goes ahead.
   *
   * `checkpoints` are written in the same batch (atomically with the records: both or
   * neither survive a crash); a later one of the same key wins.
   */
  append(inputs: readonly RecordInput[], checkpoints: readonly Checkpoint[] = []): Promise<AppendResult> {
    if (inputs.length === 0 && checkpoints.length === 0) return Promise.resolve({ ids: [], stored: 0, evictedNow: 0, evictedIndexes: new Set(), rejected: new Map() });
    return this.mutex.run(async () => {
      this.assertOpen();
      if (this.database.state !== 'ok') {
        try {
          await this.recover();
        } catch (err) {
          this.writeErrors += 1;
          throw new EdgewiseError('E_STORE_WRITE', `outbox: store not writable: ${(err as Error).message}`, { cause: err });
        }
      }
      if (this.seq + inputs.length > MAX_SEQ) {
        throw new EdgewiseError('E_STORE_WRITE', 'outbox: sequence space of this epoch is exhausted; restart the gateway');
      }
      const fresh: FreshRecord[] = [];
      const ids: (string | null)[] = [];
      const rejected = new Map<number, string>();
      let added = 0;
      inputs.forEach((input, index) => {
        const seq = this.seq;
        const id = recordId(this.database.dbId, this.epoch, seq);
        const encoded = encodeInput(id, input);
        if (typeof encoded === 'string') {
          rejected.set(index, encoded);
          ids.push(null);
          return;
        }
        this.seq += 1;
        const suffix = orderSuffix(this.epoch, seq);
        const key = outboxKey(input.class, suffix);
        fresh.push({ key, suffix, cls: input.class, value: encoded, size: key.length + encoded.byteLength, index });
        ids.push(id);
        added += key.length + encoded.byteLength;
      });
      this.rejectedTotal += rejected.size;

      const refused = new Set<number>();
      if (this.lowSpace) {
        fresh.forEach((rec, i) => {
          if (rec.cls === 'alert') return;
          refused.add(i);
          added -= rec.size;
        });
        this.refusedLowSpace += refused.size;
      }
      const savedEvictAfter = { ...this.evictAfter };
      const excess = this.totalBytes() + added - this.budgetBytes();
      const plan: { victims: StoredRecord[]; freshEvicted: Set<number> } =
        excess > 0 ? await this.planEviction(excess, fresh.filter((_, i) => !refused.has(i))) : { victims: [], freshEvicted: new Set<number>() };
      if (refused.size > 0) {
        // planEviction saw the accepted records only: map its indexes back, add the refused.
        const accepted = fresh.map((_, i) => i).filter((i) => !refused.has(i));
        const freshEvicted = new Set<number>(refused);
        for (const j of plan.freshEvicted) freshEvicted.add(accepted[j] as number);
        plan.freshEvicted = freshEvicted;
      }

      const ops: BatchOp[] = [];
      for (const victim of plan.victims) ops.push({ type: 'del', key: victim.key });
      fresh.forEach((rec, i) => {
        if (!plan.freshEvicted.has(i)) ops.push({ type: 'put', key: rec.key, value: rec.value });
      });
      const puts = ops.length - plan.victims.length;
      const latest = new Map<string, Uint8Array>();
      for (const c of checkpoints) latest.set(c.key, c.value);
      for (const [key, value] of latest) ops.push({ type: 'put', key: CHECKPOINT_PREFIX + key, value });
      await this.database.beginWrite(plan.victims.length);
      try {
        if (ops.length > 0) await writeBatch(this.db, ops, { sync: this.options.sync });
        this.database.endWrite(puts, plan.victims.length, true);
      } catch (err) {
        this.database.endWrite(puts, plan.victims.length, false);
        Object.assign(this.evictAfter, savedEvictAfter);
        this.writeErrors += 1;
        this.database.markWriteFailed(err);
        throw new EdgewiseError('E_STORE_WRITE', `outbox: write of ${inputs.length} records failed: ${(err as Error).message}`, { cause: err });
      }

      const evictedNow: PerClass = zero();
      for (const victim of plan.victims) {
        this.records[victim.cls] -= 1;
        this.bytes[victim.cls] -= victim.size;
        evictedNow[victim.cls] += 1;
        for (const c of this.consumers) {
          if (c.isAcked(victim.key, victim.suffix)) {
            c.ackedStored -= 1;
            c.acked.delete(victim.key);
          } else {
            c.evictedUnsent[victim.cls] += 1;
          }
        }
      }
      const evictedIndexes = new Set<number>();
      fresh.forEach((rec, i) => {
        this.appended[rec.cls] += 1;
        this.appendedBytes += rec.size;
        if (plan.freshEvicted.has(i)) {
          evictedNow[rec.cls] += 1;
          evictedIndexes.add(rec.index);
          for (const c of this.consumers) c.evictedUnsent[rec.cls] += 1;
        } else {
          this.records[rec.cls] += 1;
          this.bytes[rec.cls] += rec.size;
          const newest = this.newest[rec.cls];
          if (newest === null || rec.suffix > newest) this.newest[rec.cls] = rec.suffix;
        }
      });
      for (const cls of RECORD_CLASSES) this.evicted[cls] += evictedNow[cls];
      if (plan.victims.length > 0 || plan.freshEvicted.size > refused.size) {
        this.events.warn('outbox.evicted', { code: 'E_STORE_BUDGET', evicted: evictedNow, budgetBytes: this.budgetBytes() });
      }
      this.notify();
      return { ids, stored: fresh.length - plan.freshEvicted.size, evictedNow: plan.freshEvicted.size, evictedIndexes, rejected };
    });
  }

  /** The checkpoint last written (with records) under `key`, or undefined. */
  readCheckpoint(key: string): Promise<Uint8Array | undefined> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const v = await this.db.get(CHECKPOINT_PREFIX + key);
      return v === undefined ? undefined : Uint8Array.from(v);
    });
  }

  /**
   * Chooses what to evict to free `excess` bytes: the oldest unleased records of the lowest
   * class first, then that class's records of this very append, then the next class.
   */
  private async planEviction(excess: number, fresh: readonly StoredRecord[]): Promise<{ victims: StoredRecord[]; freshEvicted: Set<number> }> {
    const victims: StoredRecord[] = [];
    const freshEvicted = new Set<number>();
    let freed = 0;
    for (const cls of RECORD_CLASSES) {
      if (freed >= excess) break;
      const lowerSuffix = this.evictAfter[cls];
      const it = this.db.iterator({ gt: lowerSuffix === null ? classPrefix(cls) : outboxKey(cls, lowerSuffix), lt: classRangeEnd(cls) });
      // classic-level keeps each iterator's last read (and a reserve of `size` entries) in
      // native memory until V8 collects the iterator: read what the excess needs, growing.
      let readSize = 4;
      try {
        scan: for (;;) {
          const entries = await it.nextv(readSize);
          readSize = Math.min(256, readSize * 4);
          if (entries.length === 0) break;
          for (const [key, value] of entries) {
            const suffix = key.slice(key.length - SUFFIX_LENGTH);
            this.evictAfter[cls] = suffix;
            // A leased record is on its way to a broker; evicting it would only race the ack.
            // One acknowledged by all waits for its delete: it must not be counted twice.
            if (this.leasedByAny(key) || this.pendingDeleteKeys.has(key)) continue;
            victims.push({ key, suffix, cls, value, size: key.length + value.byteLength });
            freed += key.length + value.byteLength;
            if (freed >= excess) break scan;
          }
        }
      } finally {
        await it.close();
      }
      if (freed >= excess) break;
      fresh.forEach((rec, index) => {
        if (freed < excess && rec.cls === cls) {
          freshEvicted.add(index);
          freed += rec.size;
        }
      });
    }
    return { victims, freshEvicted };
  }

  /**
   * Leases the oldest records not yet leased to the first consumer nor acknowledged by it, at
   * most `maxRecords` and `maxBytes` of values (but always at least one record when any is
   * waiting). With `signal`, leases nothing once it is aborted: a reader whose connection died
   * cannot take records after `releaseAll` handed that connection's leases back (they would be
   * skipped until the next release). Other consumers: `consumer(name).readNext`.
   */
  readNext(maxRecords: number, maxBytes: number, signal?: AbortSignal): Promise<StoredRecord[]> {
    return this.readFor(this.primary, maxRecords, maxBytes, signal);
  }

  private readFor(consumer: ConsumerState, maxRecords: number, maxBytes: number, signal?: AbortSignal): Promise<StoredRecord[]> {
    return this.mutex.run(async () => {
      this.assertOpen();
      // While the store is not writable, acks could not be deleted: lease nothing new.
      if (signal?.aborted === true || this.database.state !== 'ok') return [];
      const found: StoredRecord[] = [];
      // Each class is read up to maxRecords: past the last record read of a class that may have
      // more, a record of another class cannot be taken (one of the first could come before it).
      let bound: string | undefined;
      for (const cls of RECORD_CLASSES) {
        if (this.records[cls] === 0) continue;
        const c = consumer.cursor;
        const newest = this.newest[cls];
        if (c !== null && newest !== null && (c.inclusive ? c.suffix > newest : c.suffix >= newest)) continue;
        const range = c === null ? { gte: classPrefix(cls) } : c.inclusive ? { gte: outboxKey(cls, c.suffix) } : { gt: outboxKey(cls, c.suffix) };
        const entries = await readGrowing(this.db.iterator({ ...range, lt: classRangeEnd(cls), limit: maxRecords }), maxRecords);
        for (const [key, value] of entries) {
          found.push({ key, suffix: key.slice(key.length - SUFFIX_LENGTH), cls, value, size: key.length + value.byteLength });
        }
        const lastRead = found[found.length - 1];
        if (entries.length >= maxRecords && lastRead !== undefined && (bound === undefined || lastRead.suffix < bound)) bound = lastRead.suffix;
      }
      found.sort((a, b) => (a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0));
      const batch: StoredRecord[] = [];
      let valueBytes = 0;
      // The last record passed over: batched, or skipped as already held by this consumer
      // (leased, or acknowledged and kept for another consumer). The cursor moves past it
      // even when nothing was batched, or a read would find the same held records for ever.
      let passed: StoredRecord | undefined;
      for (const rec of found) {
        if (batch.length >= maxRecords || (bound !== undefined && rec.suffix > bound)) break;
        if (batch.length > 0 && valueBytes + rec.value.byteLength > maxBytes) break;
        passed = rec;
        if (consumer.holds(rec.key)) continue;
        batch.push(rec);
        valueBytes += rec.value.byteLength;
      }
      // The reads above yielded: the connection may have died meanwhile.
      if (isAborted(signal)) return [];
      if (passed !== undefined) {
        consumer.cursor = { suffix: passed.suffix, inclusive: false };
        for (const rec of batch) consumer.leases.set(rec.key, rec);
      }
      return batch;
    });
  }

  /** The first consumer's broker has these records (see `consumer(name).ack` for the others). */
  ack(acked: readonly StoredRecord[]): void {
    this.ackFor(this.primary, acked);
  }

  /**
   * `consumer` has these records: once every consumer has, they are deleted (coalesced into
   * few LevelDB batches). An ack for a record it does not hold leased (released meanwhile) is
   * ignored: the record comes again.
   */
  private ackFor(consumer: ConsumerState, acked: readonly StoredRecord[]): void {
    if (!this.shared) {
      // One consumer: its acknowledgement is the delete. The record stays leased until the
      // delete is written: the single-cursor outbox's path, kept as it was, with no
      // per-consumer acknowledgement map to fill and empty for every record.
      for (const rec of acked) {
        if (!consumer.leases.has(rec.key) || this.pendingDeleteKeys.has(rec.key)) continue;
        consumer.ackedTotal += 1;
        this.pendingDeletes.push(rec);
        this.pendingDeleteKeys.add(rec.key);
      }
    } else {
      this.ackShared(consumer, acked);
    }
    if (this.pendingDeletes.length >= DELETE_FLUSH_RECORDS) {
      this.flushInBackground();
    } else if (this.deleteTimer === undefined) {
      this.deleteTimer = setImmediate(() => {
        this.deleteTimer = undefined;
        this.flushInBackground();
      });
    }
  }

  /** Several consumers: the record leaves the consumer's leases for its acknowledgements; the last one to acknowledge it deletes it. */
  private ackShared(consumer: ConsumerState, acked: readonly StoredRecord[]): void {
    for (const rec of acked) {
      if (!consumer.leases.delete(rec.key)) continue;
      consumer.acked.set(rec.key, rec.suffix);
      consumer.ackedTotal += 1;
      consumer.ackedStored += 1;
      this.cursorsDirty = true;
      if (!this.consumers.every((c) => c === consumer || c.isAcked(rec.key, rec.suffix))) continue;
      if (this.pendingDeleteKeys.has(rec.key)) continue;
      this.pendingDeletes.push(rec);
      this.pendingDeleteKeys.add(rec.key);
    }
  }

  private leasedByAny(key: string): boolean {
    for (const c of this.consumers) if (c.leases.has(key)) return true;
    return false;
  }

  private flushInBackground(): void {
    this.flushDeletes().catch((err: unknown) => {
      this.events.error('outbox.delete_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message });
    });
  }

  /**
   * Writes pending deletes, and with several consumers the acknowledged-through suffixes that
   * moved, in one batch. Not fsynced: a lost delete or cursor only means a duplicate.
   * Acknowledged records stay marked as such until their delete is written, so eviction never
   * counts them twice and a release never sends them again.
   */
  flushDeletes(): Promise<void> {
    // After the flush in progress, another caller queued on it earlier may already have
    // started the next one with what is pending: wait for that one too.
    if (this.flushing !== undefined) {
      return this.flushing.then(() => ((this.pendingDeletes.length > 0 || this.cursorsDirty || this.flushing !== undefined) && this.database.state === 'ok' ? this.flushDeletes() : undefined));
    }
    if (this.pendingDeletes.length === 0 && !this.cursorsDirty) return Promise.resolve();
    const batch = this.pendingDeletes;
    this.pendingDeletes = [];
    this.flushing = this.mutex
      .run(async () => {
        if (this.closed) return;
        if (this.database.state !== 'ok') {
          // They wait for the reopen; the uplink leases nothing new meanwhile (see readNext).
          this.pendingDeletes = batch.concat(this.pendingDeletes);
          return;
        }
        const ops: BatchOp[] = batch.map((rec) => ({ type: 'del' as const, key: rec.key }));
        const moved: [ConsumerState, string][] = [];
        if (this.cursorsDirty) {
          this.cursorsDirty = false;
          for (const c of this.consumers) {
            c.advance();
            if (c.through !== null && c.through !== c.persistedThrough) moved.push([c, c.through]);
          }
          for (const [c, through] of moved) ops.push({ type: 'put', key: consumerKey(c.name), value: Buffer.from(through, 'latin1') });
        }
        if (ops.length === 0) return;
        await this.database.beginWrite(batch.length);
        try {
          await writeBatch(this.db, ops);
          this.database.endWrite(0, batch.length, true);
        } catch (err) {
          this.database.endWrite(0, batch.length, false);
          this.writeErrors += 1;
          this.database.markWriteFailed(err);
          this.pendingDeletes = batch.concat(this.pendingDeletes);
          if (moved.length > 0) this.cursorsDirty = true;
          this.events.error('outbox.delete_failed', { code: 'E_STORE_WRITE', records: batch.length, reason: (err as Error).message });
          return;
        }
        for (const [c, through] of moved) c.persistedThrough = through;
        if (!this.shared) {
          for (const rec of batch) {
            this.pendingDeleteKeys.delete(rec.key);
            if (!this.primary.leases.delete(rec.key)) continue;
            this.records[rec.cls] -= 1;
            this.bytes[rec.cls] -= rec.size;
          }
          return;
        }
        for (const rec of batch) {
          this.pendingDeleteKeys.delete(rec.key);
          this.records[rec.cls] -= 1;
          this.bytes[rec.cls] -= rec.size;
          for (const c of this.consumers) {
            c.acked.delete(rec.key);
            c.ackedStored -= 1;
          }
        }
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /**
   * Hands back every lease of the first consumer not yet acknowledged (the connection they went
   * out on is gone): its next `readNext` starts again at the oldest of them, so nothing is
   * skipped. Other consumers: `consumer(name).releaseAll`.
   */
  releaseAll(): Promise<void> {
    return this.releaseFor(this.primary);
  }

  private async releaseFor(consumer: ConsumerState): Promise<void> {
    await this.flushDeletes();
    await this.mutex.run(async () => {
      let oldest: StoredRecord | undefined;
      for (const rec of [...consumer.leases.values()]) {
        // One consumer: acknowledged, it stays leased until its delete is written (see ackFor).
        if (this.pendingDeleteKeys.has(rec.key)) continue;
        consumer.leases.delete(rec.key);
        if (oldest === undefined || rec.suffix < oldest.suffix) oldest = rec;
        const after = this.evictAfter[rec.cls];
        if (after !== null && rec.suffix <= after) this.evictAfter[rec.cls] = previousSuffix(rec.suffix);
      }
      if (oldest !== undefined) consumer.cursor = { suffix: oldest.suffix, inclusive: true };
      this.notify();
    });
  }

  /** A number that changes whenever records were added or released: see `waitForChange`. */
  get changeVersion(): number {
    return this.version;
  }

  /** Resolves once `changeVersion` differs from `seen`, or the signal aborts. */
  waitForChange(seen: number, signal: AbortSignal): Promise<void> {
    if (this.version !== seen) return Promise.resolve();
    return this.changeWaiters.wait(signal);
  }

  private notify(): void {
    this.version += 1;
    this.changeWaiters.wakeAll();
  }

  private assertOpen(): void {
    if (this.closed) throw new EdgewiseError('E_STORE_CLOSED', 'outbox: used after close');
  }

  /** Flushes pending deletes; afterwards every call fails with E_STORE_CLOSED. */
  async close(): Promise<void> {
    if (this.deleteTimer !== undefined) clearImmediate(this.deleteTimer);
    this.deleteTimer = undefined;
    clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    await this.flushDeletes();
    await this.mutex.run(async () => {
      this.closed = true;
    });
    this.notify();
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * Up to `max` entries of an iterator, read in growing steps (8, 32, 128, ... entries), then the
 * iterator closed. classic-level reserves room for a whole step in native memory on the
 * threadpool thread that reads (`NextWorker`: a vector of `size` entries) and frees it only when
 * V8 collects the iterator: `all()` on an iterator limited to the uplink's batch (2000 records)
 * reserved 2000 entries for every read, even for the one record an idle gateway has, and those
 * reserves piled up in the threads' malloc arenas between collections (heaptrack: 16.5 MB at
 * peak from `NextWorker::DoExecute` in 9 idle minutes). A backlog costs two more calls (a call
 * returns at most 16 KiB of records anyway, so a batch took several before).
 */
async function readGrowing(it: LevelIterator<StoreDb, string, Uint8Array>, max: number): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [];
  try {
    for (let step = 8; out.length < max; step = Math.min(step * 4, 1024)) {
      // Fewer than asked is not the end: nextv also stops at 16 KiB of data (highWaterMarkBytes).
      const entries = await it.nextv(Math.min(step, max - out.length));
      if (entries.length === 0) break;
      out.push(...entries);
    }
  } finally {
    await it.close();
  }
  return out;
}
