/**
 * End-to-end latency (the fleet's receivedMs minus the record's ts) kept as a bounded,
 * uniform sample: Vitter's algorithm R over every value offered, so a gateway that sends a
 * million records costs `capacity` numbers. Below `capacity` values the sample is every value
 * and the percentiles are exact. The random choice is seeded, so a run is repeatable.
 */
import { seededRandom } from '../../models/train/random.js';

export const DEFAULT_RESERVOIR_CAPACITY = 4096;

export interface LatencyReservoirSnapshot {
  /** Values offered. */
  readonly seen: number;
  /** The sample: every value when seen <= capacity, else a uniform sample of capacity of them. */
  readonly values: readonly number[];
}

export class LatencyReservoir {
  private readonly values: number[] = [];
  private seen = 0;
  private readonly random: () => number;

  constructor(
    private readonly capacity = DEFAULT_RESERVOIR_CAPACITY,
    seed = 1,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`reservoir capacity: expected an integer >= 1, got ${capacity}`);
    this.random = seededRandom(seed);
  }

  add(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.seen += 1;
    if (this.values.length < this.capacity) {
      this.values.push(ms);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.capacity) this.values[j] = ms;
  }

  snapshot(): LatencyReservoirSnapshot {
    return { seen: this.seen, values: [...this.values] };
  }
}

/**
 * The q-quantile (0 < q <= 1) by nearest rank: the smallest value with at least q of the
 * values at or below it. null when there are none.
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(rankTarget(q, sorted.length)))) - 1] as number;
}

/**
 * q * total, nudged down by a relative 1e-12: 0.07 * 100 is 7.000000000000001 in floating
 * point, and its nearest rank is the 7th value, not the 8th.
 */
function rankTarget(q: number, total: number): number {
  return q * total * (1 - 1e-12);
}

/**
 * The values of several reservoirs, each standing for seen / kept values of its gateway (so
 * a busy gateway weighs what it sent, not what it kept). Exact when every reservoir kept
 * every value. A plant's 500 reservoirs are 2 million values: each is sorted natively once,
 * and a quantile is a binary search over the union, each step counting the weight at or
 * below a value with one binary search per reservoir (no array of pairs to sort).
 */
export class MergedLatencies {
  private readonly parts: { readonly sorted: Float64Array; readonly weight: number }[];
  private readonly union: Float64Array;
  readonly total: number;

  constructor(reservoirs: readonly LatencyReservoirSnapshot[]) {
    this.parts = reservoirs.filter((r) => r.values.length > 0).map((r) => ({ sorted: Float64Array.from(r.values).sort(), weight: r.seen / r.values.length }));
    this.union = new Float64Array(this.parts.reduce((a, p) => a + p.sorted.length, 0));
    let at = 0;
    for (const p of this.parts) {
      this.union.set(p.sorted, at);
      at += p.sorted.length;
    }
    this.union.sort();
    this.total = this.parts.reduce((a, p) => a + p.weight * p.sorted.length, 0);
  }

  /** The weighted q-quantile by nearest rank, or null with no values. */
  quantile(q: number): number | null {
    if (this.union.length === 0) return null;
    const target = rankTarget(q, this.total);
    let lo = 0;
    let hi = this.union.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.weightAtOrBelow(this.union[mid] as number) >= target) hi = mid;
      else lo = mid + 1;
    }
    return this.union[lo] as number;
  }

  get max(): number | null {
    return this.union.length === 0 ? null : (this.union[this.union.length - 1] as number);
  }

  private weightAtOrBelow(v: number): number {
    let sum = 0;
    for (const p of this.parts) {
      let lo = 0;
      let hi = p.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((p.sorted[mid] as number) <= v) lo = mid + 1;
        else hi = mid;
      }
      sum += lo * p.weight;
    }
    return sum;
  }
}

/** The q-quantile over several reservoirs, each weighted by what its gateway sent (see MergedLatencies). */
export function mergedQuantile(reservoirs: readonly LatencyReservoirSnapshot[], q: number): number | null {
  return new MergedLatencies(reservoirs).quantile(q);
}

export interface LatencyScore {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export function scoreLatency(reservoirs: readonly LatencyReservoirSnapshot[]): LatencyScore {
  const merged = new MergedLatencies(reservoirs);
  return { count: reservoirs.reduce((a, r) => a + r.seen, 0), p50Ms: merged.quantile(0.5), p99Ms: merged.quantile(0.99), maxMs: merged.max };
}

export interface HistogramBin {
  readonly fromMs: number;
  readonly toMs: number;
  /** Values in [fromMs, toMs), weighted as in mergedQuantile (so an estimate of records, not of kept values). */
  readonly count: number;
}

/** `bins` equal bins from 0 (or the least value if negative) to the largest value, for the report's plot. */
export function latencyHistogram(reservoirs: readonly LatencyReservoirSnapshot[], bins = 24): HistogramBin[] {
  let lo = 0;
  let hi = -Infinity;
  for (const r of reservoirs) {
    for (const v of r.values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (hi === -Infinity) return [];
  const width = Math.max(1e-9, (hi - lo) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const r of reservoirs) {
    const w = r.values.length === 0 ? 0 : r.seen / r.values.length;
    for (const v of r.values) {
      const i = Math.min(bins - 1, Math.floor((v - lo) / width));
      counts[i] = (counts[i] as number) + w;
    }
  }
  return counts.map((count, i) => ({ fromMs: lo + i * width, toMs: lo + (i + 1) * width, count }));
}
