import type { ShadowSummary } from '../protocol/update.js';
import type { GateResult } from './gates.js';

/**
 * Quality gates, measured in shadow: each gateway of a wave runs the candidate beside its
 * active model (`inferences` runs, or `maxMs`, whichever comes first) and reports how they
 * compared; the wave activates the release only when the reports pass.
 */
export type QualityGates = {
  /** Runs of the candidate each gateway is asked for, and the longest it may take. */
  readonly inferences: number;
  readonly maxMs: number;
  /** A gateway that ran the candidate fewer times has shown nothing: it fails. */
  readonly minInferences: number;
  /** Anomaly: alert agreement; vision: F1 of the candidate's detections against the active model's at IoU 0.5. */
  readonly minAgreement: number;
  /** Anomaly: Pearson correlation of the two models' scores (null: not gated). */
  readonly minScoreCorrelation: number | null;
  /** Vision: the share of matched detections with the same class (null: not gated). */
  readonly minClassAgreement: number | null;
  /** The candidate's p99 latency per run (null: the release's own latency budget). */
  readonly maxLatencyP99Ms: number | null;
  /** Runs that threw, as a share of runs. */
  readonly maxErrorShare: number;
  /**
   * A release with a labelled evaluation set is judged on it instead of on agreement: its metric
   * there (anomaly: ROC AUC; vision: detection F1 at IoU 0.5) may be at most this much below
   * the active model's, on every gateway (0: no worse).
   */
  readonly maxEvaluationDrop: number;
  /** The share of the wave's shadowing gateways allowed to fail the above. */
  readonly maxFailShare: number;
};

export const QUALITY_DEFAULTS: Omit<QualityGates, 'minInferences'> = {
  inferences: 200,
  maxMs: 10 * 60_000,
  minAgreement: 0.9,
  minScoreCorrelation: null,
  minClassAgreement: 0.9,
  maxLatencyP99Ms: null,
  maxErrorShare: 0,
  maxEvaluationDrop: 0,
  maxFailShare: 0,
};

/** The gates with defaults filled in; throws naming the field that is out of range. */
export function qualityGates(q: Partial<QualityGates>): QualityGates {
  const inferences = q.inferences ?? QUALITY_DEFAULTS.inferences;
  const out: QualityGates = { ...QUALITY_DEFAULTS, minInferences: Math.ceil(inferences / 2), ...q, inferences };
  const int = (k: keyof QualityGates, lo: number, hi: number): void => {
    const v = out[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new QualityGateError(`quality.${k}: expected an integer from ${lo} to ${hi}, got ${String(v)}`);
  };
  const unit = (k: keyof QualityGates, lo = 0): void => {
    const v = out[k];
    if (v === null && (k === 'minScoreCorrelation' || k === 'minClassAgreement')) return;
    if (typeof v !== 'number' || !(v >= lo && v <= 1)) throw new QualityGateError(`quality.${k}: expected a number from ${lo} to 1, got ${String(v)}`);
  };
  int('inferences', 1, 1_000_000);
  int('maxMs', 1000, 24 * 3600 * 1000);
  int('minInferences', 0, out.inferences);
  unit('minAgreement');
  unit('minScoreCorrelation', -1);
  unit('minClassAgreement');
  unit('maxErrorShare');
  unit('maxEvaluationDrop');
  unit('maxFailShare');
  if (out.maxLatencyP99Ms !== null && !(typeof out.maxLatencyP99Ms === 'number' && out.maxLatencyP99Ms > 0)) throw new QualityGateError(`quality.maxLatencyP99Ms: expected a number of ms above 0 or null, got ${String(out.maxLatencyP99Ms)}`);
  return out;
}

export class QualityGateError extends Error {
  readonly code = 'E_ROLLOUT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'QualityGateError';
  }
}

/**
 * Why one gateway's shadow report fails the gates (empty: it passes). A release with an
 * evaluation set (`evaluationSet`) is held to be no worse on it than the active model; its
 * agreement with that model is not gated, since a better model disagrees with a worse one.
 */
export function shadowShortfalls(s: ShadowSummary, q: QualityGates, latencyBudgetMs: number, evaluationSet = false): string[] {
  const why: string[] = [];
  if (s.stages === 0) why.push('no stage on the gateway runs this model, so nothing was measured');
  if (s.inferences < q.minInferences) why.push(`${s.inferences} runs, fewer than the ${q.minInferences} needed`);
  const errorShare = s.inferences === 0 ? 0 : s.errors / s.inferences;
  if (errorShare > q.maxErrorShare) why.push(`${s.errors} of ${s.inferences} runs failed (${pct(errorShare)}, limit ${pct(q.maxErrorShare)})`);
  const p99Limit = q.maxLatencyP99Ms ?? latencyBudgetMs;
  if (s.latencyMs !== null && s.latencyMs.p99 > p99Limit) why.push(`latency p99 ${s.latencyMs.p99.toFixed(1)} ms over ${p99Limit} ms`);
  if (evaluationSet) {
    const e = s.evaluation;
    if (e === null) why.push('the release carries an evaluation set, and the gateway reported no evaluation on it');
    else if (e.error !== null || e.candidate === null) why.push(`no evaluation on the labelled set: ${e.error ?? 'no value for the candidate'}`);
    else if (e.active !== null && e.candidate < e.active - q.maxEvaluationDrop) {
      const [metric, samples] = e.metric === 'f1@0.5' ? ['detection F1 (IoU 0.5)', 'frames'] : ['ROC AUC', 'windows'];
      why.push(`${metric} on the labelled set ${e.candidate.toFixed(3)}, below the active model's ${e.active.toFixed(3)}${q.maxEvaluationDrop > 0 ? ` by more than ${q.maxEvaluationDrop}` : ''} (${e.samples} ${samples})`);
    }
    if (s.stages > 0 && s.inferences > 0 && s.anomaly === null && s.vision === null) why.push('the stages ran the candidate but compared nothing');
    return why;
  }
  if (s.anomaly !== null) {
    if (s.anomaly.alertAgreement < q.minAgreement) why.push(`alert agreement ${s.anomaly.alertAgreement.toFixed(3)} below ${q.minAgreement}`);
    if (q.minScoreCorrelation !== null && (s.anomaly.scoreCorrelation ?? -1) < q.minScoreCorrelation) why.push(`score correlation ${s.anomaly.scoreCorrelation?.toFixed(3) ?? 'undefined (a constant score)'} below ${q.minScoreCorrelation}`);
  }
  if (s.vision !== null) {
    if (s.vision.f1 < q.minAgreement) why.push(`detection F1 ${s.vision.f1.toFixed(3)} below ${q.minAgreement}`);
    if (q.minClassAgreement !== null && s.vision.classAgreement !== null && s.vision.classAgreement < q.minClassAgreement) why.push(`class agreement ${s.vision.classAgreement.toFixed(3)} below ${q.minClassAgreement}`);
  }
  if (s.stages > 0 && s.inferences > 0 && s.anomaly === null && s.vision === null) why.push('the stages ran the candidate but compared nothing');
  return why;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export interface QualityGateResult extends GateResult {
  readonly gate: 'quality';
  readonly detail: {
    readonly shadowed: number;
    /** Up to 10 gateways that failed, with why. */
    readonly failing: readonly { readonly gw: string; readonly why: readonly string[] }[];
    readonly agreement: { readonly min: number; readonly mean: number } | null;
    readonly scoreCorrelation: { readonly min: number } | null;
    readonly latencyP99Ms: { readonly max: number } | null;
    /** With an evaluation set: the worst candidate-minus-active metric (ROC AUC or F1) over the gateways, and the lowest candidate value. */
    readonly evaluation: { readonly worstMargin: number | null; readonly minCandidate: number | null; readonly evaluated: number } | null;
    readonly inferences: number;
    readonly errors: number;
  };
}

/** The quality gate of a wave over its gateways' shadow reports, with the numbers an operator needs to see why. */
export function evaluateQuality(reports: readonly { gw: string; shadow: ShadowSummary }[], q: QualityGates, latencyBudgetMs: number, evaluationSet = false): QualityGateResult {
  const failing: { gw: string; why: string[] }[] = [];
  const agreements: number[] = [];
  const correlations: number[] = [];
  const p99s: number[] = [];
  const margins: number[] = [];
  const candidates: number[] = [];
  let inferences = 0;
  let errors = 0;
  for (const { gw, shadow: s } of reports) {
    const why = shadowShortfalls(s, q, latencyBudgetMs, evaluationSet);
    const e = s.evaluation;
    if (e !== null && e.candidate !== null) {
      candidates.push(e.candidate);
      if (e.active !== null) margins.push(e.candidate - e.active);
    }
    if (why.length > 0) failing.push({ gw, why });
    if (s.anomaly !== null) agreements.push(s.anomaly.alertAgreement);
    if (s.vision !== null) agreements.push(s.vision.f1);
    if (s.anomaly?.scoreCorrelation !== null && s.anomaly?.scoreCorrelation !== undefined) correlations.push(s.anomaly.scoreCorrelation);
    if (s.latencyMs !== null) p99s.push(s.latencyMs.p99);
    inferences += s.inferences;
    errors += s.errors;
  }
  const share = reports.length === 0 ? 0 : failing.length / reports.length;
  return {
    gate: 'quality',
    count: failing.length,
    share,
    limit: q.maxFailShare,
    // No report at all passes here: a wave whose gateways all have the release already has
    // nothing to shadow, and one that nobody answered fails the reached, failure or timeout gate.
    pass: share <= q.maxFailShare,
    detail: {
      shadowed: reports.length,
      failing: failing.slice(0, 10),
      agreement: agreements.length === 0 ? null : { min: Math.min(...agreements), mean: round(agreements.reduce((a, b) => a + b, 0) / agreements.length) },
      scoreCorrelation: correlations.length === 0 ? null : { min: Math.min(...correlations) },
      latencyP99Ms: p99s.length === 0 ? null : { max: Math.max(...p99s) },
      evaluation: !evaluationSet ? null : { worstMargin: margins.length === 0 ? null : round(Math.min(...margins)), minCandidate: candidates.length === 0 ? null : Math.min(...candidates), evaluated: candidates.length },
      inferences,
      errors,
    },
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
