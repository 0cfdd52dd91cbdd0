import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { LearningHost, LocalTrainingRequest, LocalTrainingResult } from '../../runtime/federated/learner.js';
import type { ComponentEvents } from '../../runtime/health/events.js';
import type { DecisionSink, Stage } from '../../runtime/pipeline/components.js';
import type { ManagedModelSource, ShadowCandidate } from '../../runtime/pipeline/registry.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { DecisionEntry, ModelRef } from '../../runtime/store/decision-log.js';
import type { InferenceBackend } from '../engine/engine.js';
import { AlertLedger } from './alert-ledger.js';
import { AlertPolicy, type AlertEvent, type AlertPolicyOptions } from './alert-policy.js';
import type { AutoencoderScorer, WindowScore } from './autoencoder/model.js';
import { WindowReservoir } from './autoencoder/window-reservoir.js';
import { NormalWindows } from './autoencoder/normal-windows.js';
import { decodeAnomalyEvaluationSet, type AnomalyEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import { autoencoderAuc } from './shadow-evaluation.js';
import { explainMax } from './explanation.js';
import { STREAMING_VERSION, StreamingDetector, defaultStreamingParams, type StreamingParams } from './streaming/detector.js';

/**
 * The autoencoder's code (training, ONNX export and reading: onnx-proto and protobufjs, about
 * 4 MB of resident memory) is loaded when a stream first trains, loads or scores an
 * autoencoder, or a federated round runs: a gateway on the streaming detector never loads it
 * (README, "Footprint on a Pi-class box"). Every use is in an async path already.
 */
let autoencoderCode: Promise<typeof import('./autoencoder/model.js')> | undefined;
const autoencoder = (): Promise<typeof import('./autoencoder/model.js')> => (autoencoderCode ??= import('./autoencoder/model.js'));

/** The streaming detector's parameters a config may set. */
export type StreamingBand = Partial<Pick<StreamingParams, 'bandLagMs' | 'bandMinHistoryMs' | 'bandBlockMs' | 'bandMargin'>>;

export interface AutoencoderSettings {
  readonly windowSamples: number;
  readonly strideSamples: number;
  /** Time of normal running to learn from, from the first sample (or after the model was deleted). */
  readonly trainMs: number;
  /** Windows kept for training, sampled uniformly over trainMs (bounds memory and training time). */
  readonly trainWindows: number;
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly learningRate: number;
  readonly seed: number;
  /** The stage's provider preference; undefined: the backend's (`inference.providers`). */
  readonly providers?: readonly string[] | undefined;
}

export interface AnomalyStageOptions {
  readonly detector: 'streaming' | 'autoencoder';
  /** The alert policy sees the highest score of the last this-many ms (0: each score as is). */
  readonly smoothingMs: number;
  readonly channels: readonly string[] | undefined;
  readonly modelName: string | undefined;
  readonly modelVersion: string | undefined;
  readonly alert: AlertPolicyOptions;
  readonly scoreEveryMs: number;
  /** The streaming detector's drift band, where the config sets it (the rest keeps its defaults). */
  readonly streaming?: StreamingBand;
  readonly autoencoder: AutoencoderSettings;
  /** The gateway's inference backend (CreateEnv.backend), which runs the autoencoder; the streaming detector needs none. */
  readonly backend: InferenceBackend;
  /**
   * The autoencoder comes from the fleet (signed updates) instead of being trained here: the
   * active release of this model is used, and a newly activated one is switched to.
   */
  readonly managed?: { readonly name: string; readonly source: ManagedModelSource };
  /**
   * Federated learning (the gateway's `learning` section): with a managed model, the stage keeps
   * a bounded reservoir of normal windows per stream and registers a learner for the model.
   */
  readonly learning?: LearningHost;
  /**
   * Where alert ids and open alerts are kept across restarts (the plug-in opens it in the
   * stage's state dir). Without one, ids count from 1 in memory (unit tests, benchmarks).
   */
  readonly alerts?: AlertLedger;
}

/** Why a cleared alert ended: its score fell below clearThreshold, the gateway stopped, or it restarted after dying with the alert open. */
export type AlertEnd = 'score' | 'stop' | 'restart';

interface SampleRecord {
  readonly values: Readonly<Record<string, readonly number[]>>;
  readonly units?: Readonly<Record<string, string>>;
  readonly rateHz?: number;
}

interface ScoreInterval {
  start: number;
  peak: number;
  peakTs: number;
  explanation: Record<string, number>;
}

/** A score the alert policy may see (the peak of the last smoothingMs is what it sees). */
interface RecentPoint {
  readonly ts: number;
  readonly score: number;
  readonly contributions: Record<string, number>;
}

/**
 * Adds a point to a sliding maximum of the last `smoothingMs` (a monotonic deque: scores
 * decrease from the front) and returns the peak, the point the alert policy sees.
 */
function slidingPeak(q: RecentPoint[], p: RecentPoint, smoothingMs: number): RecentPoint {
  while (q.length > 0 && (q[q.length - 1] as RecentPoint).score <= p.score) q.pop();
  q.push(p);
  while (q.length > 0 && p.ts - (q[0] as RecentPoint).ts > smoothingMs) q.shift();
  return q[0] as RecentPoint;
}

/** The candidate's view of one stream: its own alert policy and smoothing, fed only its scores. */
type ShadowStream =
  | {
      readonly policy: AlertPolicy;
      readonly recentMax: RecentPoint[];
      /** Stream columns in the candidate's channel order (undefined: the same order). */
      readonly columns: readonly number[] | undefined;
    }
  | { readonly misfit: string };

/**
 * A candidate release running in shadow beside the managed model: it scores the windows the
 * active model scored, and what it says goes to its sink only (see ManagedModelSource.subscribeShadow).
 */
interface AnomalyShadow {
  readonly candidate: ShadowCandidate;
  /** Settles when the candidate loaded (scorer) or could not (error). */
  loaded: Promise<void>;
  scorer: AutoencoderScorer | undefined;
  /** Why the candidate cannot run at all (it does not load, or its window is not the stage's). */
  error: string | undefined;
  ended: boolean;
  /** Candidate runs in flight (the scorer is closed after them). */
  readonly running: Set<Promise<void>>;
  readonly streams: Map<string, ShadowStream>;
  /** Runs that threw (the first is reported as an event). */
  failures: number;
}

/** Per stream: its detectors, its alert policy, and (autoencoder) its training or scoring state. */
interface StreamState {
  readonly stream: string;
  /** The channels this stream is watched on; with the autoencoder, the model's channels in the model's order once one is used. */
  channels: string[];
  readonly units: Record<string, string>;
  readonly policy: AlertPolicy;
  readonly streaming: Map<string, StreamingDetector>;
  interval: ScoreInterval | undefined;
  lastTs: number;
  /** Sliding maximum of recent scores (monotonic deque): [ts, score, contributions]. */
  readonly recentMax: RecentPoint[];
  ae?: AeState;
}

interface AeState {
  /** loading: looking for a saved model; collecting: learning what normal is; then training, scoring. */
  phase: 'loading' | 'collecting' | 'training' | 'scoring' | 'failed' | 'waiting';
  /** Timestamp of the first sample collected for training. */
  collectFrom: number | undefined;
  collectedTo: number;
  reservoir: WindowReservoir | undefined;
  /** Samples collected for training so far. */
  collected: number;
  ring: Float64Array;
  ringCount: number;
  sinceWindow: number;
  scorer?: AutoencoderScorer;
  model?: ModelRef;
  loss?: number;
  error?: string;
  /** Rows taken into the ring so far: a window's position, for spreading the held-out share over time. */
  rows: number;
}

/** Streams watched at once at most (each holds detectors and, for the autoencoder, buffers). */
const MAX_STREAMS = 64;

function isSampleRecord(data: unknown): data is SampleRecord {
  const v = (data as { values?: unknown } | null)?.values;
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The given columns of row-major rows of `from` values (a window batch in another channel order). */
function selectColumns(rows: Float64Array, from: number, columns: readonly number[]): Float64Array {
  const n = rows.length / from;
  const out = new Float64Array(n * columns.length);
  for (let r = 0; r < n; r += 1) columns.forEach((c, j) => (out[r * columns.length + j] = rows[r * from + c] as number));
  return out;
}

function safeName(stream: string): string {
  return stream.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Watches sample records for anomalies and raises alerts. Records pass through untouched;
 * alerts are added as `alert` records and written to the decision log with the model's
 * name, version and hash and the explanation (which channels, which time span).
 */
export class AnomalyStage implements Stage {
  private readonly streams = new Map<string, StreamState>();
  private readonly streamingModel: ModelRef;
  private scored = 0;
  private alertsRaised = 0;
  private decisionErrors = 0;
  /** Windows the model failed to score (their records went on unscored). */
  private scoreErrors = 0;
  /** Alert ids and open alerts, kept across restarts. */
  private readonly ledger: AlertLedger;
  /** Ledger writes that failed (the alerts went out anyway). */
  private ledgerErrors = 0;
  /** Decision log entries of this batch's alerts, appended once the ledger covers them. */
  private pendingDecisions: DecisionEntry[] = [];
  private readonly pendingTraining = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private readonly unsubscribeShadow: (() => void) | undefined;
  /** The candidate in shadow, if any. */
  private shadow: AnomalyShadow | undefined;
  /** Candidates that ended and are being closed. */
  private readonly closingShadows = new Set<Promise<void>>();
  /** Federated rounds trained (seeds each round's batch order). */
  private roundsTrained = 0;
  private readonly unregisterLearner: (() => void) | undefined;
  /** Federated learning: the normal windows the managed model scored (present with a learning host). */
  private readonly normal: NormalWindows | undefined;

  constructor(
    private readonly o: AnomalyStageOptions,
    private readonly stateDir: string,
    private readonly decisions: DecisionSink,
    private readonly events: ComponentEvents,
  ) {
    this.ledger = o.alerts ?? AlertLedger.inMemory();
    // The hash names what scores: the detector's version and every parameter (a tuned band is another model).
    const params = { ...defaultStreamingParams(), suppress: false, ...o.streaming };
    this.streamingModel = {
      name: o.modelName ?? 'streaming-anomaly',
      version: o.modelVersion ?? STREAMING_VERSION,
      hash: `sha256:${createHash('sha256').update(JSON.stringify({ version: STREAMING_VERSION, params })).digest('hex')}`,
    };
    // Subscribed from the start: a shadow may begin before the first record arrives.
    const m = o.managed;
    if (m !== undefined && o.detector === 'autoencoder') this.unsubscribeShadow = m.source.subscribeShadow(m.name, (c) => this.onShadow(c));
    if (m !== undefined && o.detector === 'autoencoder' && o.learning !== undefined) {
      this.normal = new NormalWindows(o.learning.reservoirWindows, o.autoencoder.windowSamples, o.autoencoder.seed);
      this.unregisterLearner = o.learning.register({ model: m.name, train: (req) => this.trainRound(req) });
    }
    // A stage that runs the autoencoder loads its code now, while the gateway starts: compiling
    // it later (hundreds of ms on a loaded Pi) would stall the event loop mid-stream, at the
    // first training, scoring or federated round. Only a streaming-detector stage skips it.
    if (o.detector === 'autoencoder') {
      void autoencoder().catch(() => undefined); // a failure shows at first use, with its context
      if (o.learning !== undefined) void import('./autoencoder/federated-round.js').catch(() => undefined);
    }
  }

  stats(): Record<string, number | string | boolean | null> {
    const ae = [...this.streams.values()].map((s) => s.ae).filter((a): a is AeState => a !== undefined);
    const model = ae.find((a) => a.scorer !== undefined)?.scorer?.model;
    return {
      detector: this.o.detector,
      streams: this.streams.size,
      scoredPoints: this.scored,
      alertsRaised: this.alertsRaised,
      alertsOpen: this.ledger.openCount,
      alertLedgerErrors: this.ledgerErrors,
      decisionErrors: this.decisionErrors,
      scoreErrors: this.scoreErrors,
      phase: ae.length === 0 ? (this.o.detector === 'streaming' ? 'scoring' : 'waiting') : (ae[0]?.phase ?? null),
      provider: model?.provider ?? (this.o.detector === 'streaming' ? 'js' : null),
      modelHash: ae.find((a) => a.model !== undefined)?.model?.hash ?? (this.o.detector === 'streaming' ? this.streamingModel.hash : null),
      // A fleet model that is not there (yet) or does not load leaves the stage without a detector.
      degraded: (model?.degraded ?? false) || (this.o.managed !== undefined && ae.some((a) => a.phase === 'waiting' || a.phase === 'failed')),
      degradedReason:
        model?.degraded === true
          ? `runs on ${model.provider}; preferred ${model.requested[0] ?? '?'} (${model.fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ')})`
          : this.o.managed !== undefined
            ? (ae.find((a) => a.phase === 'waiting' || a.phase === 'failed')?.error ?? null)
            : null,
      inferenceMeanMs: model === undefined ? null : Math.round(model.stats().meanMs * 1000) / 1000,
      trainingError: ae.find((a) => a.error !== undefined)?.error ?? null,
      // While collecting: the share of trainMs of normal running seen so far (of the least advanced stream).
      trainingProgress: ae.length === 0 ? null : Math.min(...ae.map((a) => (a.phase === 'loading' ? 0 : a.phase === 'collecting' ? Math.min(1, (a.collectedTo - (a.collectFrom ?? a.collectedTo)) / this.o.autoencoder.trainMs) : 1))),
      trainingLoss: ae.find((a) => a.loss !== undefined)?.loss ?? null,
      ...(this.normal === undefined ? {} : { learningWindows: this.normal.size, learningRounds: this.roundsTrained }),
    };
  }

  private state(r: RecordInput, data: SampleRecord): StreamState | undefined {
    let s = this.streams.get(r.stream);
    if (s !== undefined) return s;
    if (this.streams.size >= MAX_STREAMS) return undefined;
    const channels = (this.o.channels ?? Object.keys(data.values)).filter((c) => Array.isArray(data.values[c]));
    if (channels.length === 0) return undefined;
    s = { stream: r.stream, channels, units: { ...(data.units ?? {}) }, policy: new AlertPolicy(this.o.alert, () => this.ledger.takeId()), streaming: new Map(), interval: undefined, lastTs: r.ts, recentMax: [] };
    if (this.o.detector === 'streaming') {
      // The alert policy does its own hysteresis and minimum duration: it wants the evidence
      // at every point, not NAB's one-score-per-event suppression.
      for (const c of channels) s.streaming.set(c, new StreamingDetector({ ...this.o.streaming, suppress: false }));
    } else {
      const a = this.o.autoencoder;
      s.ae = { phase: 'loading', collectFrom: undefined, collectedTo: r.ts, reservoir: undefined, collected: 0, ring: new Float64Array(a.windowSamples * channels.length), ringCount: 0, sinceWindow: 0, rows: 0 };
      void this.tryLoadModel(s);
    }
    this.streams.set(r.stream, s);
    return s;
  }

  async process(records: readonly RecordInput[]): Promise<readonly RecordInput[]> {
    const out: RecordInput[] = [...records];
    const first = records[0];
    if (first !== undefined) this.closeOrphans(first.ts, out);
    for (const r of records) {
      if (!isSampleRecord(r.data)) continue;
      const s = this.state(r, r.data);
      if (s === undefined) continue;
      Object.assign(s.units, r.data.units ?? {});

      const data = r.data;
      const n = Math.max(0, ...s.channels.map((c) => data.values[c]?.length ?? 0));
      // Samples of a record are 1/rateHz apart; without a rate they share the record's time.
      const step = typeof data.rateHz === 'number' && data.rateHz > 0 ? 1000 / data.rateHz : 0;
      if (s.ae === undefined) {
        // The alert policy sees one point per record: its most anomalous sample.
        let best: { ts: number; score: number; contributions: Record<string, number> } | undefined;
        for (let k = 0; k < n; k += 1) {
          const p = this.scoreStreaming(s, data, k, r.ts + k * step);
          if (best === undefined || p.score > best.score) best = p;
        }
        if (best !== undefined) this.onScore(s, best.ts, best.score, best.contributions, null, out);
      } else {
        await this.feedAutoencoder(s, data, n, r.ts, step, out);
      }
      s.lastTs = r.ts + (n - 1) * step;
    }
    await this.settle();
    return out;
  }

  /**
   * Alerts that were open when the gateway died (the ledger still lists them) are cleared at
   * the first batch after the restart, `endedBy: restart`, ending at that batch's time: the
   * first moment the gateway could look again. The fleet was told they were open and would
   * otherwise show them open for ever; if the fault is still there, the stage raises a new
   * alert (a new id) once it has seen enough of it again.
   */
  private closeOrphans(ts: number, out: RecordInput[]): void {
    for (const a of this.ledger.takeOrphans()) {
      const end = Math.max(ts, a.start);
      const outcome = { alert: a.id, state: 'cleared' as const, start: a.start, end, peakScore: a.peakScore, peakTs: a.peakTs, channels: a.channels, endedBy: 'restart' as const };
      out.push({ stream: `${a.stream}.alerts`, class: 'alert', ts: end, data: { ...outcome, explanation: a.explanation, detector: a.detector, model: a.model } });
      this.ledger.closed(a.stream, a.id);
      this.events.warn('anomaly.cleared', { code: 'E_ANOMALY', stream: a.stream, alert: a.id, channels: a.channels, peakScore: a.peakScore, endedBy: 'restart' });
      this.pendingDecisions.push({ ts: end, kind: 'alert', stream: a.stream, model: a.model, inputs: { channels: a.channels, detector: a.detector }, explanation: a.explanation, outcome, recordId: null });
    }
  }

  /**
   * Makes the ledger cover the alerts about to leave (written before the records are returned
   * to the pipeline, so no stored record names an id a restart could hand out again), then
   * logs their decisions. A ledger that cannot be written is an error event and a counter; the
   * alerts still go out.
   */
  private async settle(): Promise<void> {
    try {
      await this.ledger.save();
    } catch (err) {
      this.ledgerErrors += 1;
      this.events.error('anomaly.alert_ledger_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message });
    }
    const entries = this.pendingDecisions;
    if (entries.length === 0) return;
    this.pendingDecisions = [];
    for (const entry of entries) {
      this.decisions.append(entry).catch((err: unknown) => {
        this.decisionErrors += 1;
        this.events.error('anomaly.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message });
      });
    }
  }

  private scoreStreaming(s: StreamState, data: SampleRecord, k: number, ts: number): { ts: number; score: number; contributions: Record<string, number> } {
    const scores: Record<string, number> = {};
    for (const c of s.channels) {
      const v = data.values[c]?.[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      scores[c] = (s.streaming.get(c) as StreamingDetector).update(v, ts);
    }
    this.scored += 1;
    return { ts, ...explainMax(scores) };
  }

  private onScore(s: StreamState, ts: number, score: number, contributions: Record<string, number>, span: { start: number; end: number } | null, out: RecordInput[]): void {
    if (this.o.scoreEveryMs > 0) {
      const iv = (s.interval ??= { start: ts, peak: -1, peakTs: ts, explanation: {} });
      if (score > iv.peak) {
        iv.peak = score;
        iv.peakTs = ts;
        iv.explanation = contributions;
      }
      if (ts - iv.start >= this.o.scoreEveryMs) {
        out.push({ stream: `${s.stream}.anomaly`, class: 'result', ts: iv.start, data: { windowMs: ts - iv.start, peakScore: iv.peak, peakTs: iv.peakTs, explanation: iv.explanation, model: this.modelOf(s) } });
        s.interval = undefined;
      }
    }
    // Scores of single samples jump about; the policy sees the peak of the last smoothingMs, so
    // a fault that keeps producing anomalous points holds the alert up, while one isolated point
    // lasts only smoothingMs (keep minDurationMs above it).
    const peak = slidingPeak(s.recentMax, { ts, score, contributions }, this.o.smoothingMs);
    for (const e of s.policy.push({ ts, score: peak.score, contributions: peak.contributions })) this.onAlert(s, e, span, out);
  }

  private modelOf(s: StreamState): ModelRef {
    return s.ae?.model ?? this.streamingModel;
  }

  private onAlert(s: StreamState, e: AlertEvent, span: { start: number; end: number } | null, out: RecordInput[], endedBy: AlertEnd = 'score'): void {
    if (e.type === 'raised') this.alertsRaised += 1;
    const model = this.modelOf(s);
    const explanation = Object.fromEntries(Object.entries(e.alert.explanation).map(([c, v]) => [c, { contribution: v, unit: s.units[c] ?? '' }]));
    const data = {
      alert: e.alert.id,
      state: e.type,
      start: e.alert.start,
      end: e.alert.end,
      peakScore: e.alert.peakScore,
      peakTs: e.alert.peakTs,
      channels: e.alert.channels,
      explanation,
      ...(span === null ? {} : { span }),
      ...(e.type === 'cleared' ? { endedBy } : {}),
      detector: this.o.detector,
      model,
    };
    if (e.type === 'cleared') this.ledger.closed(s.stream, e.alert.id);
    else this.ledger.opened({ stream: s.stream, id: e.alert.id, start: e.alert.start, peakScore: e.alert.peakScore, peakTs: e.alert.peakTs, channels: e.alert.channels, explanation, detector: this.o.detector, model });
    out.push({ stream: `${s.stream}.alerts`, class: 'alert', ts: e.type === 'cleared' ? (e.alert.end as number) : e.alert.start, data });
    this.events.warn(`anomaly.${e.type}`, { code: 'E_ANOMALY', stream: s.stream, alert: e.alert.id, channels: e.alert.channels, peakScore: e.alert.peakScore });
    this.pendingDecisions.push({
      ts: data.state === 'cleared' ? (e.alert.end as number) : e.alert.start,
      kind: 'alert',
      stream: s.stream,
      model,
      inputs: { channels: s.channels, detector: this.o.detector, ...(span === null ? {} : { span }) },
      explanation,
      outcome: { alert: e.alert.id, state: e.type, start: e.alert.start, end: e.alert.end, peakScore: e.alert.peakScore, peakTs: e.alert.peakTs, channels: e.alert.channels, ...(e.type === 'cleared' ? { endedBy } : {}) },
      recordId: null,
    });
  }

  private async feedAutoencoder(s: StreamState, data: SampleRecord, n: number, ts0: number, step: number, out: RecordInput[]): Promise<void> {
    const ae = s.ae as AeState;
    const c = s.channels.length;
    const a = this.o.autoencoder;
    const windows: number[] = [];
    const windowTs: { start: number; end: number }[] = [];
    /** Each window's first row (ae.rows numbering). */
    const windowRows: number[] = [];
    for (let k = 0; k < n; k += 1) {
      const row = s.channels.map((ch) => data.values[ch]?.[k] ?? Number.NaN);
      if (row.some((v) => !Number.isFinite(v))) continue;
      if (ae.phase !== 'collecting' && ae.phase !== 'scoring') continue;
      const ts = ts0 + k * step;
      // Keep the last windowSamples rows.
      ae.ring.copyWithin(0, c);
      ae.ring.set(row, (a.windowSamples - 1) * c);
      ae.ringCount = Math.min(a.windowSamples, ae.ringCount + 1);
      ae.sinceWindow += 1;
      ae.rows += 1;
      if (ae.phase === 'collecting') {
        // Candidate training windows every half window, sampled uniformly over the whole period.
        ae.collectFrom ??= ts;
        ae.collected += 1;
        ae.collectedTo = ts;
        if (ae.ringCount === a.windowSamples && ae.sinceWindow >= Math.max(1, a.windowSamples >> 1)) {
          ae.sinceWindow = 0;
          (ae.reservoir ??= new WindowReservoir(a.trainWindows, a.windowSamples * c, a.seed)).offer(ae.ring, ae.collected);
        }
        if (ts - ae.collectFrom >= a.trainMs) this.startTraining(s);
        continue;
      }
      if (ae.ringCount === a.windowSamples && ae.sinceWindow >= a.strideSamples) {
        ae.sinceWindow = 0;
        for (const v of ae.ring) windows.push(v);
        windowTs.push({ start: ts - (a.windowSamples - 1) * step, end: ts });
        windowRows.push(ae.rows - a.windowSamples);
      }
    }
    if (windows.length === 0 || ae.scorer === undefined) return;
    const batch = Float64Array.from(windows);
    const started = performance.now();
    let results;
    try {
      results = await ae.scorer.score(batch, windowTs.length);
    } catch (err) {
      this.o.managed?.source.recordRun(this.o.managed.name, false, performance.now() - started);
      // These windows go unscored; the records they came from still go on to the store.
      this.scoreErrors += windowTs.length;
      this.events.error('anomaly.score_failed', { code: 'E_MODEL_RUN', stream: s.stream, windows: windowTs.length, model: ae.model?.hash ?? null, reason: (err as Error).message });
      return;
    }
    this.o.managed?.source.recordRun(this.o.managed.name, true, performance.now() - started);
    const shadow = this.shadow;
    // What the active model said of each window (its score, and whether its policy alerts after it), for the shadow.
    const said: { score: number; alerting: boolean }[] = [];
    results.forEach((r, i) => {
      const span = windowTs[i] as { start: number; end: number };
      // The time span that carries most of the error: from the first to the last step with a share of it.
      const peakStep = r.steps.indexOf(Math.max(...r.steps));
      const spanOfError = { start: span.start + peakStep * step, end: span.end };
      this.scored += 1;
      this.onScore(s, span.end, r.score, { ...r.channels }, spanOfError, out);
      if (shadow !== undefined) said.push({ score: r.score, alerting: s.policy.alerting });
      this.keepIfNormal(s, batch, i, windowRows[i] as number, r.score);
    });
    // The active model's outputs are made; now the candidate scores the same windows (and acts on nothing).
    if (shadow !== undefined) await this.runShadow(shadow, s, batch, windowTs, said);
  }

  /**
   * Federated learning keeps what the managed model calls normal: a window scored below the
   * alert's clear threshold while no alert is open (a window inside an alert, or one on its way
   * to raising one, would teach the model the fault).
   */
  private keepIfNormal(s: StreamState, batch: Float64Array, i: number, row: number, score: number): void {
    if (this.normal === undefined || s.policy.alerting || score >= this.o.alert.clearThreshold) return;
    const dims = this.o.autoencoder.windowSamples * s.channels.length;
    this.normal.offer(s.stream, s.channels, batch.subarray(i * dims, (i + 1) * dims), row);
  }

  /**
   * One federated round (the LocalLearner this stage registers) on a copy of the kept normal
   * windows: scoring and keeping go on meanwhile, and trainMlp yields to the event loop every
   * 16 batches.
   */
  private async trainRound(req: LocalTrainingRequest): Promise<LocalTrainingResult> {
    const windows = (this.normal as NormalWindows).snapshot();
    this.roundsTrained += 1;
    this.events.info('anomaly.learning_round', { model: this.o.managed?.name, windows: windows.count, epochs: req.localEpochs });
    const { trainAutoencoderRound } = await import('./autoencoder/federated-round.js');
    return trainAutoencoderRound(req.globalModel, windows, {
      localEpochs: req.localEpochs,
      learningRate: req.learningRate,
      proximalMu: req.proximalMu,
      heldOutShare: (this.o.learning as LearningHost).heldOutShare,
      batchSize: 64,
      seed: (this.o.autoencoder.seed + this.roundsTrained) >>> 0,
      signal: req.signal,
    });
  }

  /** Starts (or, with undefined, ends) running a candidate release in shadow; a new one replaces the old. */
  private onShadow(candidate: ShadowCandidate | undefined): void {
    const old = this.shadow;
    this.shadow = undefined;
    if (old !== undefined) this.endShadow(old);
    if (candidate === undefined) return;
    const sh: AnomalyShadow = { candidate, loaded: Promise.resolve(), scorer: undefined, error: undefined, ended: false, running: new Set(), streams: new Map(), failures: 0 };
    const a = this.o.autoencoder;
    sh.loaded = (async () => {
      try {
        const scorer = await (await autoencoder()).AutoencoderScorer.load(candidate.bytes, this.o.backend, { providers: a.providers });
        if (scorer.meta.windowSamples !== a.windowSamples) {
          await scorer.close();
          throw new Error(`candidate does not fit this stage (window ${scorer.meta.windowSamples}, the stage's ${a.windowSamples})`);
        }
        if (sh.ended) {
          await scorer.close();
          return;
        }
        sh.scorer = scorer;
        this.reportCalibration(scorer, { model: this.o.managed?.name, candidate: candidate.ref });
        this.events.info('anomaly.shadow_started', { model: this.o.managed?.name, candidate: candidate.ref, release: candidate.release, provider: scorer.model.provider });
      } catch (err) {
        sh.error = (err as Error).message;
        if (!sh.ended) this.events.warn('anomaly.shadow_invalid', { code: 'E_MODEL_INVALID', model: this.o.managed?.name, candidate: candidate.ref, release: candidate.release, reason: sh.error });
      }
    })();
    this.shadow = sh;
    if (candidate.evaluation !== undefined) {
      const job = this.evaluateShadow(sh, candidate.evaluation);
      sh.running.add(job);
      void job.finally(() => sh.running.delete(job));
    }
  }

  /**
   * The release's labelled evaluation set, scored by the candidate and by the active release
   * (loaded apart from the streams' scorers, so the live path is untouched): their ROC AUC go
   * to the sink, or why the candidate could not be evaluated. Never throws.
   */
  private async evaluateShadow(sh: AnomalyShadow, bytes: Uint8Array): Promise<void> {
    const sink = sh.candidate.sink;
    const say = (e: { samples: number; active: number | null; candidate: number | null; error: string | null }): void => {
      if (sh.ended) return;
      try {
        sink.evaluation({ metric: 'roc-auc', ...e });
      } catch (err) {
        this.events.debug('anomaly.shadow_report_failed', { reason: (err as Error).message });
      }
      const fields = { model: this.o.managed?.name, candidate: sh.candidate.ref, release: sh.candidate.release, samples: e.samples, activeAuc: e.active, candidateAuc: e.candidate };
      if (e.error === null) this.events.info('anomaly.shadow_evaluated', fields);
      else this.events.warn('anomaly.shadow_evaluation_failed', { code: 'E_MODEL_EVALUATION', ...fields, reason: e.error });
    };
    let set: AnomalyEvaluationSet;
    try {
      set = decodeAnomalyEvaluationSet(bytes);
    } catch (err) {
      return say({ samples: 0, active: null, candidate: null, error: (err as Error).message });
    }
    await sh.loaded;
    if (sh.ended) return;
    if (sh.scorer === undefined) return say({ samples: set.count, active: null, candidate: null, error: `the candidate does not run here: ${sh.error ?? 'not loaded'}` });
    let candidate: number;
    try {
      candidate = await autoencoderAuc(sh.scorer, set);
    } catch (err) {
      return say({ samples: set.count, active: null, candidate: null, error: `the candidate fails on the evaluation set: ${(err as Error).message}` });
    }
    // No active release, or one the set does not fit: nothing to be worse than (the event says which).
    let active: number | null = null;
    const m = this.o.managed;
    const release = m === undefined ? undefined : await m.source.load(m.name).catch(() => undefined);
    if (release !== undefined && !sh.ended) {
      let scorer: AutoencoderScorer | undefined;
      try {
        scorer = await (await autoencoder()).AutoencoderScorer.load(release.bytes, this.o.backend, { providers: this.o.autoencoder.providers });
        active = await autoencoderAuc(scorer, set);
      } catch (err) {
        this.events.warn('anomaly.shadow_evaluation_failed', { code: 'E_MODEL_EVALUATION', model: m?.name, active: release.ref, reason: `the active release cannot be scored on the evaluation set: ${(err as Error).message}` });
      } finally {
        await scorer?.close().catch(() => undefined);
      }
    }
    say({ samples: set.count, active, candidate, error: null });
  }

  /** The candidate ends: its scorer is closed once it loaded and its run in flight is done. */
  private endShadow(sh: AnomalyShadow): void {
    sh.ended = true;
    const closing = (async () => {
      await sh.loaded;
      await Promise.allSettled([...sh.running]);
      await sh.scorer?.close();
      sh.scorer = undefined;
      sh.streams.clear();
    })().catch(() => undefined);
    this.closingShadows.add(closing);
    void closing.finally(() => this.closingShadows.delete(closing));
  }

  /** The candidate's view of a stream, made when it first scores it (or why the stream does not fit it). */
  private shadowStream(sh: AnomalyShadow, s: StreamState, scorer: AutoencoderScorer): ShadowStream {
    let st = sh.streams.get(s.stream);
    if (st !== undefined) return st;
    const wanted = scorer.meta.channels;
    const missing = wanted.filter((ch) => !s.channels.includes(ch));
    if (missing.length > 0) {
      st = { misfit: `candidate does not fit stream ${s.stream} (it needs channels ${wanted.join(', ')}; the stream has ${s.channels.join(', ')})` };
      this.events.warn('anomaly.shadow_invalid', { code: 'E_MODEL_INVALID', model: this.o.managed?.name, candidate: sh.candidate.ref, release: sh.candidate.release, stream: s.stream, reason: st.misfit });
    } else {
      const columns = wanted.map((ch) => s.channels.indexOf(ch));
      const same = columns.length === s.channels.length && columns.every((c, i) => c === i);
      st = { policy: new AlertPolicy(this.o.alert), recentMax: [], columns: same ? undefined : columns };
    }
    sh.streams.set(s.stream, st);
    return st;
  }

  /**
   * One run of the candidate on a batch of windows the active model scored: its outcome and time
   * to the sink, then per window both models' scores and alerting. Never throws: whatever the
   * candidate does stays here.
   */
  private async runShadow(sh: AnomalyShadow, s: StreamState, batch: Float64Array, windowTs: readonly { start: number; end: number }[], said: readonly { score: number; alerting: boolean }[]): Promise<void> {
    if (sh.ended) return;
    const job = (async () => {
      const sink = sh.candidate.sink;
      // Not a model, or not one for this stage: every batch it would have scored is an error, not silence.
      if (sh.error !== undefined) return sink.run(false, 0);
      const scorer = sh.scorer;
      if (scorer === undefined) return; // still loading: nothing to compare yet
      const st = this.shadowStream(sh, s, scorer);
      if ('misfit' in st) return sink.run(false, 0);
      const input = st.columns === undefined ? batch : selectColumns(batch, s.channels.length, st.columns);
      const started = performance.now();
      let results: WindowScore[];
      try {
        results = await scorer.score(input, windowTs.length);
        if (results.length !== windowTs.length) throw new Error(`candidate scored ${results.length} of ${windowTs.length} windows`);
      } catch (err) {
        if (sh.ended) return;
        sink.run(false, performance.now() - started);
        sh.failures += 1;
        if (sh.failures === 1) this.events.warn('anomaly.shadow_failed', { code: 'E_MODEL_RUN', model: this.o.managed?.name, candidate: sh.candidate.ref, stream: s.stream, reason: (err as Error).message });
        return;
      }
      if (sh.ended) return;
      sink.run(true, performance.now() - started);
      results.forEach((r, i) => {
        const ts = (windowTs[i] as { end: number }).end;
        const peak = slidingPeak(st.recentMax, { ts, score: r.score, contributions: { ...r.channels } }, this.o.smoothingMs);
        st.policy.push({ ts, score: peak.score, contributions: peak.contributions });
        sink.anomaly(said[i] as { score: number; alerting: boolean }, { score: r.score, alerting: st.policy.alerting });
      });
    })().catch((err: unknown) => {
      // A sink that throws is the updater's trouble, not the active path's.
      this.events.debug('anomaly.shadow_report_failed', { reason: (err as Error).message });
    });
    sh.running.add(job);
    try {
      await job;
    } finally {
      sh.running.delete(job);
    }
  }

  private startTraining(s: StreamState): void {
    const ae = s.ae as AeState;
    ae.phase = 'training';
    const a = this.o.autoencoder;
    this.events.info('anomaly.training', { stream: s.stream, windows: ae.reservoir?.size, ofWindows: ae.reservoir?.seen, channels: s.channels });
    const job = (async () => {
      try {
        if (ae.reservoir === undefined) throw new Error('no normal data collected');
        const { data, count, positions } = ae.reservoir.take();
        ae.reservoir = undefined; // training data is not kept
        const trained = await (await autoencoder()).trainAutoencoderOnWindows(data, count, {
          channels: s.channels,
          windowSamples: a.windowSamples,
          hidden: a.hidden,
          epochs: a.epochs,
          batchSize: 64,
          learningRate: a.learningRate,
          seed: a.seed,
          heldOut: 0.2,
          positions,
          onEpoch: (epoch, loss) => {
            ae.loss = loss;
            if (epoch % 5 === 0) this.events.debug('anomaly.training_progress', { stream: s.stream, epoch, loss });
          },
        });
        await this.saveModel(s, trained.bytes);
        await this.useModel(s, trained.bytes);
        this.events.info('anomaly.trained', { stream: s.stream, loss: trained.losses[trained.losses.length - 1], provider: ae.scorer?.model.provider, hash: ae.model?.hash });
      } catch (err) {
        ae.phase = 'failed';
        ae.error = (err as Error).message;
        this.events.error('anomaly.training_failed', { code: 'E_MODEL_TRAIN', stream: s.stream, reason: ae.error });
      }
    })();
    this.pendingTraining.add(job);
    void job.finally(() => this.pendingTraining.delete(job));
  }

  private modelPath(s: StreamState): string {
    return join(this.stateDir, `${safeName(s.stream)}.onnx`);
  }

  private async saveModel(s: StreamState, bytes: Uint8Array): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    const path = this.modelPath(s);
    // Write, fsync, rename, fsync the directory: a power cut leaves the old model or the new
    // one, never half of one (without the fsync, a rename can reach the disk before the data).
    const h = await open(`${path}.tmp`, 'w');
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(`${path}.tmp`, path);
    const d = await open(this.stateDir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private async useModel(s: StreamState, bytes: Uint8Array): Promise<void> {
    const ae = s.ae as AeState;
    const scorer = await (await autoencoder()).AutoencoderScorer.load(bytes, this.o.backend, { providers: this.o.autoencoder.providers });
    const missing = scorer.meta.channels.filter((ch) => !s.channels.includes(ch));
    if (missing.length > 0 || scorer.meta.windowSamples !== this.o.autoencoder.windowSamples) {
      await scorer.close();
      throw new Error(`the model does not fit this stage (channels ${scorer.meta.channels.join(', ')}, window ${scorer.meta.windowSamples})`);
    }
    const order = scorer.meta.channels;
    if (order.length !== s.channels.length || order.some((ch, i) => s.channels[i] !== ch)) {
      // The model reads its channels in its own order (a model trained from a CSV log has the
      // log's column order; a stream's order is its records' key order): the window ring takes
      // the model's channels, in its order, from here on. Rows already in the ring were in the
      // other order: they are dropped, which costs at most one window.
      s.channels = [...order];
      ae.ring = new Float64Array(this.o.autoencoder.windowSamples * order.length);
      ae.ringCount = 0;
      ae.sinceWindow = 0;
    }
    ae.scorer = scorer;
    ae.model = { name: this.o.modelName ?? `autoencoder-${s.stream}`, version: this.o.modelVersion ?? `seed${scorer.meta.seed}-w${scorer.meta.windowSamples}`, hash: `sha256:${scorer.model.sha256}` };
    ae.phase = 'scoring';
    if (scorer.model.degraded) this.events.warn('anomaly.degraded', { code: 'E_MODEL_PROVIDER', stream: s.stream, provider: scorer.model.provider, wanted: scorer.model.requested[0], fallbacks: scorer.model.fallbacks });
    this.reportCalibration(scorer, { stream: s.stream });
  }

  /** Says which calibration a scorer uses; a federated one it could not use is a warning (the trained one scores meanwhile). */
  private reportCalibration(scorer: AutoencoderScorer, fields: Record<string, unknown>): void {
    const c = scorer.calibrationChoice;
    if (c.source === 'federated') this.events.info('anomaly.calibration', { ...fields, source: c.source, windows: c.windows, measuredOnRelease: c.measuredOnRelease, logMean: c.calibration.logMean, logStd: c.calibration.logStd });
    else if (c.ignored !== null) this.events.warn('anomaly.calibration_ignored', { code: 'E_MODEL_CALIBRATION', ...fields, reason: c.ignored, used: 'trained' });
  }

  /** A model trained before a restart is used again rather than retrained on new data. */
  private async tryLoadModel(s: StreamState): Promise<void> {
    if (this.o.managed !== undefined) {
      await this.loadManaged(s, this.o.managed);
      return;
    }
    const ae = s.ae as AeState;
    const path = this.modelPath(s);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      // None yet: learn what normal is, then train. Unreadable: the same, and say so.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await this.retrainUnreadable(s, path, (err as Error).message);
      else ae.phase = 'collecting';
      return;
    }
    try {
      await this.useModel(s, bytes);
      this.events.info('anomaly.model_loaded', { stream: s.stream, hash: ae.model?.hash, provider: ae.scorer?.model.provider });
    } catch (err) {
      await this.retrainUnreadable(s, path, (err as Error).message);
    }
  }

  /**
   * The saved model cannot be used (torn, garbage, or made for other channels or another
   * window): it is moved aside to `<file>.unreadable` (kept for a look, replaced by the next
   * one) and the stage learns normal again and retrains, rather than staying without a detector.
   */
  private async retrainUnreadable(s: StreamState, path: string, reason: string): Promise<void> {
    const ae = s.ae as AeState;
    this.events.warn('anomaly.saved_model_unreadable', { code: 'E_MODEL_INVALID', stream: s.stream, file: path, reason, action: 'retraining' });
    await rename(path, `${path}.unreadable`).catch(() => undefined);
    ae.error = undefined;
    ae.phase = 'collecting';
  }

  private async loadManaged(s: StreamState, m: { readonly name: string; readonly source: ManagedModelSource }): Promise<void> {
    const ae = s.ae as AeState;
    this.unsubscribe ??= m.source.subscribe(m.name, () => {
      for (const st of this.streams.values()) void this.switchManaged(st, m);
    });
    try {
      const active = await m.source.load(m.name);
      if (active === undefined) {
        ae.phase = 'waiting';
        ae.error = `no signed release of ${m.name} is active yet (waiting for the updater)`;
        return;
      }
      await this.useModel(s, active.bytes);
      ae.model = active.ref;
      ae.error = undefined;
      this.events.info('anomaly.model_loaded', { stream: s.stream, model: active.ref, provider: ae.scorer?.model.provider });
    } catch (err) {
      ae.phase = 'failed';
      ae.error = (err as Error).message;
      this.events.error('anomaly.model_invalid', { code: 'E_MODEL_INVALID', stream: s.stream, reason: ae.error });
    }
  }

  /** Another release is active: score with it from the next window (the old scorer is closed). */
  private async switchManaged(s: StreamState, m: { readonly name: string; readonly source: ManagedModelSource }): Promise<void> {
    const ae = s.ae;
    if (ae === undefined) return;
    const old = ae.scorer;
    ae.scorer = undefined;
    ae.phase = 'loading';
    await old?.close().catch(() => undefined);
    await this.loadManaged(s, m);
  }

  /** The pipeline drains (the gateway stops): open alerts end now, `endedBy: stop`. */
  async flush(): Promise<RecordInput[]> {
    const out: RecordInput[] = [];
    for (const s of this.streams.values()) for (const e of s.policy.close(s.lastTs)) this.onAlert(s, e, null, out, 'stop');
    await this.settle();
    return out;
  }

  async stop(): Promise<void> {
    this.unregisterLearner?.();
    this.unsubscribe?.();
    this.unsubscribeShadow?.();
    if (this.shadow !== undefined) this.endShadow(this.shadow);
    this.shadow = undefined;
    await Promise.allSettled([...this.closingShadows]);
    await Promise.allSettled([...this.pendingTraining]);
    await Promise.all([...this.streams.values()].map((s) => s.ae?.scorer?.close()));
  }
}
