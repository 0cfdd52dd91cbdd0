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
 * The q-quantile over several reservoirs, each of its values standing for seen / kept
 * values of its gateway (so a busy gateway weighs what it sent, not what it kept).
 * Exact when every reservoir kept every value.
 */
export function mergedQuantile(reservoirs: readonly LatencyReservoirSnapshot[], q: number): number | null {
  const weighted: [number, number][] = [];
  for (const r of reservoirs) {
    if (r.values.length === 0) continue;
    const w = r.seen / r.values.length;
    for (const v of r.values) weighted.push([v, w]);
  }
  if (weighted.length === 0) return null;
  weighted.sort((a, b) => a[0] - b[0]);
  const total = weighted.reduce((a, [, w]) => a + w, 0);
  let acc = 0;
  const target = rankTarget(q, total);
  for (const [v, w] of weighted) {
    acc += w;
    if (acc >= target) return v;
  }
  return (weighted.at(-1) as [number, number])[0];
}

export interface LatencyScore {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export function scoreLatency(reservoirs: readonly LatencyReservoirSnapshot[]): LatencyScore {
  const kept = reservoirs.flatMap((r) => r.values);
  return {
    count: reservoirs.reduce((a, r) => a + r.seen, 0),
    p50Ms: mergedQuantile(reservoirs, 0.5),
    p99Ms: mergedQuantile(reservoirs, 0.99),
    maxMs: kept.length === 0 ? null : kept.reduce((a, b) => Math.max(a, b), -Infinity),
  };
}

export interface HistogramBin {
  readonly fromMs: number;
  readonly toMs: number;
  /** Values in [fromMs, toMs), weighted as in mergedQuantile (so an estimate of records, not of kept values). */
  readonly count: number;
}

/** `bins` equal bins from 0 (or the least value if negative) to the largest value, for the report's plot. */
export function latencyHistogram(reservoirs: readonly LatencyReservoirSnapshot[], bins = 24): HistogramBin[] {
  const all = reservoirs.flatMap((r) => r.values);
  if (all.length === 0) return [];
  const lo = Math.min(0, all.reduce((a, b) => Math.min(a, b), Infinity));
  const hi = all.reduce((a, b) => Math.max(a, b), -Infinity);
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
