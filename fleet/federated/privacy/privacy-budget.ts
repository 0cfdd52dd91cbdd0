import { checkCount, checkDelta, checkEpsilon, checkNoiseMultiplier, checkSamplingRate, FederatedPrivacyError } from './privacy-error.js';
import {
  checkOrders,
  composedRdp,
  DEFAULT_RDP_ORDERS,
  epsilonFromRdp,
  RDP_LIMITS,
  type EpsilonAtDelta,
  type SampledGaussian,
} from './rdp-accountant.js';

/**
 * A task's privacy budget: the (epsilon, delta) it may spend in total, what its rounds have spent
 * so far, and whether one more round fits. The round service asks `decide` before it announces
 * a round and calls `spend` when the round's noised sum exists and before anything derived from
 * it leaves the fleet; `spend` refuses a round that would overrun the target, and then the noised
 * sum must be thrown away. Rounds whose sampling rate or noise differ compose like any others.
 */
export interface PrivacyTarget {
  readonly epsilon: number;
  readonly delta: number;
}

/** Consecutive rounds of one mechanism: the history a task stores, from which a budget is rebuilt exactly. */
export interface SpentRounds extends SampledGaussian {
  readonly rounds: number;
}

/** What a round's record says about privacy (JSON-ready). */
export interface PrivacyRoundReport {
  /** Rounds spent so far, this one included. */
  readonly rounds: number;
  /** The epsilon spent so far, at `delta`: user-level, add/remove one gateway. */
  readonly epsilon: number;
  readonly delta: number;
  readonly targetEpsilon: number;
  /** The RDP order that gave `epsilon`, and the orders searched. */
  readonly order: number;
  readonly orders: readonly number[];
  readonly samplingRate: number;
  readonly noiseMultiplier: number;
  /** Further rounds of this round's mechanism that fit in the target, and whether the next one does. */
  readonly roundsLeft: number;
  readonly nextRoundAllowed: boolean;
  readonly accountant: 'rdp-poisson-subsampled-gaussian';
  readonly conversion: 'balle-2020';
}

export interface RoundDecision {
  readonly allowed: boolean;
  /** The epsilon spent if the round runs, and the order that gave it. */
  readonly epsilonAfter: number;
  readonly order: number;
}

export interface PrivacyBudgetOptions {
  readonly orders?: readonly number[];
  /** Rounds a task has already run (from its stored history). */
  readonly spent?: readonly SpentRounds[];
}

/** Runs of distinct consecutive mechanisms one budget keeps; a task that changes its noise this often is misconfigured. */
export const MAX_SPENT_RUNS = 1000;

interface Run {
  readonly mechanism: SampledGaussian;
  readonly rounds: number;
  /** RDP per order of one round of this mechanism. */
  readonly perRound: Float64Array;
}

export class PrivacyBudget {
  readonly target: PrivacyTarget;
  readonly orders: readonly number[];
  private runs: readonly Run[] = [];
  private total: Float64Array;
  /** The last per-round RDP computed for a mechanism not (yet) in the history: decide, then spend. */
  private cached: { mechanism: SampledGaussian; perRound: Float64Array } | null = null;

  constructor(target: PrivacyTarget, options: PrivacyBudgetOptions = {}) {
    if (typeof target !== 'object' || target === null) throw new FederatedPrivacyError('target', 'must be { epsilon, delta }');
    this.target = { epsilon: checkEpsilon(target.epsilon, 'target.epsilon'), delta: checkDelta(target.delta, 'target.delta') };
    this.orders = [...checkOrders(options.orders ?? DEFAULT_RDP_ORDERS)];
    this.total = new Float64Array(this.orders.length);
    const spent = options.spent ?? [];
    if (!Array.isArray(spent)) throw new FederatedPrivacyError('spent', 'must be a list of { samplingRate, noiseMultiplier, rounds }');
    spent.forEach((run, i) => {
      const mechanism = checkMechanism(run, `spent[${i}]`);
      const rounds = checkCount(run.rounds, `spent[${i}].rounds`, RDP_LIMITS.maxRounds);
      this.runs = this.withRounds(mechanism, rounds);
    });
    this.total = this.totalOf(this.runs);
  }

  get roundsSpent(): number {
    return roundsIn(this.runs);
  }

  /** The history to store with the task; `new PrivacyBudget(target, { spent: history })` rebuilds this budget bit for bit. */
  get history(): SpentRounds[] {
    return this.runs.map((r) => ({ ...r.mechanism, rounds: r.rounds }));
  }

  /** Epsilon spent so far at the target's delta (0 before the first round). */
  spentSoFar(): EpsilonAtDelta {
    if (this.runs.length === 0) return { epsilon: 0, order: this.orders[0] as number };
    return epsilonFromRdp(this.orders, this.total, this.target.delta);
  }

  /** May a round of this mechanism run? Only if the epsilon after it stays within the target. */
  decide(next: SampledGaussian): RoundDecision {
    const after = this.epsilonAfter(checkMechanism(next, 'next'), 1);
    return { allowed: after.epsilon <= this.target.epsilon, epsilonAfter: after.epsilon, order: after.order };
  }

  /**
   * Records one round of this mechanism and reports the spend. Throws E_FEDERATED_PRIVACY, and
   * records nothing, if the round would take epsilon past the target.
   */
  spend(round: SampledGaussian): PrivacyRoundReport {
    const mechanism = checkMechanism(round, 'round');
    const runs = this.withRounds(mechanism, 1);
    const total = this.totalOf(runs);
    const after = epsilonFromRdp(this.orders, total, this.target.delta);
    if (!(after.epsilon <= this.target.epsilon)) {
      throw new FederatedPrivacyError(
        'round',
        `would spend epsilon ${after.epsilon.toPrecision(6)} at delta ${this.target.delta}, over the task's budget of ${this.target.epsilon}; discard this round's noised sum and stop training`,
      );
    }
    this.runs = runs;
    this.total = total;
    const left = this.roundsAffordable(mechanism);
    return {
      rounds: this.roundsSpent,
      epsilon: after.epsilon,
      delta: this.target.delta,
      targetEpsilon: this.target.epsilon,
      order: after.order,
      orders: [...this.orders],
      samplingRate: mechanism.samplingRate,
      noiseMultiplier: mechanism.noiseMultiplier,
      roundsLeft: left,
      nextRoundAllowed: left > 0,
      accountant: 'rdp-poisson-subsampled-gaussian',
      conversion: 'balle-2020',
    };
  }

  /** How many more rounds of this mechanism fit in the target (epsilon grows with every round, so a search finds it). */
  roundsAffordable(mechanism: SampledGaussian): number {
    const m = checkMechanism(mechanism, 'mechanism');
    const limit = RDP_LIMITS.maxRounds - this.roundsSpent;
    const fits = (n: number): boolean => this.epsilonAfter(m, n).epsilon <= this.target.epsilon;
    if (limit <= 0 || !fits(1)) return 0;
    // Double to bracket the answer, then halve the bracket: about 2 log2(answer) evaluations.
    let lo = 1;
    let hi = 2;
    while (hi <= limit && fits(hi)) {
      lo = hi;
      hi *= 2;
    }
    if (hi > limit) {
      if (fits(limit)) return limit;
      hi = limit;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  private epsilonAfter(mechanism: SampledGaussian, rounds: number): EpsilonAtDelta {
    return epsilonFromRdp(this.orders, this.totalOf(this.withRounds(mechanism, rounds)), this.target.delta);
  }

  /** The history with `rounds` more rounds of `mechanism`, merged into the last run when it is the same mechanism. */
  private withRounds(mechanism: SampledGaussian, rounds: number): readonly Run[] {
    if (roundsIn(this.runs) + rounds > RDP_LIMITS.maxRounds) {
      throw new FederatedPrivacyError('rounds', `a task may account for at most ${RDP_LIMITS.maxRounds} rounds`);
    }
    const last = this.runs.at(-1);
    if (last && sameMechanism(last.mechanism, mechanism)) return [...this.runs.slice(0, -1), { ...last, rounds: last.rounds + rounds }];
    if (this.runs.length >= MAX_SPENT_RUNS) {
      throw new FederatedPrivacyError('spent', `holds more than ${MAX_SPENT_RUNS} changes of sampling rate or noise multiplier`);
    }
    return [...this.runs, { mechanism, rounds, perRound: this.perRound(mechanism) }];
  }

  private perRound(mechanism: SampledGaussian): Float64Array {
    if (this.cached && sameMechanism(this.cached.mechanism, mechanism)) return this.cached.perRound;
    const perRound = composedRdp(mechanism, 1, this.orders);
    this.cached = { mechanism, perRound };
    return perRound;
  }

  /** RDP per order of a history: a sum over its runs, always in this order, so equal histories give equal bits. */
  private totalOf(runs: readonly Run[]): Float64Array {
    const total = new Float64Array(this.orders.length);
    for (const run of runs) {
      for (let i = 0; i < total.length; i += 1) total[i] = (total[i] as number) + run.rounds * (run.perRound[i] as number);
    }
    return total;
  }
}

function roundsIn(runs: readonly Run[]): number {
  return runs.reduce((n, r) => n + r.rounds, 0);
}

function checkMechanism(value: unknown, field: string): SampledGaussian {
  if (typeof value !== 'object' || value === null) throw new FederatedPrivacyError(field, 'must be { samplingRate, noiseMultiplier }');
  const m = value as Partial<SampledGaussian>;
  return {
    samplingRate: checkSamplingRate(m.samplingRate, `${field}.samplingRate`),
    noiseMultiplier: checkNoiseMultiplier(m.noiseMultiplier, `${field}.noiseMultiplier`),
  };
}

function sameMechanism(a: SampledGaussian, b: SampledGaussian): boolean {
  return a.samplingRate === b.samplingRate && a.noiseMultiplier === b.noiseMultiplier;
}
