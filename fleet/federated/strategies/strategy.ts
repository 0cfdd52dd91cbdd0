/**
 * The contract of an aggregation rule: the fleet hands it the round's accepted updates (each a
 * weight delta, dequantised to one Float32Array per tensor, and the gateway's sample count) and
 * gets one combined delta back. One file per rule implements `StrategyDefinition`; the registry
 * (registry.ts) maps a task's `name` to it and nothing else knows the list.
 */

/** One gateway's contribution to a round, as the fleet holds it after its update checks. */
export interface ModelUpdate {
  /** The weight delta, one array per tensor of the model, the same shapes in every update of a round. */
  readonly tensors: readonly Float32Array[];
  /** Training examples behind the update: a positive integer (weighted FedAvg weights by it). */
  readonly samples: number;
}

/** What a rule makes of a round's updates. */
export interface Aggregate {
  /** The combined delta, one new array per tensor (the inputs are never written to). */
  readonly tensors: Float32Array[];
  /**
   * Rules that pick whole updates (multi-Krum): the indices of the updates that went into the
   * result, in the order the rule ranked them. Null: every update took part.
   */
  readonly selected: readonly number[] | null;
}

/** What the options of a rule are checked against: the task's smallest round. */
export interface TaskShape {
  /** The fewest updates a round of the task aggregates (its quorum). */
  readonly minClients: number;
}

/** A rule's settings as a task stores them: plain numbers, so they go into a round's record as JSON. */
export type StrategyOptions = Readonly<Record<string, number | undefined>>;

export interface StrategyDefinition<O extends StrategyOptions> {
  /** The name a task chooses it by (`trimmed-mean`). */
  readonly name: string;
  /** One line for the console and the README. */
  readonly summary: string;
  /** Bounds the harm of a minority of arbitrary (Byzantine) updates; plain averages do not. */
  readonly robust: boolean;
  /**
   * Works from the sum of the updates alone, so it composes with secure aggregation (where the
   * fleet sees only that sum). Only the sum-based rules (FedAvg, FedProx) do.
   */
  readonly composesWithSecureAggregation: boolean;
  /** The task's options, checked (pure) and with defaults filled; throws E_FEDERATED_TASK naming what is wrong. */
  parseOptions(raw: unknown, task: TaskShape): O;
  /** The fewest updates `aggregate` takes with these options. */
  minUpdates(options: O): number;
  /** Combines the updates; throws E_FEDERATED_UPDATE for malformed updates, E_FEDERATED_TASK for too few. */
  aggregate(updates: readonly ModelUpdate[], options: O): Aggregate;
}
