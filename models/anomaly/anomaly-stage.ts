import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComponentEvents } from '../../runtime/health/events.js';
import type { DecisionSink, Stage } from '../../runtime/pipeline/components.js';
import type { ManagedModelSource } from '../../runtime/pipeline/registry.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import { OnnxBackend } from '../engine/onnx-backend.js';
import { AlertPolicy, type AlertEvent, type AlertPolicyOptions } from './alert-policy.js';
import { AutoencoderScorer, trainAutoencoderOnWindows } from './autoencoder/model.js';
import { WindowReservoir } from './autoencoder/window-reservoir.js';
import { explainMax } from './explanation.js';
import { STREAMING_VERSION, StreamingDetector, defaultStreamingParams } from './streaming/detector.js';

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
  readonly providers: readonly string[];
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
  readonly autoencoder: AutoencoderSettings;
  /**
   * The autoencoder comes from the fleet (signed updates) instead of being trained here: the
   * active release of this model is used, and a newly activated one is switched to.
   */
  readonly managed?: { readonly name: string; readonly source: ManagedModelSource };
}

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

/** Per stream: its detectors, its alert policy, and (autoencoder) its training or scoring state. */
interface StreamState {
  readonly stream: string;
  readonly channels: string[];
  readonly units: Record<string, string>;
  readonly policy: AlertPolicy;
  readonly streaming: Map<string, StreamingDetector>;
  interval: ScoreInterval | undefined;
  lastTs: number;
  /** Sliding maximum of recent scores (monotonic deque): [ts, score, contributions]. */
  readonly recentMax: { ts: number; score: number; contributions: Record<string, number> }[];
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
}

/** Streams watched at once at most (each holds detectors and, for the autoencoder, buffers). */
const MAX_STREAMS = 64;

function isSampleRecord(data: unknown): data is SampleRecord {
  const v = (data as { values?: unknown } | null)?.values;
  return v !== null && typeof v === 'object' && !Array.isArray(v);
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
  private readonly backend = new OnnxBackend();
  private readonly streamingModel: ModelRef;
  private scored = 0;
  private alertsRaised = 0;
  private decisionErrors = 0;
  private nextAlertId = 1;
  private readonly pendingTraining = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly o: AnomalyStageOptions,
    private readonly stateDir: string,
    private readonly decisions: DecisionSink,
    private readonly events: ComponentEvents,
  ) {
    const params = { ...defaultStreamingParams(), suppress: false };
    this.streamingModel = {
      name: o.modelName ?? 'streaming-anomaly',
      version: o.modelVersion ?? STREAMING_VERSION,
      hash: `sha256:${createHash('sha256').update(JSON.stringify({ version: STREAMING_VERSION, params })).digest('hex')}`,
    };
  }

  stats(): Record<string, number | string | boolean | null> {
    const ae = [...this.streams.values()].map((s) => s.ae).filter((a): a is AeState => a !== undefined);
    const model = ae.find((a) => a.scorer !== undefined)?.scorer?.model;
    return {
      detector: this.o.detector,
      streams: this.streams.size,
      scoredPoints: this.scored,
      alertsRaised: this.alertsRaised,
      decisionErrors: this.decisionErrors,
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
    };
  }

  private state(r: RecordInput, data: SampleRecord): StreamState | undefined {
    let s = this.streams.get(r.stream);
    if (s !== undefined) return s;
    if (this.streams.size >= MAX_STREAMS) return undefined;
    const channels = (this.o.channels ?? Object.keys(data.values)).filter((c) => Array.isArray(data.values[c]));
    if (channels.length === 0) return undefined;
    s = { stream: r.stream, channels, units: { ...(data.units ?? {}) }, policy: new AlertPolicy(this.o.alert, this.nextAlertId), streaming: new Map(), interval: undefined, lastTs: r.ts, recentMax: [] };
    if (this.o.detector === 'streaming') {
      // The alert policy does its own hysteresis and minimum duration: it wants the evidence
      // at every point, not NAB's one-score-per-event suppression.
      for (const c of channels) s.streaming.set(c, new StreamingDetector({ suppress: false }));
    } else {
      const a = this.o.autoencoder;
      s.ae = { phase: 'loading', collectFrom: undefined, collectedTo: r.ts, reservoir: undefined, collected: 0, ring: new Float64Array(a.windowSamples * channels.length), ringCount: 0, sinceWindow: 0 };
      void this.tryLoadModel(s);
    }
    this.streams.set(r.stream, s);
    return s;
  }

  async process(records: readonly RecordInput[]): Promise<readonly RecordInput[]> {
    const out: RecordInput[] = [...records];
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
    return out;
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
    const q = s.recentMax;
    while (q.length > 0 && (q[q.length - 1] as { score: number }).score <= score) q.pop();
    q.push({ ts, score, contributions });
    while (q.length > 0 && ts - (q[0] as { ts: number }).ts > this.o.smoothingMs) q.shift();
    const peak = q[0] as { score: number; contributions: Record<string, number> };
    for (const e of s.policy.push({ ts, score: peak.score, contributions: peak.contributions })) this.onAlert(s, e, span, out);
  }

  private modelOf(s: StreamState): ModelRef {
    return s.ae?.model ?? this.streamingModel;
  }

  private onAlert(s: StreamState, e: AlertEvent, span: { start: number; end: number } | null, out: RecordInput[]): void {
    if (e.type === 'raised') {
      this.alertsRaised += 1;
      this.nextAlertId = e.alert.id + 1;
    }
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
      detector: this.o.detector,
      model,
    };
    out.push({ stream: `${s.stream}.alerts`, class: 'alert', ts: e.type === 'cleared' ? (e.alert.end as number) : e.alert.start, data });
    this.events.warn(`anomaly.${e.type}`, { code: 'E_ANOMALY', stream: s.stream, alert: e.alert.id, channels: e.alert.channels, peakScore: e.alert.peakScore });
    this.decisions
      .append({
        ts: data.state === 'cleared' ? (e.alert.end as number) : e.alert.start,
        kind: 'alert',
        stream: s.stream,
        model,
        inputs: { channels: s.channels, detector: this.o.detector, ...(span === null ? {} : { span }) },
        explanation,
        outcome: { alert: e.alert.id, state: e.type, start: e.alert.start, end: e.alert.end, peakScore: e.alert.peakScore, peakTs: e.alert.peakTs, channels: e.alert.channels },
        recordId: null,
      })
      .catch((err: unknown) => {
        this.decisionErrors += 1;
        this.events.error('anomaly.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message });
      });
  }

  private async feedAutoencoder(s: StreamState, data: SampleRecord, n: number, ts0: number, step: number, out: RecordInput[]): Promise<void> {
    const ae = s.ae as AeState;
    const c = s.channels.length;
    const a = this.o.autoencoder;
    const windows: number[] = [];
    const windowTs: { start: number; end: number }[] = [];
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
      }
    }
    if (windows.length === 0 || ae.scorer === undefined) return;
    const started = performance.now();
    let results;
    try {
      results = await ae.scorer.score(Float64Array.from(windows), windowTs.length);
    } catch (err) {
      this.o.managed?.source.recordRun(this.o.managed.name, false, performance.now() - started);
      throw err;
    }
    this.o.managed?.source.recordRun(this.o.managed.name, true, performance.now() - started);
    results.forEach((r, i) => {
      const span = windowTs[i] as { start: number; end: number };
      // The time span that carries most of the error: from the first to the last step with a share of it.
      const peakStep = r.steps.indexOf(Math.max(...r.steps));
      const spanOfError = { start: span.start + peakStep * step, end: span.end };
      this.scored += 1;
      this.onScore(s, span.end, r.score, { ...r.channels }, spanOfError, out);
    });
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
        const trained = await trainAutoencoderOnWindows(data, count, {
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
    // Write then rename: a power cut leaves the old model or the new one, never half of one.
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
  }

  private async useModel(s: StreamState, bytes: Uint8Array): Promise<void> {
    const ae = s.ae as AeState;
    const scorer = await AutoencoderScorer.load(bytes, this.backend, this.o.autoencoder.providers);
    const missing = scorer.meta.channels.filter((ch) => !s.channels.includes(ch));
    if (missing.length > 0 || scorer.meta.windowSamples !== this.o.autoencoder.windowSamples) {
      await scorer.close();
      throw new Error(`saved model does not fit this stage (channels ${scorer.meta.channels.join(', ')}, window ${scorer.meta.windowSamples}); delete ${this.modelPath(s)} to retrain`);
    }
    ae.scorer = scorer;
    ae.model = { name: this.o.modelName ?? `autoencoder-${s.stream}`, version: this.o.modelVersion ?? `seed${scorer.meta.seed}-w${scorer.meta.windowSamples}`, hash: `sha256:${scorer.model.sha256}` };
    ae.phase = 'scoring';
    if (scorer.model.degraded) this.events.warn('anomaly.degraded', { code: 'E_MODEL_PROVIDER', stream: s.stream, provider: scorer.model.provider, wanted: scorer.model.requested[0], fallbacks: scorer.model.fallbacks });
  }

  /** A model trained before a restart is used again rather than retrained on new data. */
  private async tryLoadModel(s: StreamState): Promise<void> {
    if (this.o.managed !== undefined) {
      await this.loadManaged(s, this.o.managed);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.modelPath(s));
    } catch {
      (s.ae as AeState).phase = 'collecting'; // none yet: learn what normal is, then train
      return;
    }
    const ae = s.ae as AeState;
    try {
      await this.useModel(s, bytes);
      this.events.info('anomaly.model_loaded', { stream: s.stream, hash: ae.model?.hash, provider: ae.scorer?.model.provider });
    } catch (err) {
      ae.phase = 'failed';
      ae.error = (err as Error).message;
      this.events.error('anomaly.model_invalid', { code: 'E_MODEL_INVALID', stream: s.stream, reason: ae.error });
    }
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

  flush(): RecordInput[] {
    const out: RecordInput[] = [];
    for (const s of this.streams.values()) for (const e of s.policy.close(s.lastTs)) this.onAlert(s, e, null, out);
    return out;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.pendingTraining]);
    await Promise.all([...this.streams.values()].map((s) => s.ae?.scorer?.close()));
  }
}
