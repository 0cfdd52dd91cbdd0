import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export class DataDirLocked extends Error {
  readonly code = 'E_FLEET_LOCKED';
  constructor(
    message: string,
    readonly pid: number,
  ) {
    super(message);
    this.name = 'DataDirLocked';
  }
}

/** This boot of the machine: a lock written before a reboot is stale whatever its pid. */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

/** Is a process with this pid alive (signal 0 checks without sending)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Holder {
  readonly pid: number;
  readonly boot: string;
}

async function readHolder(path: string): Promise<Holder | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const [pid, boot] = text.trim().split(/\s+/);
  return { pid: Number(pid), boot: boot ?? '' };
}

/** A holder that still holds: the same boot, and its process alive. */
function live(h: Holder | undefined): boolean {
  return h !== undefined && Number.isInteger(h.pid) && h.pid > 0 && h.boot === bootId() && (h.pid === process.pid || alive(h.pid));
}

/** Creates `path` holding this process's pid and boot, or fails with EEXIST. */
async function create(path: string): Promise<void> {
  const h = await open(path, 'wx', 0o644);
  try {
    await h.writeFile(`${process.pid} ${bootId()}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * One fleet process per data directory. PGlite does not lock its files, and two processes on
 * one directory corrupt it, so the fleet holds `fleet.lock` (pid and boot id), created
 * exclusively. A lock whose process is gone (kill -9, power cut, a reboot since) is taken over;
 * takeovers go one at a time through `fleet.lock.takeover`, itself exclusive, so two starters
 * that both found the same stale lock cannot both end up holding a new one.
 */
export async function lockDataDir(dir: string): Promise<{ release(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'fleet.lock');
  const takeover = join(dir, 'fleet.lock.takeover');
  const held = {
    release: async (): Promise<void> => {
      const h = await readHolder(path);
      if (h?.pid === process.pid) await rm(path, { force: true });
    },
  };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await create(path);
      return held;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(path);
    if (live(holder)) throw new DataDirLocked(`data directory ${dir} is in use by fleet process ${holder?.pid ?? '?'}; stop it first (or give this fleet another --data)`, holder?.pid ?? 0);
    try {
      await create(takeover);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Someone else is taking over, or died doing it: clear a dead takeover and look again.
      if (!live(await readHolder(takeover))) await rm(takeover, { force: true });
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 50));
      continue;
    }
    try {
      // Only the takeover holder gets here; the lock may have changed hands meanwhile.
      if (!live(await readHolder(path))) {
        await rm(path, { force: true });
        await create(path);
        return held;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(takeover, { force: true });
    }
  }
  const holder = await readHolder(path);
  throw new DataDirLocked(`data directory ${dir}: could not take fleet.lock (held by pid ${holder?.pid ?? '?'})`, holder?.pid ?? 0);
}

/** The pid holding the lock, if a live process on this boot does. */
export async function lockHolder(dir: string): Promise<number | undefined> {
  const h = await readHolder(join(dir, 'fleet.lock'));
  return live(h) ? h?.pid : undefined;
}
