import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time per thread of this process (Linux: /proc/self/task/TID/stat, utime + stime in clock
 * ticks of 10 ms), to say which thread a benchmark's CPU went to. Empty where /proc is missing.
 */
export function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** What each group of threads spent between two snapshots (threads missing from `before` started in between). */
export function threadCpuDelta(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, group: (tid: number, isNew: boolean) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    const g = group(tid, !before.has(tid));
    out[g] = (out[g] ?? 0) + d;
  }
  return out;
}
