import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, write as writeCallback, writeSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A small file beside LevelDB's own (`store-tally`, which LevelDB ignores) that says how many
 * records (outbox records and decision-log entries) the store held after its last write.
 * It lives outside LevelDB on purpose: when LevelDB loses records to a damaged log or table,
 * the count it loses them against must not be lost with them.
 *
 * Layout: one line of fixed width, rewritten in place (one pwrite, no fsync) after every
 * write batch, and with fsync at open and at a clean close:
 *
 *   edgewise-tally v1 records=000000001234 clean=1 boot=<boot id>\n
 *
 * When to trust it: after a clean close (`clean=1`), or when it was written during this
 * boot (same kernel boot id): a crashed process leaves its last write in the page cache.
 * After a power cut without a clean close it may be older than LevelDB, so it is not used
 * to count a loss then.
 *
 * A writer never lets the tally run ahead of LevelDB: records about to be removed are taken
 * off before their batch (`begin`, which the writer awaits), records added are counted after
 * it (`end`), so a crash between the two leaves a tally at or below what LevelDB holds, never
 * a false loss.
 *
 * Those rewrites go through libuv's thread pool, one at a time, each writing the count as it
 * is when it runs (so a later one never writes an older count), and requests that arrive
 * while one is in flight share the next. Not on the event loop: a disk that hangs (a dying SD
 * card) must hang the store's writes, not the whole gateway, which then keeps answering
 * /health and tells systemd's watchdog why it stopped pinging.
 */
export const TALLY_FILE = 'store-tally';

export interface TallyRecord {
  readonly records: number;
  readonly clean: boolean;
  readonly boot: string;
}

const RECORDS_DIGITS = 12;
const BOOT_WIDTH = 36;

function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, BOOT_WIDTH);
  } catch {
    return '';
  }
}

function line(records: number, clean: boolean, boot: string): Buffer {
  const n = String(Math.max(0, Math.min(records, 10 ** RECORDS_DIGITS - 1))).padStart(RECORDS_DIGITS, '0');
  return Buffer.from(`edgewise-tally v1 records=${n} clean=${clean ? 1 : 0} boot=${boot.padEnd(BOOT_WIDTH, '-')}\n`);
}

const LINE = /^edgewise-tally v1 records=(\d{12}) clean=([01]) boot=([0-9a-f-]{36})\n/;

export async function readTally(dir: string): Promise<TallyRecord | undefined> {
  const text = await readFile(join(dir, TALLY_FILE), 'utf8').catch(() => undefined);
  const m = text === undefined ? null : LINE.exec(text);
  if (m === null) return undefined;
  return { records: Number(m[1]), clean: m[2] === '1', boot: (m[3] as string).replace(/-+$/, '') };
}

/** Whether `tally` can be compared with what LevelDB holds now (see the file comment). */
export function tallyIsTrustworthy(tally: TallyRecord): boolean {
  const boot = currentBootId();
  return tally.clean || (boot !== '' && tally.boot === boot);
}

export class StoreTally {
  private count = 0;
  private pendingRemovals = 0;
  private fd: number | undefined;
  private broken = false;
  private readonly boot = currentBootId();

  constructor(private readonly dir: string) {}

  /** Starts counting from `records` (what an open scan found), synced, marked not clean. */
  async start(records: number): Promise<void> {
    // A rewrite still in flight belongs to the old file descriptor: let it land first.
    await this.next;
    await this.inFlight;
    this.count = records;
    this.pendingRemovals = 0;
    this.broken = false;
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
    try {
      this.fd = openSync(join(this.dir, TALLY_FILE), 'w');
    } catch {
      this.broken = true;
      return;
    }
    this.write(false, true);
  }

  get records(): number {
    return this.count;
  }

  /** Before a batch that removes `removed` records: resolves once the lowered count is written. */
  begin(removed: number): Promise<void> {
    if (removed === 0) return Promise.resolve();
    this.pendingRemovals += removed;
    return this.rewrite();
  }

  /** After the batch: `ok` says whether LevelDB took it. Not awaited: a late count is a low one. */
  end(added: number, removed: number, ok: boolean): void {
    this.pendingRemovals -= removed;
    if (ok) this.count += added - removed;
    if (ok || removed > 0) void this.rewrite();
  }

  /** At a clean close, after the rewrites in flight: synced, marked clean. */
  async close(): Promise<void> {
    await this.next;
    await this.inFlight;
    if (this.fd === undefined) return;
    this.write(true, true);
    closeQuietly(this.fd);
    this.fd = undefined;
  }

  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** One rewrite after the one in flight (shared by every request made meanwhile). */
  private rewrite(): Promise<void> {
    if (this.inFlight === undefined) {
      const run = this.writeAsync().finally(() => {
        if (this.inFlight === run) this.inFlight = undefined;
      });
      this.inFlight = run;
      return run;
    }
    this.next ??= this.inFlight.then(() => {
      this.next = undefined;
      return this.rewrite();
    });
    return this.next;
  }

  private async writeAsync(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined || this.broken) return;
    const buf = line(this.count - this.pendingRemovals, false, this.boot);
    try {
      await new Promise<void>((resolve, reject) => writeCallback(fd, buf, 0, buf.length, 0, (err) => (err === null ? resolve() : reject(err))));
    } catch {
      this.broken = true;
      await unlink(join(this.dir, TALLY_FILE)).catch(() => undefined);
    }
  }

  private write(clean: boolean, sync: boolean): void {
    if (this.fd === undefined || this.broken) return;
    try {
      const buf = line(this.count - this.pendingRemovals, clean, this.boot);
      writeSync(this.fd, buf, 0, buf.length, 0);
      if (sync) fsyncSync(this.fd);
    } catch {
      // A tally that could not be written (a full disk) would be stale: it goes (an unlink
      // needs no space), and the next open says a loss count is unknown rather than guess.
      this.broken = true;
      try {
        unlinkSync(join(this.dir, TALLY_FILE));
      } catch {
        // already gone
      }
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing left to do with it
  }
}
