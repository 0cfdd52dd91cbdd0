import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { EdgewiseError } from '../errors.js';
import type { ComponentEvents } from '../health/events.js';
import { MAX_EPOCH, META_DBID, META_EPOCH, keyEpoch } from './keys.js';
import { discardSnapshot, keepOriginals, logRecoveryDrops, makeAsideDir, moveLevelFiles, snapshotLevelFiles, writeAsideReport } from './store-repair.js';
import { StoreTally, readTally, tallyIsTrustworthy } from './store-tally.js';

/** classic-level, which `level` is on Node: its `compactRange` and table options are used here. */
export type StoreDb = ClassicLevel<string, Uint8Array>;

export type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/**
 * Writes `ops` as one LevelDB batch (atomic: all or none), through a chained batch:
 * abstract-level's array form copies and re-checks every operation in JavaScript, which cost
 * 16 us of CPU a 500-byte put against 7 us this way (classic-level 3, 40 puts a batch).
 */
export async function writeBatch(db: StoreDb, ops: readonly BatchOp[], options: { sync?: boolean } = {}): Promise<void> {
  const batch = db.batch();
  try {
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
  } catch (err) {
    await batch.close();
    throw err;
  }
  // A batch whose write fails is closed by it.
  await batch.write(options);
}

/**
 * - `ok`: reads and writes go ahead;
 * - `damaged`: a write failed (disk full, I/O error). LevelDB keeps serving reads, but a
 *   write it accepts after a failed log write can be lost at the next open (checked here:
 *   on a full tmpfs, a put that resolved after the space came back was gone after reopen).
 *   So no write goes ahead until the database has been reopened;
 * - `down`: reopening failed (the disk is still full); nothing is open.
 */
export type DatabaseState = 'ok' | 'damaged' | 'down';

export interface DatabaseOptions {
  /**
   * LevelDB's memtable size: its write-ahead log grows to about this before it is turned
   * into a table and deleted (classic-level's default is 4 MiB). See store-budget.ts.
   */
  readonly writeBufferSize?: number;
  /** LevelDB's table file size (default 2 MiB); also how much one compaction step rewrites. */
  readonly maxFileSize?: number;
  /** LevelDB's cache of uncompressed table blocks (classic-level's default is 8 MiB). */
  readonly cacheSize?: number;
}

/**
 * How damage was found at open: the open itself failed (a garbage `CURRENT`, a missing
 * manifest), LevelDB's log replay skipped bytes, reading every entry failed (a truncated
 * table), or fewer records were there than the tally (store-tally.ts) says were written.
 */
export type CorruptionFound = 'open-failed' | 'log-damaged' | 'read-failed' | 'records-missing';

/** What one open found damaged, what it did, and what was lost: the `store.corruption` event. */
export interface StoreCorruption {
  readonly atMs: number;
  readonly found: CorruptionFound;
  /** LevelDB's own words. */
  readonly detail: string;
  /**
   * `recovered`: LevelDB's replay kept all it could read and the store opened;
   * `repaired`: `ClassicLevel.repair` rebuilt it; `fresh`: beyond repair, started empty.
   */
  readonly outcome: 'recovered' | 'repaired' | 'fresh';
  readonly repairError: string | null;
  /** Records held at the last write (the tally), or null when no trustworthy tally exists. */
  readonly recordsBefore: number | null;
  readonly recordsAfter: number;
  /** Records that could not be recovered; null when unknown (no trustworthy tally). */
  readonly lostRecords: number | null;
  /** Where the files were kept as found, with a REPORT.json: `<dataDir>.corrupt-<timestamp>`. */
  readonly keptAt: string;
}

function causeMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * The gateway's one LevelDB and its identity: `dbId` (random, made when the database is
 * created) and `epoch` (bumped with fsync on every open, so record keys made after an open
 * sort after every key made before it). The outbox and the decision log share it.
 */
export class Database {
  private handle: StoreDb | undefined;
  private currentState: DatabaseState = 'down';
  private currentEpoch = 0;
  private id = '';
  private reopens = 0;
  private readonly damageListeners: (() => void)[] = [];
  private readonly tally: StoreTally;
  private readonly corruptions: StoreCorruption[] = [];

  private constructor(
    readonly dir: string,
    private readonly events: ComponentEvents,
    private readonly options: DatabaseOptions,
  ) {
    this.tally = new StoreTally(dir);
  }

  static async open(dir: string, events: ComponentEvents, options: DatabaseOptions = {}): Promise<Database> {
    await mkdir(dir, { recursive: true });
    const database = new Database(dir, events, options);
    await database.openHandle(true);
    return database;
  }

  /** Damage found by the opens of this process (at most one per open), oldest first. */
  get corruptionsFound(): readonly StoreCorruption[] {
    return this.corruptions;
  }

  /**
   * Writers call this before a batch that removes `removed` records, and `endWrite` after
   * it, so the tally (store-tally.ts) follows what LevelDB holds without ever running ahead.
   */
  beginWrite(removed: number): Promise<void> {
    return this.tally.begin(removed);
  }

  endWrite(added: number, removed: number, ok: boolean): void {
    this.tally.end(added, removed, ok);
  }

  get state(): DatabaseState {
    return this.currentState;
  }

  get dbId(): string {
    return this.id;
  }

  /** The current open counter; it changes when the database is reopened after a failure. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** How many times the database was reopened after a failure. */
  get reopenCount(): number {
    return this.reopens;
  }

  /** The open LevelDB; throws E_STORE_WRITE while the database is down. */
  get db(): StoreDb {
    if (this.handle === undefined) throw new EdgewiseError('E_STORE_WRITE', `store ${this.dir} is not open (reopening after a write failure did not succeed yet)`);
    return this.handle;
  }

  /** Called by a writer whose write failed: no more writes until `reopen`. */
  markWriteFailed(err: unknown): void {
    if (this.currentState !== 'ok') return;
    this.currentState = 'damaged';
    this.events.error('store.damaged', { code: 'E_STORE_WRITE', dir: this.dir, reason: causeMessage(err) });
    for (const listener of this.damageListeners) listener();
  }

  /** `listener` runs whenever a write failure makes the database damaged. */
  onDamaged(listener: () => void): void {
    this.damageListeners.push(listener);
  }

  /**
   * Compacts the whole key range: LevelDB rewrites its tables without deleted and
   * overwritten entries and drops its log (store-budget.ts calls this when dead entries
   * crowd the budget). A no-op while the database is not open.
   */
  async compact(): Promise<void> {
    const db = this.handle;
    if (db === undefined) return;
    await db.compactRange('\u0000', '\u007f');
  }

  /** Closes and opens again (a new epoch). Throws while the cause (a full disk) persists. */
  async reopen(): Promise<void> {
    const old = this.handle;
    this.handle = undefined;
    this.currentState = 'down';
    await old?.close().catch(() => undefined);
    await this.openHandle(false);
    this.reopens += 1;
    this.events.info('store.reopened', { dir: this.dir, epoch: this.currentEpoch });
  }

  private async openHandle(first: boolean): Promise<void> {
    // Only the first open looks for damage left by an earlier process; a reopen after a
    // failed write (same process, a disk that was full) keeps the old behaviour: repair
    // only what LevelDB itself calls corrupt.
    const tally = first ? await readTally(this.dir) : undefined;
    const snapshot = first ? await snapshotLevelFiles(this.dir) : null;
    let db: StoreDb | undefined;
    let found: { readonly how: CorruptionFound; readonly detail: string } | undefined;
    try {
      db = await openLevel(this.dir, this.options);
    } catch (err) {
      const code = causeCode(err);
      if (code === 'LEVEL_LOCKED') {
        await discardSnapshot(snapshot);
        throw new EdgewiseError('E_STORE_LOCKED', `store ${this.dir} is in use by another process (is a second gateway running with the same dataDir?)`, { cause: err });
      }
      if (!looksCorrupt(err, first)) {
        await discardSnapshot(snapshot);
        throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir} could not be opened: ${causeMessage(err)}`, { cause: err });
      }
      found = { how: 'open-failed', detail: causeMessage(err) };
    }
    let scan: RecordScan | undefined;
    if (db !== undefined) {
      const drops = first ? await logRecoveryDrops(this.dir) : [];
      if (drops.length > 0) found = { how: 'log-damaged', detail: drops.join('; ') };
      try {
        scan = await scanRecords(db);
      } catch (err) {
        if (!looksCorrupt(err, first)) {
          await db.close().catch(() => undefined);
          await discardSnapshot(snapshot);
          throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir} could not be read: ${causeMessage(err)}`, { cause: err });
        }
        found ??= { how: 'read-failed', detail: causeMessage(err) };
      }
    }
    const trusted = tally !== undefined && tallyIsTrustworthy(tally) ? tally.records : null;
    if (found === undefined && scan !== undefined && trusted !== null && scan.records < trusted) {
      found = { how: 'records-missing', detail: `the store held ${trusted} records at its last write and ${scan.records} now` };
    }
    if (found === undefined && db !== undefined && scan !== undefined) {
      await discardSnapshot(snapshot);
    } else if (found !== undefined) {
      ({ db, scan } = await this.recover(found.how, found.detail, db, scan, snapshot, trusted));
    }
    if (db === undefined || scan === undefined) throw new Error('unreachable: the store is open and scanned here');
    try {
      await this.initMeta(db, scan, found !== undefined);
    } catch (err) {
      await db.close().catch(() => undefined);
      if (err instanceof EdgewiseError) throw err;
      throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir} could not be opened: ${causeMessage(err)}`, { cause: err });
    }
    await this.tally.start(scan.records);
    this.handle = db;
    this.currentState = 'ok';
    if (first) this.events.info('store.opened', { dir: this.dir, dbId: this.id, epoch: this.currentEpoch, records: scan.records });
  }

  /**
   * Damage was found: keep the files as they were before this open aside, repair what
   * LevelDB can, start empty if it cannot, and say what was lost. Never throws for damage
   * (a gateway that cannot start on a damaged store restarts for ever); it throws only when
   * even a fresh store cannot be made (the disk itself fails).
   */
  private async recover(
    how: CorruptionFound,
    detail: string,
    opened: StoreDb | undefined,
    openedScan: RecordScan | undefined,
    snapshot: string | null,
    recordsBefore: number | null,
  ): Promise<{ db: StoreDb; scan: RecordScan }> {
    const atMs = Date.now();
    const aside = await makeAsideDir(this.dir, atMs);
    let db = opened;
    let scan = openedScan;
    let outcome: StoreCorruption['outcome'] = 'recovered';
    let repairError: string | null = null;
    if (db !== undefined) await copyFile(join(this.dir, 'LOG'), join(aside, 'LOG.this-open')).catch(() => undefined);
    // The damaged log was replayed as far as LevelDB could (and every table reads): that is
    // all a repair would get too. Otherwise LevelDB's repair rebuilds the manifest from the
    // tables and logs, keeping every entry it can still read.
    if (db === undefined || scan === undefined) {
      await db?.close().catch(() => undefined);
      db = undefined;
      await keepOriginals(this.dir, snapshot, aside);
      try {
        await ClassicLevel.repair(this.dir);
        db = await openLevel(this.dir, this.options);
        scan = await scanRecords(db);
        outcome = 'repaired';
      } catch (err) {
        repairError = causeMessage(err);
        await db?.close().catch(() => undefined);
        db = undefined;
        // Beyond repair: what the repair left goes aside too, and the store starts empty.
        await moveLevelFiles(this.dir, join(aside, 'after-repair'));
        db = await openLevel(this.dir, this.options);
        scan = await scanRecords(db);
        outcome = 'fresh';
      }
    } else {
      await keepOriginals(this.dir, snapshot, aside);
    }
    const lostRecords = recordsBefore === null ? null : Math.max(0, recordsBefore - scan.records);
    const corruption: StoreCorruption = { atMs, found: how, detail, outcome, repairError, recordsBefore, recordsAfter: scan.records, lostRecords, keptAt: aside };
    this.corruptions.push(corruption);
    await writeAsideReport(aside, corruption);
    this.events.error('store.corruption', { code: 'E_STORE_CORRUPT', ...corruption });
    return { db, scan };
  }

  /** Reads (or makes) the database id and bumps the epoch, synced. */
  private async initMeta(db: StoreDb, scan: RecordScan, damaged: boolean): Promise<void> {
    const storedId = damaged ? undefined : await db.get(META_DBID);
    let id: string;
    if (storedId === undefined) {
      // After damage a new id: records lost with their epoch counter could otherwise have
      // their ids given again, and the fleet would drop the new ones as duplicates.
      // Node's crypto module loads only here (a first start, or after damage).
      const { randomBytes } = await import('node:crypto');
      id = randomBytes(8).toString('base64url');
      await db.put(META_DBID, Buffer.from(id), { sync: true });
    } else {
      id = Buffer.from(storedId).toString('utf8');
    }
    const storedEpoch = await db.get(META_EPOCH);
    const stored = storedEpoch === undefined ? 0 : Number(Buffer.from(storedEpoch).toString('utf8'));
    if (!Number.isSafeInteger(stored) || stored < 0 || stored >= MAX_EPOCH) {
      throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir}: epoch counter ${String(stored)} is damaged or exhausted; move the data directory away to start fresh`);
    }
    // Past every epoch a surviving key carries too: a repaired store may have lost the
    // counter but kept records, and a new key must never land on (or before) an old one.
    const previous = Math.max(stored, scan.maxEpoch);
    if (previous + 1 >= MAX_EPOCH) throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir}: epoch counter is exhausted; move the data directory away to start fresh`);
    // Synced before any record of this epoch is written: a crash can never reuse an epoch.
    await db.put(META_EPOCH, Buffer.from(String(previous + 1)), { sync: true });
    this.id = id;
    this.currentEpoch = previous + 1;
  }

  async close(): Promise<void> {
    const old = this.handle;
    this.handle = undefined;
    this.currentState = 'down';
    await old?.close();
    if (old !== undefined) await this.tally.close();
  }
}

async function openLevel(dir: string, options: DatabaseOptions): Promise<StoreDb> {
  const db = new ClassicLevel<string, Uint8Array>(dir, {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
    ...(options.writeBufferSize === undefined ? {} : { writeBufferSize: options.writeBufferSize }),
    ...(options.maxFileSize === undefined ? {} : { maxFileSize: options.maxFileSize }),
    ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
  });
  await db.open();
  return db;
}

interface RecordScan {
  /** Outbox records and decision-log entries. */
  readonly records: number;
  /** The highest epoch any of their keys carries. */
  readonly maxEpoch: number;
}

/**
 * Reads every entry once. This is the open's integrity check: LevelDB opens a damaged or
 * truncated table only when something reads it, so a store that opened may still fail here.
 */
async function scanRecords(db: StoreDb): Promise<RecordScan> {
  let records = 0;
  let maxEpoch = 0;
  const it = db.iterator();
  try {
    for (;;) {
      const entries = await it.nextv(4096);
      if (entries.length === 0) break;
      for (const [key] of entries) {
        const epoch = keyEpoch(key);
        if (epoch === undefined) continue;
        records += 1;
        if (epoch > maxEpoch) maxEpoch = epoch;
      }
    }
  } finally {
    await it.close();
  }
  return { records, maxEpoch };
}

/**
 * Whether an error at open or in the open scan is damage that a repair may fix. Space,
 * permission and hardware errors are not: moving a store aside does not cure them.
 */
function looksCorrupt(err: unknown, first: boolean): boolean {
  const code = causeCode(err) ?? (err as { code?: unknown }).code;
  if (code === 'LEVEL_CORRUPTION') return true;
  if (!first || code !== 'LEVEL_IO_ERROR') return false;
  return !/No space left|Permission denied|Read-only file system|Too many open files|Input\/output error|Disk quota/i.test(causeMessage(err));
}
