import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { Level } from 'level';
import { EdgewiseError } from '../errors.js';
import type { ComponentEvents } from '../health/events.js';
import { MAX_EPOCH, META_DBID, META_EPOCH } from './keys.js';

export type StoreDb = Level<string, Uint8Array>;

/**
 * The gateway's one LevelDB, opened with its identity: `dbId` (random, made when the
 * database is created) and `epoch` (bumped with fsync on every open, so record keys
 * made in this process sort after every key made before it).
 */
export interface OpenedDatabase {
  readonly db: StoreDb;
  readonly dbId: string;
  readonly epoch: number;
  readonly dir: string;
}

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

async function openOnce(dir: string): Promise<StoreDb> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  return db;
}

export async function openDatabase(dir: string, events: ComponentEvents): Promise<OpenedDatabase> {
  await mkdir(dir, { recursive: true });
  let db: StoreDb;
  try {
    db = await openOnce(dir);
  } catch (err) {
    const code = causeCode(err);
    if (code === 'LEVEL_LOCKED') {
      throw new EdgewiseError('E_STORE_LOCKED', `store ${dir} is in use by another process (is a second gateway running with the same dataDir?)`, { cause: err });
    }
    if (code !== 'LEVEL_CORRUPTION') {
      throw new EdgewiseError('E_STORE_OPEN', `store ${dir} could not be opened: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { cause: err });
    }
    // A power cut can leave a damaged table or manifest; LevelDB's repair keeps every
    // record it can still read. Better to run on with what survived than not at all.
    events.error('store.repair', { code: 'E_STORE_OPEN', dir, reason: (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : String(err) });
    await ClassicLevel.repair(dir);
    db = await openOnce(dir);
  }

  let dbId: string;
  const storedId = await db.get(META_DBID);
  if (storedId === undefined) {
    dbId = randomBytes(8).toString('base64url');
    await db.put(META_DBID, Buffer.from(dbId), { sync: true });
  } else {
    dbId = Buffer.from(storedId).toString('utf8');
  }

  const storedEpoch = await db.get(META_EPOCH);
  const previous = storedEpoch === undefined ? 0 : Number(Buffer.from(storedEpoch).toString('utf8'));
  if (!Number.isSafeInteger(previous) || previous < 0 || previous >= MAX_EPOCH) {
    throw new EdgewiseError('E_STORE_OPEN', `store ${dir}: epoch counter ${String(previous)} is damaged or exhausted; move the data directory away to start fresh`);
  }
  const epoch = previous + 1;
  // Synced before any record of this epoch is written: a crash can never reuse an epoch.
  await db.put(META_EPOCH, Buffer.from(String(epoch)), { sync: true });
  events.info('store.opened', { dir, dbId, epoch });
  return { db, dbId, epoch, dir };
}
