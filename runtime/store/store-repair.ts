import { copyFile, link, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TALLY_FILE } from './store-tally.js';

/**
 * The file-level half of corruption handling (database.ts decides when): which files are
 * LevelDB's, a zero-copy snapshot of them taken before every first open, what LevelDB's own
 * info log says it dropped, and moving damaged files aside. Nothing here deletes a file that
 * holds data: damaged files end in `<dataDir>.corrupt-<timestamp>/`, for an operator to keep,
 * inspect (`ldb`, or open a copy with `level`) or remove.
 */

/** LevelDB's own file names (see leveldb/db/filename.cc); everything else in the data dir is not its. */
const LEVEL_FILE = /^(\d+\.(log|ldb|sst)|MANIFEST-\d+|CURRENT|LOG|LOG\.old|LOCK)$/;

export async function levelFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => LEVEL_FILE.test(n) && n !== 'LOCK');
}

/** Where the pre-open snapshot goes: beside the data dir, so it does not count in its budget. */
function snapshotDir(dir: string): string {
  return `${dir}.open-snapshot`;
}

/**
 * Hard links to LevelDB's files (and the tally) as they were before an open. LevelDB never
 * changes a file in place (it writes new ones and renames), so the links keep exactly what
 * was there, for the price of a few directory entries: when the open then finds that
 * LevelDB dropped part of its log (and deleted the log afterwards), the damaged log is still
 * here to keep aside. Returns null where links cannot be made (another filesystem beside
 * the data dir, a read-only parent).
 */
export async function snapshotLevelFiles(dir: string): Promise<string | null> {
  const snap = snapshotDir(dir);
  // A snapshot left by a crash during an earlier open that found nothing wrong: links only.
  await rm(snap, { recursive: true, force: true }).catch(() => undefined);
  try {
    await mkdir(snap);
    for (const name of [...(await levelFiles(dir)), TALLY_FILE]) {
      await link(join(dir, name), join(snap, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    return snap;
  } catch {
    await rm(snap, { recursive: true, force: true }).catch(() => undefined);
    return null;
  }
}

export async function discardSnapshot(snap: string | null): Promise<void> {
  if (snap !== null) await rm(snap, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Lines of LevelDB's info log (`LOG`, rewritten at every open) that report data it skipped
 * while replaying its write-ahead log. Without paranoid checks (classic-level does not expose
 * them) this line is the only trace of a damaged log:
 *   `(ignoring error) /data/000003.log: dropping 15611 bytes; Corruption: checksum mismatch`
 */
export async function logRecoveryDrops(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, 'LOG'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => /dropping \d+ bytes|Corruption:/.test(l))
    .map((l) => l.replace(/^\S+ \S+ /, '').trim());
}

/** `<dataDir>.corrupt-<timestamp>` beside the data dir, or inside it if the parent is not writable. */
export async function makeAsideDir(dir: string, nowMs: number): Promise<string> {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const beside = join(dirname(dir), `${basename(dir)}.corrupt-${stamp}`);
  try {
    await mkdir(beside);
    return beside;
  } catch {
    const inside = join(dir, `store.corrupt-${stamp}`);
    await mkdir(inside, { recursive: true });
    return inside;
  }
}

/** Keeps the pre-open files in `aside`: the snapshot's links if there is one, else copies. */
export async function keepOriginals(dir: string, snap: string | null, aside: string): Promise<void> {
  if (snap !== null) {
    for (const name of await readdir(snap)) await moveFile(join(snap, name), join(aside, name));
    await rm(snap, { recursive: true, force: true });
    return;
  }
  for (const name of [...(await levelFiles(dir)), TALLY_FILE]) {
    await copyFile(join(dir, name), join(aside, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** Moves LevelDB's files (and its `lost/` folder from a repair) out of the data dir into `to`. */
export async function moveLevelFiles(dir: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of [...(await levelFiles(dir)), 'lost']) {
    await moveFile(join(dir, name), join(to, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from);
  }
}

export async function writeAsideReport(aside: string, report: unknown): Promise<void> {
  await writeFile(join(aside, 'REPORT.json'), `${JSON.stringify(report, null, 2)}\n`).catch(() => undefined);
}
