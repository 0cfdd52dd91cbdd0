import { checkAggregationInput } from './aggregation-input.js';
import { reduceCoordinates } from './coordinatewise.js';
import { taskError } from './errors.js';
import { numberOption, optionsObject } from './options.js';
import { selectInPlace } from './select.js';
import type { StrategyDefinition } from './strategy.js';

export type TrimmedMeanOptions = {
  /**
   * Share of the updates trimmed from each side of every coordinate (beta in Yin et al. 2018):
   * from 0 (the plain mean) to below 0.5. Of n updates, floor(beta * n) are dropped per side.
   */
  readonly trimShare: number;
};

export const TRIMMED_MEAN_DEFAULTS: TrimmedMeanOptions = { trimShare: 0.1 };

/** Updates trimmed per side: floor(beta n), with room for beta n landing a rounding error below an integer (0.29 * 100). */
export function trimmedPerSide(trimShare: number, n: number): number {
  return Math.floor(trimShare * n + 1e-9);
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for each parameter, drop the floor(beta n)
 * smallest and largest of the updates' values and average the rest. While at most that many
 * updates are arbitrary, every coordinate lies within the range of the honest updates' values
 * (each kept value has a trimmed honest value on either side). Unweighted: a Byzantine client
 * can claim any sample count.
 */
export const trimmedMean: StrategyDefinition<TrimmedMeanOptions> = {
  name: 'trimmed-mean',
  summary: 'coordinate-wise trimmed mean: drops the trimShare smallest and largest values of each parameter, averages the rest',
  robust: true,
  composesWithSecureAggregation: false,
  parseOptions(raw, task) {
    const options = optionsObject('trimmed-mean', raw, ['trimShare']);
    const trimShare = numberOption('trimmed-mean', options, 'trimShare', TRIMMED_MEAN_DEFAULTS.trimShare);
    if (trimShare < 0 || trimShare >= 0.5) throw taskError(`trimmed-mean: options.trimShare must be at least 0 and below 0.5 (the share trimmed from EACH side), got ${trimShare}`);
    const atQuorum = trimmedPerSide(trimShare, task.minClients);
    if (trimShare > 0 && atQuorum === 0) {
      throw taskError(
        `trimmed-mean: trimShare ${trimShare} trims nothing from a round of minClients ${task.minClients} (floor(${trimShare} x ${task.minClients}) = 0), so such a round would be a plain mean with no protection: raise trimShare to at least ${(1 / task.minClients).toPrecision(3)} or minClients to at least ${Math.ceil(1 / trimShare)}`,
      );
    }
    return { trimShare };
  },
  minUpdates: () => 1,
  aggregate(updates, options) {
    const { trimShare } = options;
    if (!(trimShare >= 0 && trimShare < 0.5)) throw taskError(`trimmed-mean: trimShare must be at least 0 and below 0.5, got ${trimShare}`);
    checkAggregationInput(updates);
    const n = updates.length;
    const k = trimmedPerSide(trimShare, n);
    const kept = n - 2 * k;
    const tensors = reduceCoordinates(updates, (column) => {
      let lo: number;
      let hi: number;
      if (k > 0) {
        // The k-th smallest, then the k-th largest of what is left: the kept values lie between.
        selectInPlace(column, 0, n - 1, k);
        if (n - k - 1 > k) selectInPlace(column, k + 1, n - 1, n - k - 1);
        lo = column[k] as number;
        hi = column[n - k - 1] as number;
      } else {
        lo = Infinity;
        hi = -Infinity;
        for (let i = 0; i < n; i += 1) {
          const v = column[i] as number;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      let sum = 0;
      for (let i = k; i < n - k; i += 1) sum += column[i] as number;
      // A mean lies between its values; the clamp makes that hold under float64 rounding too.
      return Math.min(hi, Math.max(lo, sum / kept));
    });
    return { tensors, selected: null };
  },
};
