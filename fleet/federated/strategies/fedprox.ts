import { weightedMean } from './fedavg.js';
import { taskError } from './errors.js';
import { numberOption, optionsObject } from './options.js';
import type { StrategyDefinition } from './strategy.js';

// The proximal term is applied on the GATEWAY, during local training: each step adds
// mu (w - w_global) to the loss gradient, which keeps a client's model near the round's global
// model when clients' data differ (Li et al. 2020). The gateway may not import fleet code, so
// the pure helpers live in models/train/ (which the gateway's trainer uses) and are re-exported
// here for the fleet side. mu travels to the gateway in the round's task.
export { proximalGradient, proximalTerm } from '../../../models/train/proximal.js';

export type FedProxOptions = {
  /** mu of the proximal term mu/2 ||w - w_global||^2, sent to the gateways with the task. */
  readonly mu: number;
};

export const FEDPROX_DEFAULTS: FedProxOptions = { mu: 0.01 };

/** Largest mu a task may ask for: Li et al. try 0.001 to 1; far above, local training cannot move the model. */
export const FEDPROX_MAX_MU = 10;

/**
 * FedProx (Li et al. 2020). The fleet's side is FedAvg's sample-weighted mean; what differs is
 * local training on each gateway, which adds the proximal term with this task's mu. Being a sum,
 * it composes with secure aggregation.
 */
export const fedProx: StrategyDefinition<FedProxOptions> = {
  name: 'fedprox',
  summary: 'FedProx: FedAvg on the fleet, with a proximal term mu/2 ||w - w_global||^2 in local training on each gateway',
  robust: false,
  composesWithSecureAggregation: true,
  parseOptions(raw) {
    const options = optionsObject('fedprox', raw, ['mu']);
    const mu = numberOption('fedprox', options, 'mu', FEDPROX_DEFAULTS.mu);
    if (mu <= 0 || mu > FEDPROX_MAX_MU) throw taskError(`fedprox: options.mu must be above 0 and at most ${FEDPROX_MAX_MU}, got ${mu}${mu === 0 ? ' (mu 0 is plain FedAvg: choose fedavg)' : ''}`);
    return { mu };
  },
  minUpdates: () => 1,
  aggregate: (updates) => weightedMean(updates),
};
