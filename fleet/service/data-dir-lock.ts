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

/** Is a process with this pid alive (signal 0 checks without sending)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One fleet process per data directory. PGlite does not lock its files, and two processes on
 * one directory corrupt it (a row inserted by one was lost while its unique key stayed
 * taken), so the fleet holds `fleet.lock` with its pid, created exclusively. A lock left by
 * a process that died (kill -9, power cut) is taken over: its pid is no longer alive.
 * (A pid reused by an unrelated process would keep the lock until that one exits; the
 * message names the pid, so an operator can tell.)
 */
export async function lockDataDir(dir: string): Promise<{ release(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'fleet.lock');
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const h = await open(path, 'wx', 0o644);
      await h.writeFile(`${process.pid}\n`);
      await h.sync();
      await h.close();
      return {
        release: async () => {
          const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
          if (pid === process.pid) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new DataDirLocked(`data directory ${dir} is in use by fleet process ${pid}; stop it first (or give this fleet another --data)`, pid);
    }
    // Stale: its owner is gone. Remove and try again (another starter may race us: exclusive create decides).
    await rm(path, { force: true });
  }
  throw new DataDirLocked(`data directory ${dir}: could not take fleet.lock`, 0);
}

/** The pid holding the lock, if a live process does. */
export async function lockHolder(dir: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dir, 'fleet.lock'), 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}
