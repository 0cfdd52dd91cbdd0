/**
 * The scorecard of a simulator run: ground truth and observations in, every number the
 * issue asks for out, per gateway and in total, plus the one JSON line a benchmark or CI
 * greps for. Pure: rendering is render-table.ts and render-html.ts.
 */
import type { Scenario } from '../scenario/types.js';
import { DEFAULT_ALERT_GRACE_MS, scoreAlerts, type AlertScore } from './alerts.js';
import { DEFAULT_DEFECT_TOLERANCE_MS, scoreDefects, type DefectScore } from './defects.js';
import { scoreDelivery, sumDelivery, type DeliveryScore } from './delivery.js';
import { latencyHistogram, scoreLatency, type HistogramBin, type LatencyScore } from './latency.js';
import { scoreLearning, type LearningScore } from './learning.js';
import { scoreRollout, type RolloutScore } from './rollout.js';
import type { Disruption, DisruptionKind, GatewayObservations, GroundTruth, Observations, ResourceSample } from './types.js';

export interface ScoreOptions {
  /** How long after a fault ends an alert still counts for it. */
  readonly alertGraceMs: number;
  /** How far a defect event's last sighting may be from the part leaving the view. */
  readonly defectToleranceMs: number;
}

export const SCORE_DEFAULTS: ScoreOptions = { alertGraceMs: DEFAULT_ALERT_GRACE_MS, defectToleranceMs: DEFAULT_DEFECT_TOLERANCE_MS };

export interface ResourceScore {
  readonly samples: number;
  readonly rssMaxMb: number;
  readonly rssMeanMb: number;
  readonly cpuMeanPercent: number;
  readonly cpuMaxPercent: number;
}

/** What the report's timeline draws for one gateway. */
export interface GatewayTimeline {
  readonly faults: readonly { readonly kind: string; readonly startMs: number; readonly endMs: number; readonly detected: boolean }[];
  readonly alerts: readonly { readonly startMs: number; readonly endMs: number; readonly open: boolean; readonly matched: boolean }[];
  readonly disruptions: readonly { readonly kind: DisruptionKind; readonly startMs: number; readonly endMs: number }[];
  readonly defectEvents: readonly { readonly tMs: number; readonly matched: boolean }[];
}

export interface GatewayScore {
  readonly gatewayId: string;
  readonly delivery: DeliveryScore;
  readonly latency: LatencyScore;
  readonly alerts: AlertScore;
  readonly defects: DefectScore;
  readonly resources: ResourceScore | null;
  readonly timeline: GatewayTimeline;
}

export interface Scorecard {
  readonly scenario: { readonly name: string; readonly description: string; readonly seed: number; readonly durationMs: number };
  readonly startedMs: number;
  readonly endedMs: number;
  /** Wall time of the run. */
  readonly seconds: number;
  readonly options: ScoreOptions;
  readonly gateways: readonly GatewayScore[];
  readonly totals: {
    readonly delivery: DeliveryScore;
    readonly latency: LatencyScore;
    readonly alerts: AlertScore;
    readonly defects: DefectScore;
    readonly resources: ResourceScore | null;
  };
  readonly latencyHistogram: readonly HistogramBin[];
  readonly disruptions: readonly Disruption[];
  readonly rollouts: readonly RolloutScore[];
  /** Every expected rollout behaved (true when the scenario has none). */
  readonly rolloutOk: boolean;
  readonly learning: LearningScore | null;
  /** The learning round went as expected (true when the scenario has none). */
  readonly learningOk: boolean;
}

const MB = 1024 * 1024;

function scoreResources(samples: readonly ResourceSample[]): ResourceScore | null {
  if (samples.length === 0) return null;
  const rss = samples.map((s) => s.rssBytes / MB);
  const cpu = samples.map((s) => s.cpuPercent);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { samples: samples.length, rssMaxMb: Math.max(...rss), rssMeanMb: mean(rss), cpuMeanPercent: mean(cpu), cpuMaxPercent: Math.max(...cpu) };
}

/** Totals: the mean of the gateways' means, the largest of their maxima. */
function sumResources(scores: readonly (ResourceScore | null)[]): ResourceScore | null {
  const some = scores.filter((s): s is ResourceScore => s !== null);
  if (some.length === 0) return null;
  const mean = (f: (s: ResourceScore) => number): number => some.reduce((a, s) => a + f(s), 0) / some.length;
  return {
    samples: some.reduce((a, s) => a + s.samples, 0),
    rssMaxMb: Math.max(...some.map((s) => s.rssMaxMb)),
    rssMeanMb: mean((s) => s.rssMeanMb),
    cpuMeanPercent: mean((s) => s.cpuMeanPercent),
    cpuMaxPercent: Math.max(...some.map((s) => s.cpuMaxPercent)),
  };
}

const emptyObservations = (gatewayId: string): GatewayObservations => ({
  gatewayId,
  delivery: { epochs: {}, duplicates: 0, foreignIds: 0, samples: {}, duplicateSamples: 0 },
  counters: { appended: null, evicted: 0, pendingAtEnd: 0 },
  latency: { seen: 0, values: [] },
  alerts: [],
  defects: [],
  resources: [],
});

export function score(truth: GroundTruth, obs: Observations, scenario: Scenario, options: Partial<ScoreOptions> = {}): Scorecard {
  const o: ScoreOptions = { ...SCORE_DEFAULTS, ...options };
  const byId = new Map(obs.gateways.map((g) => [g.gatewayId, g]));
  // Every gateway of the truth (one that sent nothing still has faults to miss), then any the truth forgot.
  const ids = [...truth.gatewayIds, ...obs.gateways.map((g) => g.gatewayId).filter((id) => !truth.gatewayIds.includes(id))];
  const gateways = ids.map((gatewayId): GatewayScore => {
    const g = byId.get(gatewayId) ?? emptyObservations(gatewayId);
    const faults = truth.sensorFaults.filter((f) => f.gatewayId === gatewayId);
    const parts = truth.defectiveParts.filter((p) => p.gatewayId === gatewayId);
    const alerts = scoreAlerts(g.alerts, faults, o.alertGraceMs);
    const defects = scoreDefects(parts, g.defects, o.defectToleranceMs);
    const falseAlerts = new Set(alerts.falseAlerts);
    const matchedEvents = new Set(defects.pairs.map((p) => p.event));
    return {
      gatewayId,
      delivery: scoreDelivery(g.delivery, g.counters, truth.mcuSamples[gatewayId] ?? null),
      latency: scoreLatency([g.latency]),
      alerts,
      defects,
      resources: scoreResources(g.resources),
      timeline: {
        faults: alerts.outcomes.map((x) => ({ kind: x.fault.kind, startMs: x.fault.startMs, endMs: x.fault.endMs, detected: x.delayMs !== null })),
        alerts: g.alerts.map((a) => ({ startMs: a.startMs, endMs: a.endMs ?? obs.endedMs, open: a.endMs === null, matched: !falseAlerts.has(a) })),
        disruptions: truth.disruptions
          .filter((d) => d.gatewayIds.includes(gatewayId))
          .map((d) => ({ kind: d.kind, startMs: d.startMs, endMs: d.endMs ?? obs.endedMs })),
        defectEvents: g.defects.map((e) => ({ tMs: e.lastSeenMs, matched: matchedEvents.has(e) })),
      },
    };
  });
  const allAlerts = obs.gateways.flatMap((g) => g.alerts);
  const allDefects = obs.gateways.flatMap((g) => g.defects);
  const reservoirs = obs.gateways.map((g) => g.latency);
  const rollouts = truth.rollouts.map((r) =>
    scoreRollout(
      r,
      obs.rollouts.find((x) => x.rolloutId === r.rolloutId),
    ),
  );
  const learning = truth.learning === null ? null : scoreLearning(truth.learning, obs.learning);
  return {
    scenario: { name: scenario.name, description: scenario.description, seed: scenario.seed, durationMs: scenario.durationMs },
    startedMs: obs.startedMs,
    endedMs: obs.endedMs,
    seconds: Math.max(0, obs.endedMs - obs.startedMs) / 1000,
    options: o,
    gateways,
    totals: {
      delivery: sumDelivery(gateways.map((g) => g.delivery)),
      latency: scoreLatency(reservoirs),
      alerts: scoreAlerts(allAlerts, truth.sensorFaults, o.alertGraceMs),
      defects: scoreDefects(truth.defectiveParts, allDefects, o.defectToleranceMs),
      resources: sumResources(gateways.map((g) => g.resources)),
    },
    latencyHistogram: latencyHistogram(reservoirs),
    disruptions: truth.disruptions,
    rollouts,
    rolloutOk: rollouts.every((r) => r.ok),
    learning,
    learningOk: learning === null || learning.ok,
  };
}

const ratio = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The last line `edgewise sim` prints (issue 16), keys in this order:
 * `{"bench":"sim","lost":N,"duplicated":N,"delivered":N,"alert_precision":P,"alert_recall":R,"defect_recall":D,"rollout_ok":B,"learning_ok":B,"seconds":S}`.
 * Ratios to 3 decimals, seconds to 0.1 s.
 */
export function scorecardLine(card: Scorecard): string {
  const t = card.totals;
  return JSON.stringify({
    bench: 'sim',
    lost: t.delivery.lost,
    duplicated: t.delivery.duplicated,
    delivered: t.delivery.delivered,
    alert_precision: ratio(t.alerts.precision),
    alert_recall: ratio(t.alerts.recall),
    defect_recall: ratio(t.defects.recall),
    rollout_ok: card.rolloutOk,
    learning_ok: card.learningOk,
    seconds: Math.round(card.seconds * 10) / 10,
  });
}
