import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { Level } from 'level';
import { EdgewiseError } from '../errors.js';
import type { ComponentEvents } from '../health/events.js';
import { MAX_EPOCH, META_DBID, META_EPOCH } from './keys.js';

export type StoreDb = Level<string, Uint8Array>;

/**
 * - `ok`: reads and writes go ahead;
 * - `damaged`: a write failed (disk full, I/O error). LevelDB keeps serving reads, but a
 *   write it accepts after a failed log write can be lost at the next open (checked here:
 *   on a full tmpfs, a put that resolved after the space came back was gone after reopen).
 *   So no write goes ahead until the database has been reopened;
 * - `down`: reopening failed (the disk is still full); nothing is open.
 */
export type DatabaseState = 'ok' | 'damaged' | 'down';

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

  private constructor(
    readonly dir: string,
    private readonly events: ComponentEvents,
  ) {}

  static async open(dir: string, events: ComponentEvents): Promise<Database> {
    await mkdir(dir, { recursive: true });
    const database = new Database(dir, events);
    await database.openHandle(true);
    return database;
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
    let db: StoreDb;
    try {
      db = await openLevel(this.dir);
    } catch (err) {
      const code = causeCode(err);
      if (code === 'LEVEL_LOCKED') {
        throw new EdgewiseError('E_STORE_LOCKED', `store ${this.dir} is in use by another process (is a second gateway running with the same dataDir?)`, { cause: err });
      }
      if (code !== 'LEVEL_CORRUPTION') {
        throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir} could not be opened: ${causeMessage(err)}`, { cause: err });
      }
      // A power cut can leave a damaged table or manifest; LevelDB's repair keeps every
      // record it can still read. Better to run on with what survived than not at all.
      this.events.error('store.repair', { code: 'E_STORE_OPEN', dir: this.dir, reason: causeMessage(err) });
      await ClassicLevel.repair(this.dir);
      db = await openLevel(this.dir);
    }
    try {
      const storedId = await db.get(META_DBID);
      let id: string;
      if (storedId === undefined) {
        id = randomBytes(8).toString('base64url');
        await db.put(META_DBID, Buffer.from(id), { sync: true });
      } else {
        id = Buffer.from(storedId).toString('utf8');
      }
      const storedEpoch = await db.get(META_EPOCH);
      const previous = storedEpoch === undefined ? 0 : Number(Buffer.from(storedEpoch).toString('utf8'));
      if (!Number.isSafeInteger(previous) || previous < 0 || previous >= MAX_EPOCH) {
        throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir}: epoch counter ${String(previous)} is damaged or exhausted; move the data directory away to start fresh`);
      }
      // Synced before any record of this epoch is written: a crash can never reuse an epoch.
      await db.put(META_EPOCH, Buffer.from(String(previous + 1)), { sync: true });
      this.id = id;
      this.currentEpoch = previous + 1;
    } catch (err) {
      await db.close().catch(() => undefined);
      if (err instanceof EdgewiseError) throw err;
      throw new EdgewiseError('E_STORE_OPEN', `store ${this.dir} could not be opened: ${causeMessage(err)}`, { cause: err });
    }
    this.handle = db;
    this.currentState = 'ok';
    if (first) this.events.info('store.opened', { dir: this.dir, dbId: this.id, epoch: this.currentEpoch });
  }

  async close(): Promise<void> {
    const old = this.handle;
    this.handle = undefined;
    this.currentState = 'down';
    await old?.close();
  }
}

async function openLevel(dir: string): Promise<StoreDb> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  return db;
}
