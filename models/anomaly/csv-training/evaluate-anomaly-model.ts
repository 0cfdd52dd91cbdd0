import type { SensorLog } from '../../datasets/types.js';
import type { InferenceBackend } from '../../engine/engine.js';
import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import type { ModelCard } from '../../model-dir/model-card.js';
import { AlertPolicy, type AlertPolicyOptions } from '../alert-policy.js';
import { AutoencoderScorer } from '../autoencoder/model.js';
import { ANOMALY_DEFAULTS } from '../index.js';
import { PROFILES, scaledSigmoid } from '../nab/scoring.js';
import { rocAuc } from '../roc-auc.js';
import { seededRandom } from '../../train/random.js';
import type { CurvePoint } from '../../eval/detection-metrics.js';
import { SensorDataError } from './errors.js';
import { checkUnits, sensorInputOf } from './sensor-card.js';
import { windowPrCurve } from './window-pr-curve.js';
import { abnormalIn, abnormalPrefix, prepareLogs, scoredWindowEnds, type LabelledRun } from './sensor-windows.js';

/** The stage's alert settings a plant may have changed (default: ANOMALY_DEFAULTS.alert). */
export type EvaluationAlert = AlertPolicyOptions & { readonly smoothingMs: number };

export interface AnomalyEvaluationOptions {
  /** Default: ONNX Runtime on the CPU, as a gateway without an `inference` section. */
  readonly backend?: InferenceBackend;
  readonly alert?: Partial<EvaluationAlert>;
}

/** One labelled fault and whether the stage's alert policy, fed the model's scores, caught it. */
export interface FaultOutcome extends LabelledRun {
  readonly detected: boolean;
  /** From the fault's first row to the alert being raised (what an operator waits), ms; null when missed. */
  readonly delayMs: number | null;
  /** NAB's weight of the detection: 1 at the fault's start, falling to 0 at its end; 0 when missed. */
  readonly nabWeight: number;
  /** The channels the alert named. */
  readonly channels: readonly string[];
  /** The highest window score over the fault (a missed fault: how far below the threshold it stayed). */
  readonly peakScore: number;
}

/** A log's window scores over time for a chart: the highest score per bucket, null where none was scored (a gap). */
export interface ScoreTimeline {
  readonly file: string;
  readonly startMs: number;
  readonly bucketMs: number;
  readonly peaks: readonly (number | null)[];
}

/** An alert raised where no fault is labelled. */
export interface FalseAlert {
  readonly file: string;
  readonly startMs: number;
  readonly peakScore: number;
  readonly channels: readonly string[];
}

export interface AnomalyEvaluation {
  /** Windows scored (every stride, as the stage scores). */
  readonly windows: number;
  readonly normalWindows: number;
  readonly abnormalWindows: number;
  /** Windows with normal and abnormal rows (a fault's edge): left out of the window-level scores. */
  readonly mixedWindows: number;
  /** The raw window scores' threshold (the card's). */
  readonly threshold: number;
  /** Window level at `threshold`: null without labels (or, for precision, without a window over it). */
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
  /** Pure windows (labelled logs) at `threshold`: abnormal ones flagged (TP) or not (FN), normal ones flagged (FP) or not (TN). */
  readonly confusion: { readonly truePositives: number; readonly falsePositives: number; readonly falseNegatives: number; readonly trueNegatives: number };
  /** Precision-recall curve of the window scores (abnormal positive) over the AUC's sample, at most MAX_CURVE_POINTS points; empty without abnormal windows. */
  readonly prCurve: readonly CurvePoint[];
  /** The area under it (AP, all-point interpolation); null without abnormal windows. */
  readonly ap: number | null;
  /** ROC AUC of the windows' reconstruction errors against their labels (over at most MAX_AUC_WINDOWS, sampled uniformly); null without both kinds. */
  readonly auc: number | null;
  readonly faults: readonly FaultOutcome[];
  readonly falseAlerts: readonly FalseAlert[];
  /** Every alert raised (or reopened) over the logs. */
  readonly alerts: number;
  /** Hours of normal running (rows labelled 0) seen: the false-alert rate's denominator. */
  readonly normalHours: number;
  /** NAB-style score over the faults, standard profile (100: every fault caught at its first row, no false alert; 0: nothing caught). */
  readonly nab: number | null;
  readonly alert: EvaluationAlert;
  /** Logs resampled to the model's rate. */
  readonly resampled: readonly string[];
  /** Per log, at most TIMELINE_BUCKETS points (the report's chart; bounded whatever the log's length). */
  readonly timelines: readonly ScoreTimeline[];
}

export const TIMELINE_BUCKETS = 1000;

/** Windows a scorer run takes (bounds the memory of one run). */
const BATCH = 512;
/** Windows the AUC ranks at most: a seeded uniform sample beyond (a week at 200 Hz is 7.5 M windows). */
export const MAX_AUC_WINDOWS = 200_000;

interface Detection {
  readonly ts: number;
  readonly start: number;
  readonly peakScore: number;
  readonly channels: readonly string[];
}

/** The highest recent point (the stage's smoothing: the alert policy sees the peak of the last smoothingMs). */
class SlidingPeak {
  private readonly q: { ts: number; score: number; contributions: Record<string, number> }[] = [];
  constructor(private readonly smoothingMs: number) {}
  push(p: { ts: number; score: number; contributions: Record<string, number> }): { ts: number; score: number; contributions: Record<string, number> } {
    while (this.q.length > 0 && (this.q[this.q.length - 1] as { score: number }).score <= p.score) this.q.pop();
    this.q.push(p);
    while (this.q.length > 0 && p.ts - (this.q[0] as { ts: number }).ts > this.smoothingMs) this.q.shift();
    return this.q[0] as { ts: number; score: number; contributions: Record<string, number> };
  }
}

const round = (x: number | null, digits = 4): number | null => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/**
 * Scores the logs as the gateway would: the model through the inference engine (the stage's
 * AutoencoderScorer), windows where the stage makes them (every `strideSamples` of the card,
 * a fresh stage at each segment: a gap in a log is a restart), and the stage's smoothing and
 * alert policy on the scores. Returns window-level precision, recall, F1 at the card's
 * threshold and ROC AUC, and per labelled fault (a run of label-1 rows) whether an alert was
 * raised within it and how late (NAB-style: within the fault counts, earlier scores more).
 */
export async function evaluateAnomalyModel(card: ModelCard, modelBytes: Uint8Array, logs: readonly SensorLog[], o: AnomalyEvaluationOptions = {}): Promise<AnomalyEvaluation> {
  const sensor = sensorInputOf(card, 'model card');
  const alert: EvaluationAlert = { ...ANOMALY_DEFAULTS.alert, ...o.alert };
  const backend = o.backend ?? new OnnxBackend();
  const scorer = await AutoencoderScorer.load(modelBytes, backend, { providers: ['cpu'] });
  try {
    const { channels, windowSamples: w } = scorer.meta;
    if (w !== sensor.windowSamples) throw new SensorDataError(`model card: window of ${sensor.windowSamples} samples, the model's is ${w}`);
    const prepared = prepareLogs(logs, { channels, rateHz: sensor.rateHz });
    checkUnits(sensor, prepared.channels, prepared.units, logs.map((l) => l.file));
    const c = channels.length;
    // A uniform sample (algorithm R, seeded) of the pure windows' errors and labels, for the AUC.
    const errors = new Float64Array(MAX_AUC_WINDOWS);
    // The calibrated scores of the same windows (what the threshold applies to), for the PR curve.
    const sampledScores = new Float64Array(MAX_AUC_WINDOWS);
    const labels = new Uint8Array(MAX_AUC_WINDOWS);
    const random = seededRandom(1);
    let pure = 0;
    let positives = 0;
    let windows = 0;
    let mixed = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let normalRows = 0;
    const detections = new Map<string, Detection[]>();
    const windowMs = (w * 1000) / sensor.rateHz;
    const timelines = new Map(logs.map((l) => [l.file, { file: l.file, startMs: l.timestampsMs[0] as number, bucketMs: Math.max(1, ((l.timestampsMs[l.rows - 1] as number) - (l.timestampsMs[0] as number)) / (TIMELINE_BUCKETS - 1)), peaks: new Float64Array(TIMELINE_BUCKETS).fill(-1) }]));
    // Per log its faults in time order, and the first that a window now can still overlap (windows come in time order).
    const faultPeaks = new Map<LabelledRun, number>(prepared.faults.map((f) => [f, 0]));
    const faultsOf = new Map<string, { runs: LabelledRun[]; next: number }>();
    for (const f of prepared.faults) {
      const e = faultsOf.get(f.file) ?? { runs: [], next: 0 };
      e.runs.push(f);
      faultsOf.set(f.file, e);
    }
    for (const s of prepared.segments) {
      const prefix = abnormalPrefix(s);
      if (s.labels !== null) normalRows += s.rows - (prefix[s.rows] as number);
      const ends = scoredWindowEnds(s.rows, w, sensor.strideSamples);
      const policy = new AlertPolicy(alert);
      const peak = new SlidingPeak(alert.smoothingMs);
      const found = detections.get(s.file) ?? [];
      detections.set(s.file, found);
      for (let b = 0; b < ends.length; b += BATCH) {
        const batch = ends.slice(b, b + BATCH);
        const raw = new Float64Array(batch.length * w * c);
        batch.forEach((end, k) => raw.set(s.values.subarray((end - w + 1) * c, (end + 1) * c), k * w * c));
        const scored = await scorer.score(raw, batch.length);
        scored.forEach((r, k) => {
          const end = batch[k] as number;
          windows += 1;
          const abnormal = abnormalIn(prefix, end, w);
          if (s.labels !== null && (abnormal === 0 || abnormal === w)) {
            const label = abnormal === 0 ? 0 : 1;
            positives += label;
            const slot = pure < MAX_AUC_WINDOWS ? pure : Math.floor(random() * (pure + 1));
            pure += 1;
            if (slot < MAX_AUC_WINDOWS) {
              errors[slot] = r.meanSquaredError;
              sampledScores[slot] = r.score;
              labels[slot] = label;
            }
            const flagged = r.score >= card.threshold;
            if (flagged && label === 1) tp += 1;
            else if (flagged) fp += 1;
            else if (label === 1) fn += 1;
          } else if (s.labels !== null) mixed += 1;
          const ts = s.timestampsMs[end] as number;
          const line = timelines.get(s.file);
          if (line !== undefined) {
            const bucket = Math.min(TIMELINE_BUCKETS - 1, Math.max(0, Math.floor((ts - line.startMs) / line.bucketMs)));
            line.peaks[bucket] = Math.max(line.peaks[bucket] as number, r.score);
          }
          const fs = faultsOf.get(s.file);
          if (fs !== undefined) {
            while (fs.next < fs.runs.length && (fs.runs[fs.next] as LabelledRun).endMs + windowMs < ts) fs.next += 1;
            for (let i = fs.next; i < fs.runs.length && (fs.runs[i] as LabelledRun).startMs <= ts; i += 1) {
              const f = fs.runs[i] as LabelledRun;
              faultPeaks.set(f, Math.max(faultPeaks.get(f) ?? 0, r.score));
            }
          }
          const p = peak.push({ ts, score: r.score, contributions: { ...r.channels } });
          for (const e of policy.push({ ts, score: p.score, contributions: p.contributions })) {
            // A rise within the cooldown reopens the last alert (the operator sees it open again): it starts now.
            if (e.type !== 'cleared') found.push({ ts, start: e.type === 'reopened' ? ts : e.alert.start, peakScore: e.alert.peakScore, channels: e.alert.channels });
          }
        });
      }
      policy.close(s.timestampsMs[s.rows - 1] as number);
    }
    // Alerts on an unlabelled log are counted, not judged: nobody said what was normal there.
    const unlabelled = new Set(logs.filter((l) => l.labels === null).map((l) => l.file));
    const judged = new Map([...detections].filter(([file]) => !unlabelled.has(file)));
    const { faults, falseAlerts } = judge(prepared.faults, judged, windowMs + alert.smoothingMs, faultPeaks);
    const labelled = prepared.labelled;
    const precision = !labelled || tp + fp === 0 ? null : tp / (tp + fp);
    const recall = !labelled || tp + fn === 0 ? null : tp / (tp + fn);
    const f1 = precision === null || recall === null || precision + recall === 0 ? (precision === null || recall === null ? null : 0) : (2 * precision * recall) / (precision + recall);
    const sampled = Math.min(pure, MAX_AUC_WINDOWS);
    const pr = labelled ? windowPrCurve(sampledScores.subarray(0, sampled), labels.subarray(0, sampled)) : { curve: [], ap: null };
    const alerts = [...detections.values()].reduce((n, d) => n + d.length, 0);
    return {
      windows,
      normalWindows: pure - positives,
      abnormalWindows: positives,
      mixedWindows: mixed,
      threshold: card.threshold,
      precision: round(precision),
      recall: round(recall),
      f1: round(f1),
      confusion: { truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: pure - positives - fp },
      prCurve: pr.curve.map((p) => ({ recall: round(p.recall) as number, precision: round(p.precision) as number, score: round(p.score) as number })),
      ap: round(pr.ap),
      auc: round(rocAuc(errors.subarray(0, sampled), labels.subarray(0, sampled))),
      faults,
      falseAlerts,
      alerts,
      normalHours: round(normalRows / sensor.rateHz / 3600) as number,
      nab: labelled && faults.length > 0 ? round(nabScore(faults, falseAlerts.length), 2) : null,
      alert,
      resampled: prepared.logs.filter((l) => l.resampled).map((l) => l.file),
      timelines: [...timelines.values()].map((t) => ({ file: t.file, startMs: t.startMs, bucketMs: t.bucketMs, peaks: Array.from(t.peaks, (p) => (p < 0 ? null : round(p))) })),
    };
  } finally {
    await scorer.close();
  }
}

/**
 * Matches alerts to faults: an alert whose start lies in a fault's span, or up to `lateMs` after
 * it (a window ending then still holds fault rows, and the smoothing holds its score), detects
 * that fault; every other alert is false. A fault's first matching alert counts.
 */
function judge(runs: readonly LabelledRun[], detections: ReadonlyMap<string, readonly Detection[]>, lateMs: number, peaks: ReadonlyMap<LabelledRun, number>): { faults: FaultOutcome[]; falseAlerts: FalseAlert[] } {
  const used = new Set<Detection>();
  const faults = runs.map((f): FaultOutcome => {
    const d = (detections.get(f.file) ?? []).find((x) => x.start >= f.startMs && x.start <= f.endMs + lateMs);
    const peakScore = round(peaks.get(f) ?? 0) as number;
    if (d === undefined) return { ...f, detected: false, delayMs: null, nabWeight: 0, channels: [], peakScore };
    used.add(d);
    const width = Math.max(1, f.endMs - f.startMs);
    // NAB's position in the window: -1 at its first row, 0 at its last; a late alert weighs 0.
    const position = Math.min(0, -(f.endMs - d.start) / width);
    return { ...f, detected: true, delayMs: d.ts - f.startMs, nabWeight: round(Math.max(0, scaledSigmoid(position) / scaledSigmoid(-1))) as number, channels: d.channels, peakScore };
  });
  const inAnyFault = (file: string, d: Detection): boolean => runs.some((f) => f.file === file && d.start >= f.startMs && d.start <= f.endMs + lateMs);
  const falseAlerts: FalseAlert[] = [];
  for (const [file, list] of detections) for (const d of list) if (!used.has(d) && !inAnyFault(file, d)) falseAlerts.push({ file, startMs: d.start, peakScore: round(d.peakScore) as number, channels: d.channels });
  return { faults, falseAlerts };
}

/**
 * NAB's standard profile on faults and alerts: a caught fault earns its weight, a missed one
 * costs fnWeight, a false alert fpWeight (NAB discounts false positives just after a window; we
 * count each in full), normalised so that catching nothing is 0 and catching every fault at
 * its first row with no false alert is 100.
 */
function nabScore(faults: readonly FaultOutcome[], falseAlerts: number): number {
  const { tpWeight, fpWeight, fnWeight } = PROFILES.standard;
  const raw = faults.reduce((s, f) => s + (f.detected ? tpWeight * f.nabWeight : -fnWeight), 0) - fpWeight * falseAlerts;
  const none = -fnWeight * faults.length;
  const perfect = tpWeight * faults.length;
  return (100 * (raw - none)) / (perfect - none);
}

/** The JSON line `edgewise model eval` prints last for an anomaly model. */
export function anomalyEvaluationLine(e: AnomalyEvaluation): Record<string, unknown> {
  return {
    eval: 'anomaly',
    windows: e.windows,
    precision: e.precision,
    recall: e.recall,
    f1: e.f1,
    auc: e.auc,
    faults: e.faults.length,
    faults_detected: e.faults.filter((f) => f.detected).length,
    false_alerts: e.falseAlerts.length,
    nab: e.nab,
  };
}
