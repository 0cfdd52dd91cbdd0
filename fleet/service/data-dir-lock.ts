import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
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

/** A private file holding this process's pid and boot, flushed, to be put in place whole. */
async function writeOwnLock(path: string): Promise<string> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const h = await open(tmp, 'wx', 0o644);
  try {
    await h.writeFile(`${process.pid} ${bootId()}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  return tmp;
}

/**
 * Creates `path` holding this process's pid and boot, or fails with EEXIST. The content is
 * written first and linked into place, so nobody ever reads a lock that exists but is still
 * empty (and would look stale).
 */
async function create(path: string): Promise<void> {
  const tmp = await writeOwnLock(path);
  try {
    await link(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Puts this process's lock over a stale one in one step: `path` never goes missing. */
async function replace(path: string): Promise<void> {
  const tmp = await writeOwnLock(path);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs `fn` while holding a machine-wide mutex for this directory: a listening Unix socket in
 * Linux's abstract namespace. The kernel frees it when its process exits, however it exits,
 * so a starter killed mid-takeover leaves nothing behind to clean up (a mutex file would, and
 * cleaning up a dead holder's file races with the next holder creating its own).
 */
async function withTakeoverMutex<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const name = `\0edgewise-fleet-lock-${createHash('sha256').update(await realpath(dir)).digest('hex').slice(0, 40)}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const server = createServer();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(name, () => resolve(undefined));
    });
    if (err === undefined) {
      try {
        return await fn();
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
    if (err.code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
  }
}

/**
 * One fleet process per data directory. PGlite does not lock its files, and two processes on
 * one directory corrupt it, so the fleet holds `fleet.lock` (pid and boot id), created
 * exclusively. A lock whose process is gone (kill -9, power cut, a reboot since) is taken over;
 * takeovers go one at a time through a mutex the kernel releases with its holder, so two
 * starters that both found the same stale lock cannot both end up holding a new one.
 */
export async function lockDataDir(dir: string): Promise<{ release(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'fleet.lock');
  const held = {
    release: async (): Promise<void> => {
      const h = await readHolder(path);
      if (h?.pid === process.pid) await rm(path, { force: true });
    },
  };
  const inUse = (h: Holder | undefined): DataDirLocked =>
    new DataDirLocked(`data directory ${dir} is in use by fleet process ${h?.pid ?? '?'}; stop it first (or give this fleet another --data)`, h?.pid ?? 0);
  try {
    await create(path);
    return held;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = await readHolder(path);
  if (live(holder)) throw inUse(holder);
  return withTakeoverMutex(dir, async () => {
    // Only the mutex holder gets here; the lock may have changed hands meanwhile.
    const now = await readHolder(path);
    if (live(now)) throw inUse(now);
    // Replaced, not removed and re-created: a starter that just arrived must not find the
    // name free and create its own lock between the two.
    await replace(path);
    return held;
  });
}

/** The pid holding the lock, if a live process on this boot does. */
export async function lockHolder(dir: string): Promise<number | undefined> {
  const h = await readHolder(join(dir, 'fleet.lock'));
  return live(h) ? h?.pid : undefined;
}
