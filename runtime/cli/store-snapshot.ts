import { copyFile, link, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';

/** Why no snapshot could be read: not a store at all, or unreadable. */
export class StoreSnapshotError extends Error {
  override readonly name = 'StoreSnapshotError';
  constructor(
    readonly code: 'E_STORE_NOT_FOUND' | 'E_STORE_READ',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A read-only look at a gateway's LevelDB, safe while the gateway runs.
 *
 * LevelDB has no read-only open: opening takes the `LOCK` file (so it fails with
 * LEVEL_LOCKED while a gateway runs), and even on a stopped gateway an open replays the
 * write-ahead log into a new table and writes a new manifest. That would change the store
 * behind the gateway's back and hide from its next open a damaged log it would otherwise
 * have found and reported (store.corruption). So the store is never opened in place: its
 * files are copied into a temporary directory (tables, which LevelDB never changes once
 * written, are hard-linked where the filesystem allows) and the copy is opened.
 *
 * The copy is consistent when the manifest did not change while it was made (no table was
 * added or deleted, no log was switched); otherwise it is made again. An entry being
 * written at that very moment may be missing from it.
 */
export interface StoreSnapshot {
  readonly db: ClassicLevel<string, Uint8Array>;
  readonly takenAtMs: number;
  close(): Promise<void>;
}

const ATTEMPTS = 5;
const TABLE = /^\d+\.(ldb|sst)$/;
const LOG = /^\d+\.log$/;

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    await copyFile(from, to); // another filesystem (EXDEV), or protected_hardlinks
  }
}

/** Copies what exists; a file that went away meanwhile is skipped (the manifest check catches it). */
async function copyPresent(copy: (from: string, to: string) => Promise<void>, from: string, to: string): Promise<void> {
  try {
    await copy(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function readCurrent(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, 'CURRENT'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StoreSnapshotError('E_STORE_NOT_FOUND', `${dir} holds no gateway store (no LevelDB CURRENT file): give the gateway's dataDir (gateway.dataDir in its config)`);
    }
    throw new StoreSnapshotError('E_STORE_READ', `cannot read ${join(dir, 'CURRENT')}: ${(err as Error).message}`, { cause: err });
  }
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

async function copyOnce(dir: string, into: string): Promise<boolean> {
  const current = await readCurrent(dir);
  const manifest = current.trim();
  if (!/^MANIFEST-\d+$/.test(manifest)) throw new StoreSnapshotError('E_STORE_READ', `${join(dir, 'CURRENT')} does not name a manifest: is ${dir} a LevelDB store?`);
  await copyFile(join(dir, 'CURRENT'), join(into, 'CURRENT'));
  await copyFile(join(dir, manifest), join(into, manifest));
  const copiedManifest = await sizeOf(join(into, manifest));
  const names = await readdir(dir);
  for (const name of names) if (LOG.test(name)) await copyPresent(copyFile, join(dir, name), join(into, name));
  for (const name of names) if (TABLE.test(name)) await copyPresent(linkOrCopy, join(dir, name), join(into, name));
  // Unchanged manifest and CURRENT: no table came or went and no log was switched meanwhile.
  return (await readCurrent(dir)) === current && (await sizeOf(join(dir, manifest)).catch(() => -1)) === copiedManifest;
}

export async function openStoreSnapshot(dataDir: string): Promise<StoreSnapshot> {
  await readCurrent(dataDir); // a clear error for a directory that is no store at all
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const into = await mkdtemp(join(tmpdir(), 'edgewise-store-snapshot-'));
    const takenAtMs = Date.now();
    try {
      if (!(await copyOnce(dataDir, into))) throw new Error('the store changed while it was copied');
      const db = new ClassicLevel<string, Uint8Array>(into, { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: false });
      await db.open();
      return {
        db,
        takenAtMs,
        close: async () => {
          await db.close();
          await rm(into, { recursive: true, force: true });
        },
      };
    } catch (err) {
      await rm(into, { recursive: true, force: true });
      if (err instanceof StoreSnapshotError) throw err;
      lastError = err;
    }
  }
  const reason = (lastError as { cause?: Error } | undefined)?.cause?.message ?? (lastError as Error | undefined)?.message ?? 'unknown';
  throw new StoreSnapshotError(
    'E_STORE_READ',
    `could not take a consistent copy of the store in ${dataDir} in ${ATTEMPTS} attempts (${reason}). The running gateway holds ${join(dataDir, 'LOCK')}, so the store cannot be opened in place; try again, or stop the gateway first`,
    { cause: lastError },
  );
}
