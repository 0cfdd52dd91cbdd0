import type { FloatTensor } from '../../protocol/federated/tensor.js';
import type { LogErrorMomentsWire } from '../../protocol/federated/update-encoding.js';
import { calibrationOf, MIN_CALIBRATION_WINDOWS } from '../../../models/train/log-error-moments.js';
import type { PrivacyRoundReport } from '../privacy/privacy-budget.js';
import type { StrategyOptions } from '../strategies/strategy.js';
import type { RejectionCounts } from './rejection.js';
import type { SecureRoundSummary } from './secure-sum.js';

/** The global model a round starts from: a release's version and its parameters, in the model's tensor order. */
export interface GlobalModel {
  readonly version: number;
  readonly parameters: readonly FloatTensor[];
}

/** Why a round closed without a new model. */
export type NoModelReason =
  /** Fewer good fresh updates than minClients by the deadline (or fewer drawn gateways left than minClients could ever give). */
  | 'below-quorum'
  /** The privacy budget cannot pay for this round: nothing derived from it left the fleet. */
  | 'privacy-budget-spent'
  /** The rule refused the updates (multi-Krum over its bound) or the new parameters would not be finite. */
  | 'aggregation-failed';

export type RoundOutcome =
  | { readonly type: 'model'; /** L2 norm of the delta applied to the global model. */ readonly deltaNorm: number }
  | { readonly type: 'no-model'; readonly reason: NoModelReason; readonly detail: string };

/** How the round ended its wait for updates. */
export type ClosedBy =
  /** The deadline passed. */
  | 'deadline'
  /** Every drawn gateway had answered before the deadline. */
  | 'all-answered'
  /** Too few drawn gateways were left to reach the quorum, so waiting could not change the outcome. */
  | 'quorum-unreachable';

/**
 * What a round leaves behind, JSON-ready (the database stores it). Only aggregates of what the
 * gateways sent: counts, sample-weighted loss, who took part; never an update. (Who took part and
 * these counts are not covered by differential privacy: privacy/README, "What is not guaranteed".)
 */
export interface RoundRecord {
  readonly task: string;
  readonly round: number;
  /** The global model the round started from. */
  readonly globalModelVersion: number;
  readonly openedAtMs: number;
  /** When the wait ended: the deadline, the last answer, or when the quorum became unreachable. */
  readonly closedAtMs: number;
  readonly durationMs: number;
  readonly closedBy: ClosedBy;
  readonly eligible: number;
  readonly sampled: number;
  /** Drawn gateways whose update was accepted in time, sorted. */
  readonly participants: readonly string[];
  /** Every update refused since the previous round closed, by reason (all reasons listed, 0 included). */
  readonly rejections: RejectionCounts;
  /** Accepted updates the fleet had to clip to the clip norm (within the tolerance, over C). */
  readonly clipped: number;
  /** Local validation losses the participants reported: how many did, their mean and their sample-weighted mean. */
  readonly validationLoss: { readonly reported: number; readonly mean: number | null; readonly weightedMean: number | null };
  /**
   * The log-normal fit of the pooled log-error moments the fresh updates carried (their
   * held-out windows under this round's global model), which the released model carries as
   * `federated.calibration`; null when they held fewer than 2 windows in all, in a secure round, and in a private task.
   */
  readonly calibration: RoundCalibration | null;
  readonly late: {
    /** Late updates kept for a later round since the previous close. */
    readonly buffered: number;
    /** Buffered updates of earlier rounds that went into this round's model. */
    readonly applied: readonly { readonly gateway: string; readonly round: number; readonly staleness: number; readonly weight: number }[];
    /** Buffered updates dropped at this close for being staler than maxStaleness. */
    readonly expired: number;
  };
  readonly strategy: {
    readonly type: string;
    readonly options: StrategyOptions;
    /** How updates were combined: the rule (sample-weighted for fedavg/fedprox), or the DP noised sum over the expected client count. */
    readonly combination: 'rule' | 'dp-noised-sum';
    /** Multi-Krum: the gateways whose updates it chose. */
    readonly selected: readonly string[] | null;
  };
  /** The privacy spend, when the task is private and the round released a model. */
  readonly privacy: PrivacyRoundReport | null;
  readonly outcome: RoundOutcome;
  /** Secure rounds only: the protocol's steps, dropouts and refusals (counts and ids, never an update). */
  readonly secureAggregation?: SecureRoundSummary;
}

/** A closed round: its record and, when it made one, the new global model's parameters (the caller releases them under a new version). */
export interface RoundClose {
  readonly record: RoundRecord;
  readonly model: { readonly basedOnVersion: number; readonly parameters: FloatTensor[] } | null;
}

export interface RoundCalibration {
  /** Held-out windows pooled, over the updates that sent moments. */
  readonly windows: number;
  readonly logMean: number;
  readonly logStd: number;
}

/** The pooled calibration of the updates' moments (models/train/log-error-moments.ts: the simulator's math), or null below 2 windows. */
export function pooledCalibration(updates: readonly { readonly calibration: LogErrorMomentsWire | null }[]): RoundCalibration | null {
  const parts = updates.flatMap((u) => (u.calibration === null ? [] : [{ count: u.calibration.n, sum: u.calibration.sum, sumSquares: u.calibration.sumSq }]));
  const windows = parts.reduce((n, p) => n + p.count, 0);
  if (windows < MIN_CALIBRATION_WINDOWS) return null;
  const fit = calibrationOf(parts);
  // Sums of finite values can still overflow to infinity: such a fit is no calibration.
  return Number.isFinite(fit.logMean) && Number.isFinite(fit.logStd) ? { windows, ...fit } : null;
}

/** Mean and sample-weighted mean of the losses reported (null ones left out). */
export function validationLossSummary(updates: readonly { readonly samples: number; readonly validationLoss: number | null }[]): RoundRecord['validationLoss'] {
  let reported = 0;
  let sum = 0;
  let weighted = 0;
  let samples = 0;
  for (const u of updates) {
    if (u.validationLoss === null) continue;
    reported += 1;
    sum += u.validationLoss;
    weighted += u.samples * u.validationLoss;
    samples += u.samples;
  }
  return reported === 0 ? { reported, mean: null, weightedMean: null } : { reported, mean: sum / reported, weightedMean: weighted / samples };
}
