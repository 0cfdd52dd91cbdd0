import { checkAggregationInput } from './aggregation-input.js';
import { taskError } from './errors.js';
import { flatten, squaredDistance, squaredDistances4 } from './flat.js';
import { STRATEGY_LIMITS } from './limits.js';
import { integerOption, optionsObject } from './options.js';
import type { ModelUpdate, StrategyDefinition } from './strategy.js';

export type MultiKrumOptions = {
  /** f: how many arbitrary (Byzantine) updates a round must withstand; rounds need n > 2f + 2. */
  readonly byzantineClients: number;
  /** m: how many of the best-scored updates are averaged; absent: n - f. */
  readonly selectedUpdates?: number;
};

/** The fewest updates Krum's guarantee holds for with f Byzantine ones (Blanchard et al. 2017). */
export const krumMinUpdates = (f: number): number => 2 * f + 3;

/**
 * Multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
 * Descent", 2017). Each update is scored by the sum of squared L2 distances to its n - f - 2
 * nearest other updates; the m best-scored are averaged (uniformly: a Byzantine client can
 * claim any sample count). An honest update among n - f close ones scores low; an update far
 * from them must count at least one far distance among its n - f - 2 nearest, because there are
 * only f - 1 other Byzantine updates to hide among. O(n^2 d) time and n^2 memory: see README.
 *
 * The result does not depend on the updates' order: ties in score are broken by the updates'
 * values, and the chosen ones are averaged in rank order.
 */
export const multiKrum: StrategyDefinition<MultiKrumOptions> = {
  name: 'multi-krum',
  summary: 'multi-Krum: averages the m updates closest to their n - f - 2 nearest neighbours; tolerates f Byzantine updates when n > 2f + 2',
  robust: true,
  composesWithSecureAggregation: false,
  parseOptions(raw, task) {
    const options = optionsObject('multi-krum', raw, ['byzantineClients', 'selectedUpdates']);
    const f = integerOption('multi-krum', options, 'byzantineClients', 1, undefined);
    const n = task.minClients;
    if (n < krumMinUpdates(f)) {
      const fMax = Math.floor((n - 3) / 2);
      throw taskError(
        `multi-krum: byzantineClients ${f} needs rounds of more than 2f + 2 = ${2 * f + 2} updates, but minClients is ${n}: ` +
          `Krum tells f arbitrary updates from honest ones only when n > 2f + 2 (Blanchard et al. 2017); ` +
          (fMax >= 1 ? `lower byzantineClients to at most ${fMax} or raise minClients to at least ${krumMinUpdates(f)}` : `raise minClients to at least ${krumMinUpdates(f)}`),
      );
    }
    if (options.selectedUpdates === undefined) return { byzantineClients: f };
    const m = integerOption('multi-krum', options, 'selectedUpdates', 1, undefined);
    if (m > n - f) throw taskError(`multi-krum: selectedUpdates ${m} is more than minClients - byzantineClients = ${n - f}: a round at quorum would have to average an update it scored as possibly Byzantine`);
    return { byzantineClients: f, selectedUpdates: m };
  },
  minUpdates: (options) => krumMinUpdates(options.byzantineClients),
  aggregate(updates, options) {
    const f = options.byzantineClients;
    if (!(Number.isInteger(f) && f >= 1)) throw taskError(`multi-krum: byzantineClients must be an integer of at least 1, got ${f}`);
    checkAggregationInput(updates, STRATEGY_LIMITS.maxKrumUpdates);
    const n = updates.length;
    if (n < krumMinUpdates(f)) throw taskError(`multi-krum: ${n} updates are too few for byzantineClients ${f}: Krum needs n > 2f + 2 = ${2 * f + 2} (Blanchard et al. 2017); the round should not have closed below minClients`);
    const m = options.selectedUpdates ?? n - f;
    if (!(Number.isInteger(m) && m >= 1 && m <= n - f)) throw taskError(`multi-krum: selectedUpdates must be an integer from 1 to n - f = ${n - f}, got ${m}`);
    const flat = updates.map(flatten);
    const ranked = rankByKrumScore(flat, f);
    const selected = ranked.slice(0, m);
    return { tensors: meanOf(updates, selected), selected };
  },
};

/** Indices of the updates, best (lowest) Krum score first. */
export function rankByKrumScore(flat: readonly Float32Array[], f: number): number[] {
  const n = flat.length;
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    const a = flat[i] as Float32Array;
    let j = i + 1;
    // Row i of the upper triangle four columns at a time, then the rest one by one.
    for (; j + 4 <= n; j += 4) squaredDistances4(a, flat[j] as Float32Array, flat[j + 1] as Float32Array, flat[j + 2] as Float32Array, flat[j + 3] as Float32Array, dist, i * n + j);
    for (; j < n; j += 1) dist[i * n + j] = squaredDistance(a, flat[j] as Float32Array);
    for (j = i + 1; j < n; j += 1) dist[j * n + i] = dist[i * n + j] as number;
  }
  const neighbours = n - f - 2;
  const row = new Float64Array(n - 1);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    let at = 0;
    for (let j = 0; j < n; j += 1) if (j !== i) row[at++] = dist[i * n + j] as number;
    row.sort();
    let s = 0;
    for (let q = 0; q < neighbours; q += 1) s += row[q] as number;
    scores[i] = s;
  }
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    const sa = scores[a] as number;
    const sb = scores[b] as number;
    if (sa !== sb) return sa < sb ? -1 : 1;
    return compareValues(flat[a] as Float32Array, flat[b] as Float32Array) || a - b;
  });
}

function compareValues(a: Float32Array, b: Float32Array): number {
  for (let j = 0; j < a.length; j += 1) {
    const x = a[j] as number;
    const y = b[j] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function meanOf(updates: readonly ModelUpdate[], chosen: readonly number[]): Float32Array[] {
  const first = updates[0] as ModelUpdate;
  return first.tensors.map((t0, k) => {
    const acc = new Float64Array(t0.length);
    for (const i of chosen) {
      const src = (updates[i] as ModelUpdate).tensors[k] as Float32Array;
      for (let j = 0; j < acc.length; j += 1) acc[j] = (acc[j] as number) + (src[j] as number);
    }
    const out = new Float32Array(acc.length);
    for (let j = 0; j < acc.length; j += 1) out[j] = (acc[j] as number) / chosen.length;
    return out;
  });
}
