import { readFile } from 'node:fs/promises';

/**
 * Linux reports CPU times in /proc in USER_HZ ticks, which the kernel fixes at 100 for user
 * space on every architecture it runs on (x86, arm64, ...), whatever its internal HZ.
 */
const USER_HZ = 100;

export interface ProcSample {
  /** Resident memory (VmRSS). */
  readonly rssBytes: number;
  /** User plus system CPU time since the process started. */
  readonly cpuSeconds: number;
}

/** RSS and CPU time of a live process from /proc; undefined when it is gone (or not Linux). */
export async function readProcSample(pid: number): Promise<ProcSample | undefined> {
  let stat: string;
  let status: string;
  try {
    [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) of proc(5) are the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!Number.isFinite(ticks) || rss === null) return undefined; // a zombie has no VmRSS
  return { rssBytes: Number(rss[1]) * 1024, cpuSeconds: ticks / USER_HZ };
}
