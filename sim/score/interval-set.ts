/**
 * A set of non-negative integers kept as sorted, disjoint, non-adjacent half-open runs
 * [start, end). Sequence numbers arrive mostly in order, so a run only grows at its end and
 * the set holds one run per gap, not one entry per number: a consumer can tally millions of
 * records in a few runs.
 */
export class IntervalSet {
  /** Flat pairs: starts[i] < ends[i] < starts[i + 1]. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private count = 0;

  static from(runs: readonly (readonly [number, number])[]): IntervalSet {
    const set = new IntervalSet();
    for (const [start, end] of runs) set.addRange(start, end);
    return set;
  }

  /** Numbers in the set. */
  get size(): number {
    return this.count;
  }

  get runCount(): number {
    return this.starts.length;
  }

  /** One more than the largest number (0 when empty). */
  get end(): number {
    return this.ends.at(-1) ?? 0;
  }

  /** Adds [start, end); returns how many of its numbers were already in the set. */
  addRange(start: number, end: number): number {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end >= start)) {
      throw new RangeError(`interval [${start}, ${end}): expected safe integers with 0 <= start <= end`);
    }
    if (start === end) return 0;
    // Fast path: in-order arrival extends or follows the last run.
    const last = this.ends.length - 1;
    if (last < 0 || start > (this.ends[last] as number)) {
      this.starts.push(start);
      this.ends.push(end);
      this.count += end - start;
      return 0;
    }
    // First run that ends at or after start (touching runs merge), last run that starts at or before end.
    const lo = this.firstEndingAtOrAfter(start);
    let hi = lo;
    let overlap = 0;
    let mergedStart = start;
    let mergedEnd = end;
    while (hi < this.starts.length && (this.starts[hi] as number) <= end) {
      const s = this.starts[hi] as number;
      const e = this.ends[hi] as number;
      overlap += Math.max(0, Math.min(e, end) - Math.max(s, start));
      mergedStart = Math.min(mergedStart, s);
      mergedEnd = Math.max(mergedEnd, e);
      this.count -= e - s;
      hi += 1;
    }
    this.starts.splice(lo, hi - lo, mergedStart);
    this.ends.splice(lo, hi - lo, mergedEnd);
    this.count += mergedEnd - mergedStart;
    return overlap;
  }

  /** Adds one number; true when it was new. */
  add(n: number): boolean {
    return this.addRange(n, n + 1) === 0;
  }

  has(n: number): boolean {
    const i = this.firstEndingAtOrAfter(n + 1);
    return i < this.starts.length && (this.starts[i] as number) <= n;
  }

  runs(): [number, number][] {
    return this.starts.map((s, i) => [s, this.ends[i] as number]);
  }

  private firstEndingAtOrAfter(x: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
