import { taskError } from './errors.js';
import { fedAvg } from './fedavg.js';
import { fedProx } from './fedprox.js';
import { median } from './median.js';
import { multiKrum } from './multi-krum.js';
import type { Aggregate, ModelUpdate, StrategyDefinition, StrategyOptions, TaskShape } from './strategy.js';
import { trimmedMean } from './trimmed-mean.js';

/** A rule as the registry lists it, its options' type hidden behind `configure`. */
export interface AggregationStrategy {
  readonly name: string;
  readonly summary: string;
  readonly robust: boolean;
  readonly composesWithSecureAggregation: boolean;
  /** Checks a task's options for this rule (pure) and binds them. */
  configure(options: unknown, task: TaskShape): ConfiguredStrategy;
}

/** A rule with a task's checked options: what a round calls. */
export interface ConfiguredStrategy {
  readonly strategy: AggregationStrategy;
  /** The options with defaults filled in, for the round's record. */
  readonly options: StrategyOptions;
  /** The fewest updates `aggregate` takes. */
  readonly minUpdates: number;
  aggregate(updates: readonly ModelUpdate[]): Aggregate;
}

function register<O extends StrategyOptions>(definition: StrategyDefinition<O>): AggregationStrategy {
  const strategy: AggregationStrategy = {
    name: definition.name,
    summary: definition.summary,
    robust: definition.robust,
    composesWithSecureAggregation: definition.composesWithSecureAggregation,
    configure(raw, task) {
      const options = definition.parseOptions(raw, task);
      return { strategy, options, minUpdates: definition.minUpdates(options), aggregate: (updates) => definition.aggregate(updates, options) };
    },
  };
  return strategy;
}

/** Every aggregation rule by the name a task chooses it by. Adding one is one file and one line here. */
export const AGGREGATION_STRATEGIES: ReadonlyMap<string, AggregationStrategy> = new Map(
  [register(fedAvg), register(fedProx), register(median), register(trimmedMean), register(multiKrum)].map((s) => [s.name, s] as const),
);

/** The rule named `name`, or an E_FEDERATED_TASK error listing the known ones. */
export function strategyByName(name: unknown): AggregationStrategy {
  const strategy = typeof name === 'string' ? AGGREGATION_STRATEGIES.get(name) : undefined;
  if (strategy === undefined) {
    const shown = typeof name === 'string' ? `'${name}'` : typeof name;
    throw taskError(`unknown aggregation rule ${shown}: choose one of ${[...AGGREGATION_STRATEGIES.keys()].join(', ')}`);
  }
  return strategy;
}

/** What a task says about aggregation. */
export interface AggregationChoice {
  /** The rule's name (`fedavg`, `trimmed-mean`, ...). */
  readonly strategy: unknown;
  readonly options?: unknown;
  /** The task's quorum: the fewest updates a round aggregates. */
  readonly minClients: unknown;
  readonly secureAggregation: boolean;
}

/**
 * Checks a task's choice of aggregation as a whole, before any round runs: a known rule, its
 * options, the quorum against what the rule needs, and secure aggregation only with a rule
 * that works from the sum. Throws E_FEDERATED_TASK saying what is wrong and why.
 */
export function configureAggregation(choice: AggregationChoice): ConfiguredStrategy {
  const strategy = strategyByName(choice.strategy);
  const minClients = choice.minClients;
  if (typeof minClients !== 'number' || !Number.isInteger(minClients) || minClients < 1) throw taskError(`minClients must be an integer of at least 1, got ${String(minClients)}`);
  refuseSecureAggregationMismatch(strategy, choice.secureAggregation);
  const configured = strategy.configure(choice.options, { minClients });
  if (minClients < configured.minUpdates) throw taskError(`${strategy.name} needs at least ${configured.minUpdates} updates per round with these options, but minClients is ${minClients}`);
  return configured;
}

/**
 * Refuses secure aggregation with a rule that needs each update's values. Under secure
 * aggregation the fleet never sees an update, only the masked sum of all of them: a weighted
 * mean can be made from that sum, but a median, a trimmed mean or Krum's distances cannot.
 */
export function refuseSecureAggregationMismatch(strategy: AggregationStrategy, secureAggregation: boolean): void {
  if (!secureAggregation || strategy.composesWithSecureAggregation) return;
  const sumRules = [...AGGREGATION_STRATEGIES.values()].filter((s) => s.composesWithSecureAggregation).map((s) => s.name);
  throw taskError(
    `${strategy.name} cannot run with secure aggregation: under secure aggregation the fleet sees only the sum of the updates, never one update, ` +
      `and ${strategy.name} needs every update's own values (to sort, trim or compare them). Choose ${sumRules.join(' or ')} with secure aggregation, ` +
      `or turn secure aggregation off to use ${strategy.name}`,
  );
}
