import type { Dirent } from 'node:fs';
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComponentEvents } from '../health/events.js';
import type { Database, DatabaseOptions } from './database.js';
import type { DecisionLog } from './decision-log.js';
import type { Outbox } from './outbox.js';
import { levelFiles } from './store-repair.js';

/**
 * `store.maxSizeBytes` is a budget for the whole data directory as `du` counts it (allocated
 * blocks): LevelDB's files (outbox and decision log), the model slots, the sources' state.
 * The outbox's own count of record bytes is not enough: LevelDB keeps a write-ahead log as
 * large as its write buffer, up to four level-0 tables before it compacts them, and a
 * compaction writes its new tables before it deletes the old ones. With classic-level's
 * defaults (4 MiB write buffer) a 1 MiB outbox made a 15-18 MiB directory.
 *
 * So: LevelDB's buffers are sized from the budget (`levelOptionsFor`), and every
 * `intervalMs` this measures the directory and gives the records what is left:
 *
 *   records = (budget - everything else - decision log - LevelDB's working room) / 2
 *
 * halved because a compaction from level 0 rewrites every table the new data overlaps
 * (a queue's writes overlap all of them: new keys at one end, deletes at the other) and
 * deletes the old ones only after. Measured with a 1 MiB budget at 200 records/s and no
 * broker: see test/runtime/store/store-budget.test.ts and runtime/README.md.
 *
 * It also watches the filesystem: below `minFreeBytes` free, the outbox takes alerts only
 * (outbox.ts `setLowSpace`), whoever else is filling the disk.
 */
export interface StoreBudgetOptions {
  readonly maxSizeBytes: number;
  /** Free-space watermark on the data directory's filesystem; 0 turns it off. */
  readonly minFreeBytes: number;
  /** How often the directory is measured while it could near the budget (see `due`). */
  readonly intervalMs: number;
  /** How often it is measured otherwise (the filesystem's free space with it); default IDLE_MEASURE_MS. */
  readonly idleIntervalMs?: number;
  /** Milliseconds, monotonic (tests); default performance.now. */
  readonly clock?: () => number;
}

/**
 * Between measurements of a quiet store: the directory cannot grow by more than what is
 * written, and the free-space watermark is for a disk that fills over minutes, not seconds.
 */
export const IDLE_MEASURE_MS = 5000;

/** The slack the directory may exceed `maxSizeBytes` by, stated in the config docs. */
export function budgetSlackBytes(maxSizeBytes: number): number {
  return Math.max(64 * 1024, Math.floor(maxSizeBytes / 20));
}

const KIB = 1024;
const MIB = 1024 * KIB;
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * LevelDB's write buffer, table size and block cache for a budget: small budgets get small
 * buffers. Memory bounds them too: the memtable (the write buffer's contents) lives in the
 * malloc arenas of the threads that write, until it is full and turned into a table, so an idle
 * gateway's RSS grew by the whole buffer over the half hour a 4 MiB one took to fill at 10
 * records/s (with LevelDB's arena overhead: about 0.25 MB a minute). 1 MiB at most: a flush
 * every 5 s at 1000 records/s, and an outbox queue ran at 0.87-0.9 of the 4 MiB rate at
 * 100,000 records/s. The block cache: a queue reads each block about once; 1 MiB instead of
 * classic-level's 8 drained a compacted 200,000-record backlog as fast (noise either way).
 */
export function levelOptionsFor(maxSizeBytes: number): Required<DatabaseOptions> {
  return {
    writeBufferSize: clamp(Math.floor(maxSizeBytes / 64), 16 * KIB, 1 * MIB),
    maxFileSize: clamp(Math.floor(maxSizeBytes / 32), 32 * KIB, 2 * MIB),
    cacheSize: 1 * MIB,
  };
}

/** Room for LevelDB's log (two while it switches) and its level-0 tables (four before a compaction). */
function levelWorkingRoom(maxSizeBytes: number): number {
  return 6 * levelOptionsFor(maxSizeBytes).writeBufferSize;
}

export interface DiskUsage {
  /** The whole data directory, in allocated bytes (what `du -s --block-size=1` says). */
  readonly dirBytes: number;
  /** LevelDB's files among them. */
  readonly levelBytes: number;
}

/** `du`: allocated blocks of every file under `dir` (not following links). */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  const level = new Set(await levelFiles(dir));
  let dirBytes = 0;
  let levelBytes = 0;
  const walk = async (path: string, top: boolean): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(path, e.name);
      const st = await lstat(p).catch(() => undefined);
      if (st === undefined) continue;
      const bytes = st.blocks * 512;
      dirBytes += bytes;
      if (top && level.has(e.name)) levelBytes += bytes;
      if (e.isDirectory()) await walk(p, false);
    }
  };
  await walk(dir, true);
  return { dirBytes, levelBytes };
}

export interface StoreBudgetStats {
  readonly maxSizeBytes: number;
  readonly slackBytes: number;
  /** Last measured size of the data directory, and the highest seen since start. */
  readonly dirBytes: number;
  readonly peakDirBytes: number;
  /** The records' share computed from it. */
  readonly recordsBudgetBytes: number;
  readonly minFreeBytes: number;
  /** Free bytes on the filesystem (for unprivileged users), last measured. */
  readonly freeBytes: number | null;
  readonly lowSpace: boolean;
  /** Telemetry and results refused while below the watermark, since start. */
  readonly refusedLowSpace: number;
  readonly compactions: number;
  /** Measurements of the directory since start. */
  readonly measurements: number;
}

export class StoreBudget {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private dirBytes = 0;
  private peakDirBytes = 0;
  private recordsBudget: number;
  private freeBytes: number | null = null;
  private lowSpace = false;
  private compactions = 0;
  /** When the last measurement started (performance.now()), and the outbox's appendedBytes then. */
  private measuredAt = Number.NEGATIVE_INFINITY;
  private appendedAtMeasure = 0;
  private measurements = 0;

  constructor(
    private readonly database: Database,
    private readonly outbox: Outbox,
    private readonly decisions: DecisionLog | undefined,
    private readonly options: StoreBudgetOptions,
    private readonly events: ComponentEvents,
  ) {
    this.recordsBudget = Math.floor((options.maxSizeBytes - levelWorkingRoom(options.maxSizeBytes)) / 2);
    outbox.limitTo(this.recordsBudget);
  }

  /** Measures once now (before the first write), then every `intervalMs`. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  stats(): StoreBudgetStats {
    return {
      maxSizeBytes: this.options.maxSizeBytes,
      slackBytes: budgetSlackBytes(this.options.maxSizeBytes),
      dirBytes: this.dirBytes,
      peakDirBytes: this.peakDirBytes,
      recordsBudgetBytes: this.outbox.budgetBytes(),
      minFreeBytes: this.options.minFreeBytes,
      freeBytes: this.freeBytes,
      lowSpace: this.lowSpace,
      refusedLowSpace: this.outbox.stats().refusedLowSpace,
      compactions: this.compactions,
      measurements: this.measurements,
    };
  }

  /**
   * Walking the directory costs a readdir and an lstat per file: four times a second on an
   * idle gateway was most of its disk calls and a tenth of its allocations. So the fast pace
   * holds only while the directory could near the budget before the next idle measurement:
   * when it was at half the budget or more, or when more than a quarter of the slack was
   * written since (LevelDB's files grow with what is written, at most a few times over).
   * The timer calls this every `intervalMs`.
   */
  tick(): Promise<void> {
    return this.due() ? this.check() : Promise.resolve();
  }

  private now(): number {
    return (this.options.clock ?? performance.now.bind(performance))();
  }

  private due(): boolean {
    if (this.now() - this.measuredAt >= (this.options.idleIntervalMs ?? IDLE_MEASURE_MS)) return true;
    if (this.dirBytes >= this.options.maxSizeBytes / 2) return true;
    return this.outbox.stats().appendedBytes - this.appendedAtMeasure >= budgetSlackBytes(this.options.maxSizeBytes) / 4;
  }

  /** One measurement; concurrent calls share it. Never throws (a failed stat is retried next time). */
  check(): Promise<void> {
    this.checking ??= this.measure()
      .catch((err: unknown) => this.events.warn('store.measure_failed', { code: 'E_STORE_MEASURE', reason: (err as Error).message }))
      .finally(() => {
        this.checking = undefined;
      });
    return this.checking;
  }

  private async measure(): Promise<void> {
    this.measuredAt = this.now();
    this.appendedAtMeasure = this.outbox.stats().appendedBytes;
    this.measurements += 1;
    const dir = this.database.dir;
    const max = this.options.maxSizeBytes;
    let usage = await diskUsage(dir);
    this.note(usage.dirBytes);
    const out = this.outbox.stats();
    const recordBytes = out.bytes.telemetry + out.bytes.result + out.bytes.alert;
    const decisionBytes = this.decisions?.stats().bytes ?? 0;
    const room = levelWorkingRoom(max);
    // LevelDB holding much more than the live records (dead entries not compacted yet, a
    // large log) while the directory nears the budget: compact now rather than wait for
    // LevelDB's own triggers, which are sized for far larger stores.
    if (this.database.state === 'ok' && usage.dirBytes > max - room && usage.levelBytes > recordBytes + decisionBytes + room) {
      await this.database.compact();
      this.compactions += 1;
      usage = await diskUsage(dir);
      this.note(usage.dirBytes);
    }
    const other = usage.dirBytes - usage.levelBytes;
    this.recordsBudget = Math.max(0, Math.floor((max - other - decisionBytes - room) / 2));
    this.outbox.limitTo(this.recordsBudget);

    if (this.options.minFreeBytes > 0) {
      const fs = await statfs(dir);
      this.freeBytes = fs.bavail * fs.bsize;
      // At most a tenth of the filesystem: a 64 MiB mark on a 100 MiB card would never lift.
      const mark = Math.min(this.options.minFreeBytes, Math.floor((fs.blocks * fs.bsize) / 10));
      const low = this.freeBytes < mark;
      if (low !== this.lowSpace) {
        this.lowSpace = low;
        this.outbox.setLowSpace(low);
        if (low) this.events.warn('store.low_space', { code: 'E_STORE_LOW_SPACE', freeBytes: this.freeBytes, minFreeBytes: mark, accepting: 'alerts only' });
        else this.events.info('store.space_recovered', { freeBytes: this.freeBytes, minFreeBytes: mark });
      }
    }
  }

  private note(dirBytes: number): void {
    this.dirBytes = dirBytes;
    if (dirBytes > this.peakDirBytes) this.peakDirBytes = dirBytes;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }
}
