/**
 * What the scorecard compares: the simulator's ground truth (what it injected, and when) and
 * what the fleet and the gateways were seen to do. Both are plain, JSON-ready data that the
 * runner (sim/run/) collects while a scenario plays; sim/score/ only computes on them.
 *
 * Every time is wall-clock milliseconds since 1970 (the clock of the gateways' record `ts`
 * and the fleet's `receivedMs`), not scenario time: alerts carry the gateway's clock.
 */
import type { SensorFaultKind } from '../scenario/types.js';
import type { PartDefect } from '../camera/types.js';
import type { LatencyReservoirSnapshot } from './latency.js';
import type { DeliveryTallySnapshot } from './delivery.js';

// ---------------------------------------------------------------- ground truth

/** One sensor fault as the simulated MCU applied it: on at startMs, off at endMs. */
export interface SensorFaultWindow {
  readonly gatewayId: string;
  readonly kind: SensorFaultKind;
  /** The MCU channels the fault changes (see sensorFaultChannels). */
  readonly channels: readonly string[];
  readonly startMs: number;
  readonly endMs: number;
}

/** A defective part that rode a gateway's belt, and when it left the camera's view. */
export interface DefectivePart {
  readonly gatewayId: string;
  readonly partId: number;
  readonly defect: Exclude<PartDefect, 'none'>;
  readonly leftViewMs: number;
}

export const DISRUPTION_KINDS = ['broker-outage', 'partition', 'kill', 'cable-pull', 'disk-full'] as const;
export type DisruptionKind = (typeof DISRUPTION_KINDS)[number];

/** A fault of the plant rather than of the sensors: the fleet should lose nothing through it, and raise no alert for it. */
export interface Disruption {
  readonly kind: DisruptionKind;
  readonly gatewayIds: readonly string[];
  readonly startMs: number;
  /** When it was undone (restored, restarted); null: it lasted to the run's end (a tiny disk budget). */
  readonly endMs: number | null;
}

export interface RolloutExpectation {
  /** The rollout the runner created for this step (ro-...), to find its observation. */
  readonly rolloutId: string;
  readonly release: 'good' | 'bad';
  /** A bad release must stop at this wave's gate (0: the canary); a good one must reach every wave. */
  readonly stopAtWave: number;
}

export interface LearningExpectation {
  readonly rounds: number;
  readonly byzantineIds: readonly string[];
  /** The aggregation rule, as the fleet names it (fedavg, fedprox, median, trimmed-mean, multi-krum). */
  readonly strategy: string;
}

/** The samples one MCU boot made (indices 0 to produced - 1), for the sample-level delivery check. */
export interface McuBootTruth {
  readonly boot: number;
  readonly produced: number;
}

export interface GroundTruth {
  readonly runStartMs: number;
  readonly runEndMs: number;
  /** Every simulated gateway, in the order the report lists them. */
  readonly gatewayIds: readonly string[];
  readonly sensorFaults: readonly SensorFaultWindow[];
  readonly defectiveParts: readonly DefectivePart[];
  readonly disruptions: readonly Disruption[];
  /** Per gateway with a simulated MCU: what each boot produced. */
  readonly mcuSamples: Readonly<Record<string, readonly McuBootTruth[]>>;
  readonly rollouts: readonly RolloutExpectation[];
  readonly learning: LearningExpectation | null;
}

// ---------------------------------------------------------------- observations

/** An anomaly alert as the fleet's events API gives it (kind `alert`), raised and cleared folded into one. */
export interface AlertObservation {
  readonly gatewayId: string;
  readonly stream: string;
  /** The stage's alert number (data.alert): raised and cleared records share it. */
  readonly alertId: number;
  readonly startMs: number;
  /** null: not cleared by the run's end. */
  readonly endMs: number | null;
  readonly channels: readonly string[];
  readonly peakScore: number;
}

/** A vision `defect` event as the fleet received it. */
export interface DefectObservation {
  readonly gatewayId: string;
  readonly recordId: string;
  readonly track: number;
  /** The track's last sighting (data.lastTs): when the part left the view. */
  readonly lastSeenMs: number;
}

/** A gateway's own counters, summed over its process lives (each life counts from its start). */
export interface GatewayCounters {
  /** Records appended to the outbox; null when unknown (a life killed before its first report). */
  readonly appended: number | null;
  /** Records evicted by the disk budget (the health report's store.evicted, all classes). */
  readonly evicted: number;
  /** Records still in the outbox when the run was scored (not delivered yet, not lost). */
  readonly pendingAtEnd: number;
}

/** One RSS/CPU sample of a gateway (its process, or its share of the simulator's for in-process ones). */
export interface ResourceSample {
  readonly tMs: number;
  readonly rssBytes: number;
  /** CPU time over the interval before the sample, as a percentage of one core. */
  readonly cpuPercent: number;
}

export interface GatewayObservations {
  readonly gatewayId: string;
  /** What a consumer at the broker saw of this gateway's records (DeliveryTally.snapshot()). */
  readonly delivery: DeliveryTallySnapshot;
  readonly counters: GatewayCounters;
  /** End-to-end latency (fleet receivedMs - record ts), a bounded sample. */
  readonly latency: LatencyReservoirSnapshot;
  readonly alerts: readonly AlertObservation[];
  readonly defects: readonly DefectObservation[];
  /** At most a few hundred: the runner samples every second or so (and thins long runs). */
  readonly resources: readonly ResourceSample[];
}

/** One wave as GET /v1/rollouts/:id reports it (its tally). */
export interface WaveObservation {
  readonly total: number;
  readonly notified: number;
  readonly active: number;
  readonly failed: number;
  readonly rolledBack: number;
  readonly timedOut: number;
  readonly reverted: number;
}

export interface RolloutObservation {
  readonly rolloutId: string;
  readonly state: 'running' | 'rolling-back' | 'paused' | 'aborted' | 'completed';
  readonly waves: readonly WaveObservation[];
  /** The wave whose gate failed (from the `gate-failed` event), or null. */
  readonly gateFailedAtWave: number | null;
  readonly reason: string | null;
}

/** One learning round as GET /v1/learning/tasks/:id/rounds reports it. */
export interface LearningRoundObservation {
  readonly round: number;
  readonly outcome: 'open' | 'model' | 'no-model' | 'abandoned';
  readonly participants: number;
  readonly meanValidationLoss: number | null;
  /** Rejected updates per reason, from the round record. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Gateways whose updates were accepted (the record's participants); null when the round has no record. */
  readonly participantIds: readonly string[] | null;
  /** The aggregation rule of the round (fedavg, median, trimmed-mean, krum, ...); null when unknown. */
  readonly rule: string | null;
  /** Multi-Krum: the accepted updates it chose; null for other rules. */
  readonly selectedIds: readonly string[] | null;
}

export interface Observations {
  readonly startedMs: number;
  readonly endedMs: number;
  readonly gateways: readonly GatewayObservations[];
  readonly rollouts: readonly RolloutObservation[];
  readonly learning: readonly LearningRoundObservation[];
}
