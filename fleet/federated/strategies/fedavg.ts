import { checkAggregationInput } from './aggregation-input.js';
import { optionsObject } from './options.js';
import type { Aggregate, ModelUpdate, StrategyDefinition } from './strategy.js';

export type FedAvgOptions = Readonly<Record<string, never>>;

/**
 * The sample-weighted mean of the updates: sum_i n_i u_i / sum_i n_i, accumulated in float64.
 * Shared by FedAvg and FedProx, whose server sides are the same.
 */
export function weightedMean(updates: readonly ModelUpdate[]): Aggregate {
  checkAggregationInput(updates);
  let total = 0;
  for (const u of updates) total += u.samples;
  const first = updates[0] as ModelUpdate;
  const tensors = first.tensors.map((t0, k) => {
    const acc = new Float64Array(t0.length);
    for (const u of updates) {
      const src = u.tensors[k] as Float32Array;
      const w = u.samples;
      for (let j = 0; j < acc.length; j += 1) acc[j] = (acc[j] as number) + w * (src[j] as number);
    }
    const out = new Float32Array(acc.length);
    for (let j = 0; j < acc.length; j += 1) out[j] = (acc[j] as number) / total;
    return out;
  });
  return { tensors, selected: null };
}

/**
 * Federated averaging (McMahan et al. 2017): the updates' mean weighted by their sample counts.
 * Not robust: one update scaled by 100 moves the result by 100/n of itself (the tests show it).
 * It needs only the sum of (weighted) updates, so it composes with secure aggregation.
 */
export const fedAvg: StrategyDefinition<FedAvgOptions> = {
  name: 'fedavg',
  summary: 'federated averaging: the mean of the updates weighted by their sample counts',
  robust: false,
  composesWithSecureAggregation: true,
  parseOptions(raw) {
    optionsObject('fedavg', raw, []);
    return {};
  },
  minUpdates: () => 1,
  aggregate: (updates) => weightedMean(updates),
};
