import { checkAggregationInput } from './aggregation-input.js';
import { reduceCoordinates } from './coordinatewise.js';
import { optionsObject } from './options.js';
import { maxOf, selectInPlace } from './select.js';
import type { StrategyDefinition } from './strategy.js';

export type MedianOptions = Readonly<Record<string, never>>;

/**
 * Coordinate-wise median (Yin et al. 2018): each parameter's delta is the median of the
 * updates' values for it (the mean of the two middle ones for an even count). While fewer than
 * half of the updates are arbitrary, every coordinate lies within the range of the honest
 * updates' values. Unweighted: a Byzantine client can claim any sample count.
 */
export const median: StrategyDefinition<MedianOptions> = {
  name: 'median',
  summary: 'coordinate-wise median; robust while fewer than half of the updates are arbitrary',
  robust: true,
  composesWithSecureAggregation: false,
  parseOptions(raw) {
    optionsObject('median', raw, []);
    return {};
  },
  minUpdates: () => 1,
  aggregate(updates) {
    checkAggregationInput(updates);
    const n = updates.length;
    const mid = n >>> 1;
    const tensors = reduceCoordinates(updates, (column) => {
      selectInPlace(column, 0, n - 1, mid);
      const upper = column[mid] as number;
      // Even count: the lower middle value is the largest of those left of the upper one.
      const value = n % 2 === 1 ? upper : (maxOf(column, 0, mid - 1) + upper) / 2;
      // + 0 makes -0 into +0: the same delta, and a column holding both zeros gives the same
      // bits whatever the updates' order.
      return value + 0;
    });
    return { tensors, selected: null };
  },
};
