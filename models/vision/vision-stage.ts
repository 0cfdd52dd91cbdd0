import type { ComponentEvents } from '../../runtime/health/events.js';
import type { DecisionSink, Stage } from '../../runtime/pipeline/components.js';
import type { ManagedModelSource } from '../../runtime/pipeline/registry.js';
import { isFrameRecordData, type RawFrame } from '../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import type { InferenceBackend } from '../engine/engine.js';
import { BACKGROUND_CLASS_NAME, cropRegion } from './classifier/architecture.js';
import type { CropClass } from './classifier/crop-classifier.js';
import { encodeCrop, greyCrop, type GreyCrop } from './crop.js';
import type { Zone } from './geometry.js';
import { MotionGate, type MotionOptions } from './motion.js';
import { IouTracker, type TrackEvent, type TrackerOptions } from './tracker.js';
import { leftRecordData, type DetectionsOptions } from './track-records.js';
import { TrackReports } from './track-reports.js';
import { FailureWindow } from './failure-window.js';
import { FrameClass } from './frame-class.js';
import { FrameRunError, LocalFrameRunner, type FrameModelInfo, type FrameModelSpec, type FrameOutput, type FrameRunner } from './thread/frame-runner.js';
import { MAX_FRAMES_IN_WORKER, WorkerBackendError, type InferenceThread } from './thread/inference-thread.js';
import type { SourceClass, SourceDetection, VisionModelOptions } from './vision-model.js';
import { VisionShadows } from './vision-shadow.js';

/** A second stage that names the class of each detected box from a crop of it. */
export interface CascadeClassifier {
  readonly bytes: Uint8Array;
  readonly classNames: readonly string[];
  readonly model: ModelRef;
}

export interface VisionStageOptions {
  readonly modelBytes: Uint8Array;
  /**
   * A model installed by the signed-update path: its active release is loaded instead of
   * `modelBytes`, and a newly activated (or rolled back) release is switched to between frames.
   */
  readonly managed?: { readonly name: string; readonly source: ManagedModelSource };
  /** When set, detections get their class from it (the detector only finds objects). */
  readonly classifier: CascadeClassifier | undefined;
  readonly modelName: string;
  readonly modelVersion: string;
  /** The gateway's inference backend (CreateEnv.backend): the stage never knows which one it is. */
  readonly backend: InferenceBackend;
  /** The stage's provider preference; undefined: the backend's (`inference.providers`). */
  readonly providers: readonly string[] | undefined;
  /** Threads per inference; undefined: the backend's (`inference.threads`, 1 by default: see OnnxBackendOptions). */
  readonly threads: number | undefined;
  readonly model: VisionModelOptions;
  readonly defectClass: string | undefined;
  readonly zones: readonly Zone[];
  /** undefined: every frame goes to inference. */
  readonly motion: MotionOptions | undefined;
  readonly tracker: Omit<TrackerOptions, 'zone' | 'defectClass'>;
  readonly cropMaxSize: number;
  /** A record of each stream's raw detections, at most this often (none: no such records). */
  readonly detections?: DetectionsOptions;
  /** A record of the counts per zone and class when they changed, at most this often (none: counts in stats only). */
  readonly zoneCounts?: { readonly everyMs: number };
  /**
   * The worker thread that runs preprocessing, the model and the crop classifier (the stage
   * closes it when it stops); undefined: they run on the stage's own thread.
   */
  readonly thread?: InferenceThread | undefined;
}

interface Timing {
  n: number;
  total: number;
}

/** A box this close to the frame's edge belongs to a part that is partly outside: tracked, not judged. */
const EDGE_MARGIN_PX = 2;
/** The stage is degraded while more than MAX_FAILED_SHARE of the last FAILURE_WINDOW_FRAMES inferred frames failed (6 of 100). */
const FAILURE_WINDOW_FRAMES = 100;
const MAX_FAILED_SHARE = 0.05;

/** Crops kept per track (one each: its best defect sighting). */
interface TrackCrop {
  /** Encoded as PNG only if the track ends as a defect. */
  readonly crop: GreyCrop;
}

/**
 * Frames in, events out. Per frame: the motion gate (a still belt costs almost nothing),
 * then preprocessing, inference and decoding, then the tracker, which turns detections into
 * one event per part: `entered` when a track first has its centre in a zone, `left` (final
 * label, dwell) when it ends, and `defect` when a track that was seen as defective ends, with
 * its best sighting and a crop of it; optionally zone counts and sampled raw detections.
 * Frame records are consumed (they never reach the store); events are `result` records on
 * `<camera stream>.events` and defects are written to the decision log with the model.
 */
export class VisionStage implements Stage {
  private model: FrameRunner | undefined;
  /** The frames in inference, chained: each one's results are used after the one before it (and tracker holds queued behind them). */
  private inflight: Promise<void> = Promise.resolve();
  /** Frames sent to the model whose results are not used yet (at most MAX_FRAMES_IN_WORKER). */
  private running = 0;
  private wakeSender: (() => void) | undefined;
  /** The worker the models run in (o.thread), until it turns out unable to build the backend. */
  private thread: InferenceThread | undefined;
  private unsubscribeThread: (() => void) | undefined;
  /** Events of frames finished since the last `process` returned. */
  private readonly pending: RecordInput[] = [];
  private loading: Promise<void> | undefined;
  private loadError: string | undefined;
  private readonly gates = new Map<string, MotionGate>();
  private readonly trackers = new Map<string, IouTracker>();
  private readonly crops = new Map<string, TrackCrop>();
  private readonly reports: TrackReports;
  private modelRef: ModelRef;
  private unsubscribe: (() => void) | undefined;
  private readonly unsubscribeShadow: (() => void) | undefined;
  /** The candidate release in shadow, if any. */
  private readonly shadows: VisionShadows;
  private defectClassId: number | undefined;
  /** Class names of the loaded model (or of the cascade classifier); undefined: `class<N>`. */
  private classNames: readonly string[] | undefined;
  /** The streams' current class (whole-frame classifiers). */
  private readonly frameClasses = new Map<string, FrameClass>();
  /** Outcomes of the last frames that went to inference: too many failures make the stage degraded. */
  private readonly recent = new FailureWindow(FAILURE_WINDOW_FRAMES);
  private lastFailure: string | undefined;
  private frames = 0;
  private gated = 0;
  private inferred = 0;
  private skippedBySource = 0;
  private errors = 0;
  private eventsOut = 0;
  private defects = 0;
  private readonly pre: Timing = { n: 0, total: 0 };
  private readonly infer: Timing = { n: 0, total: 0 };

  constructor(
    private readonly o: VisionStageOptions,
    private readonly decisions: DecisionSink,
    private readonly events: ComponentEvents,
    sha256: string,
  ) {
    this.reports = new TrackReports({ zones: o.zones, minHits: o.tracker.minHits, detections: o.detections, zoneCounts: o.zoneCounts });
    this.modelRef = { name: o.modelName, version: o.modelVersion, hash: `sha256:${sha256}` };
    this.shadows = new VisionShadows(o, events, () => this.inflight);
    // Subscribed from the start: a shadow may begin before the first frame arrives.
    const m = o.managed;
    if (m !== undefined) this.unsubscribeShadow = m.source.subscribeShadow(m.name, (c) => this.shadows.set(c));
    // A worker that died took its models with it: the next frame loads the model again (in a new worker).
    this.thread = o.thread;
    this.unsubscribeThread = o.thread?.onExit(() => {
      this.model = undefined;
      this.loading = undefined;
    });
  }

  /** A new release is active: the next frame loads it (the frame in inference finishes on the old one). */
  private reload(): void {
    const old = this.model;
    const previous = this.inflight;
    this.model = undefined;
    this.loading = undefined;
    // After the frame in inference, and one that may have started on the old model since.
    void (async () => {
      await previous;
      await this.inflight;
      await old?.close();
    })().catch(() => undefined);
  }

  /** Loads the model (once); a bad model file leaves the stage running and reporting why. */
  private ensureModel(): Promise<void> {
    this.loading ??= (async () => {
      try {
        let bytes = this.o.modelBytes;
        if (this.o.managed !== undefined) {
          const m = this.o.managed;
          this.unsubscribe ??= m.source.subscribe(m.name, () => this.reload());
          const active = await m.source.load(m.name);
          if (active === undefined) throw new Error(`no signed release of ${m.name} is active yet (waiting for the updater)`);
          bytes = active.bytes;
          this.modelRef = active.ref;
        }
        this.loadError = undefined;
        const spec: FrameModelSpec = { bytes, classifierBytes: this.o.classifier?.bytes, providers: this.o.providers, threads: this.o.threads, options: this.o.model };
        const model = (await this.loadInWorker(spec)) ?? (await LocalFrameRunner.load(spec, this.o.backend));
        const info = model.info;
        // The classes events are named by: the cascade classifier's, else the model's (the config's names, else its metadata's).
        const names = this.o.classifier?.classNames ?? info.classNames;
        const defectClassId = this.o.defectClass === undefined ? undefined : names?.indexOf(this.o.defectClass);
        if (defectClassId === -1 || (this.o.defectClass !== undefined && names === undefined)) {
          await model.close();
          throw new Error(`defectClass "${String(this.o.defectClass)}" is not one of the class names (${names?.join(', ') ?? 'none given'})`);
        }
        this.model = model;
        this.classNames = names;
        this.defectClassId = defectClassId;
        if (info.degraded) this.events.warn('vision.degraded', { code: 'E_MODEL_PROVIDER', provider: info.provider, wanted: info.requested[0], fallbacks: info.fallbacks });
        for (const note of info.notes) this.events.warn('vision.model_warning', { code: 'E_MODEL_METADATA', model: this.modelRef, reason: note });
        this.events.info('vision.model_loaded', { model: this.modelRef, provider: info.provider, input: info.inputSize, layout: info.layout, classes: info.classes ?? null, classNames: info.classNames === undefined ? null : info.classNames.length, thread: this.thread === undefined ? 'main' : 'worker' });
      } catch (err) {
        this.loadError = (err as Error).message;
        this.events.error('vision.model_invalid', { code: 'E_MODEL_INVALID', model: this.modelRef, reason: this.loadError });
      }
    })();
    return this.loading;
  }

  /** The model loaded in the worker; undefined when there is none, or it could not build the backend (the stage then goes on without it). */
  private async loadInWorker(spec: FrameModelSpec): Promise<FrameRunner | undefined> {
    const thread = this.thread;
    if (thread === undefined) return undefined;
    try {
      return await thread.load(spec);
    } catch (err) {
      if (!(err instanceof WorkerBackendError)) throw err;
      this.thread = undefined;
      this.unsubscribeThread?.();
      this.unsubscribeThread = undefined;
      this.events.info('vision.inference_thread', { thread: 'main', reason: err.message });
      await thread.close();
      return undefined;
    }
  }

  stats(): Record<string, number | string | boolean | null> {
    const m = this.model?.info;
    const mean = (t: Timing): number | null => (t.n === 0 ? null : Math.round((t.total / t.n) * 1000) / 1000);
    return {
      frames: this.frames,
      gatedOut: this.gated,
      inferred: this.inferred,
      skippedBySource: this.skippedBySource,
      frameErrors: this.errors,
      events: this.eventsOut,
      defects: this.defects,
      ...this.reports.stats(),
      preprocessMeanMs: mean(this.pre),
      inferenceMeanMs: mean(this.infer),
      provider: m?.provider ?? null,
      inferenceThread: this.thread === undefined ? 'main' : 'worker',
      framesInFlight: this.running,
      workerRestarts: this.thread?.restarts ?? 0,
      modelHash: this.modelRef.hash,
      recentFrames: this.recent.frames,
      recentFrameErrors: this.recent.failed,
      degraded: this.degradedReason() !== null,
      degradedReason: this.degradedReason(),
    };
  }

  private degradedReason(): string | null {
    const m = this.model?.info;
    if (this.loadError !== undefined) return `model not loaded: ${this.loadError}`;
    const failing = this.recent.share > MAX_FAILED_SHARE;
    if (failing) return `${this.recent.failed} of the last ${this.recent.frames} inferred frames failed (${String(this.lastFailure)})`;
    return m?.degraded === true ? `runs on ${m.provider}; preferred ${m.requested[0] ?? '?'} (${m.fallbacks.map((f) => `${f.provider}: ${f.reason}`).join('; ')})` : null;
  }

  async process(records: readonly RecordInput[]): Promise<readonly RecordInput[]> {
    const out: RecordInput[] = [];
    for (const r of records) {
      if (!isFrameRecordData(r.data)) {
        out.push(r);
        continue;
      }
      this.frames += 1;
      this.skippedBySource += r.data.skippedBefore ?? 0;
      try {
        await this.onFrame(r.stream, r.data.frame);
      } catch (err) {
        this.frameFailed(r.stream, err);
      }
    }
    out.push(...this.pending.splice(0));
    return out;
  }

  /**
   * The gate runs here, in order; then the frame goes to the model (preprocessing, inference,
   * decoding, the crop classifier: in the worker thread, or here) without waiting for the frame
   * before it, up to MAX_FRAMES_IN_WORKER frames, so the next frame is gated while one is in
   * inference. Results are used (tracker, events, shadow) in frame order; they land in `pending`.
   */
  private async onFrame(stream: string, frame: RawFrame): Promise<void> {
    while (this.running >= MAX_FRAMES_IN_WORKER) await new Promise<void>((resolve) => (this.wakeSender = resolve));
    await this.ensureModel();
    const model = this.model;
    if (model === undefined) {
      frame.release?.();
      return;
    }
    if (this.o.motion !== undefined) {
      let gate = this.gates.get(stream);
      if (gate === undefined) {
        gate = new MotionGate(this.o.motion);
        this.gates.set(stream, gate);
      }
      if (!gate.check(frame).pass) {
        this.gated += 1;
        frame.release?.();
        const tracker = this.trackerOf(stream);
        this.inflight = this.inflight.then(() => tracker.hold(frame.timestampUs));
        return;
      }
    }
    // A candidate in shadow runs on the active model's input: ask for it back.
    const run = model.run(frame, { tensor: this.shadows.current !== undefined });
    const settled = run.then(
      (output) => ({ output }),
      (error: unknown) => ({ error }),
    );
    this.running += 1;
    const previous = this.inflight;
    this.inflight = (async () => {
      const r = await settled;
      await previous;
      if ('error' in r) {
        const ms = r.error instanceof FrameRunError ? r.error.inferenceMs : undefined;
        if (ms !== undefined) this.o.managed?.source.recordRun(this.o.managed.name, false, ms);
        throw r.error;
      }
      await this.useResult(model.info, stream, frame, r.output);
    })()
      .catch((err: unknown) => this.frameFailed(stream, err))
      .finally(() => {
        frame.release?.();
        this.running -= 1;
        const wake = this.wakeSender;
        this.wakeSender = undefined;
        wake?.();
      });
  }

  private frameFailed(stream: string, err: unknown): void {
    // A frame that cannot be processed is counted and skipped; the next one may be fine.
    this.errors += 1;
    this.recent.record(true);
    this.lastFailure = (err as Error).message;
    if (this.errors <= 10 || this.errors % 1000 === 0) this.events.warn('vision.frame_failed', { code: 'E_FRAME', stream, reason: (err as Error).message, count: this.errors });
  }

  private async useResult(info: FrameModelInfo, stream: string, frame: RawFrame, out: FrameOutput): Promise<void> {
    this.o.managed?.source.recordRun(this.o.managed.name, true, out.inferenceMs);
    this.pre.n += 1;
    this.pre.total += out.preprocessMs;
    this.infer.n += 1;
    this.infer.total += out.inferenceMs;
    this.inferred += 1;
    // The model's own output (for a detector, before any cascade classifier) is what a candidate in shadow is compared with.
    const result = out.result;
    const shadow = this.shadows.current;
    try {
      if (result.kind === 'classes') this.classifyFrame(stream, frame, result.classes, info);
      else this.trackFrame(stream, frame, result.detections, out.crops);
      this.recent.record(false);
    } finally {
      // The active path's outputs are made; now the candidate sees the same frame (and acts on nothing).
      if (shadow !== undefined) await this.shadows.run(shadow, info.inputSize, frame, out.tensor, out.letterbox, result);
    }
  }

  /** A whole-frame classifier's result: an event when the stream's class changes (see FrameClass). */
  private classifyFrame(stream: string, frame: RawFrame, classes: readonly SourceClass[], model: FrameModelInfo): void {
    let state = this.frameClasses.get(stream);
    if (state === undefined) {
      state = new FrameClass({ confidence: this.o.model.confidence ?? 0, minFrames: this.o.tracker.minHits });
      this.frameClasses.set(stream, state);
    }
    const top = classes[0];
    const change = state.update(top);
    if (change === undefined || top === undefined) return;
    const ts = VisionStage.ms(frame.timestampUs);
    const modelClass = (id: number): string => model.classNames?.[id] ?? `class${id}`;
    const className = modelClass(change.classId);
    this.eventsOut += 1;
    const data = {
      event: 'classified',
      className,
      score: top.score,
      previous: change.previous === undefined ? null : modelClass(change.previous),
      top: classes.map((c) => ({ className: modelClass(c.classId), score: c.score })),
      model: this.modelRef,
    };
    this.pending.push({ stream: `${stream}.events`, class: 'result', ts, data });
    if (change.classId !== this.defectClassId) return;
    this.defects += 1;
    this.decisions
      .append({ ts, kind: 'decision', stream, model: this.modelRef, inputs: { frameTs: ts, layout: model.layout }, explanation: { region: { x: 0, y: 0, w: frame.width, h: frame.height }, score: top.score, className }, outcome: { event: 'classified', className }, recordId: null })
      .catch((err: unknown) => this.events.error('vision.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message }));
  }

  /** The cascade classifier's classes (if any), the tracker, and the events of one inferred frame. */
  private trackFrame(stream: string, frame: RawFrame, detected: SourceDetection[], classes: readonly CropClass[] | undefined): void {
    let detections = detected;
    if (classes !== undefined) {
      // The detector says where a part is and how sure it is; the classifier says which class.
      detections = detections
        .map((d, i) => {
          const c = classes[i] ?? { classId: 0, score: 0 };
          return { ...d, classId: c.classId, className: this.className(c.classId), score: d.score * c.score };
        })
        .filter((d) => d.className !== BACKGROUND_CLASS_NAME);
    }
    // With a classifier the part is judged on its crop, which must be whole in the frame too.
    const edge = EDGE_MARGIN_PX;
    const judged = detections.map((d) => {
      const r = this.o.classifier === undefined ? d.box : cropRegion(d.box);
      return { ...d, atEdge: r.x <= edge || r.y <= edge || r.x + r.w >= frame.width - edge || r.y + r.h >= frame.height - edge };
    });
    const tracker = this.trackerOf(stream);
    const update = tracker.update(judged, frame.timestampUs);
    if (this.o.cropMaxSize > 0) {
      for (const t of update.newBestDefect) {
        const best = t.bestDefect;
        if (best !== undefined) this.crops.set(`${stream}#${t.id}`, { crop: greyCrop(frame, best.box, this.o.cropMaxSize) });
      }
    }
    for (const e of update.events) this.emit(stream, e, this.pending);
    this.eventsOut += this.reports.afterFrame(stream, frame, judged, tracker, update, (c) => this.className(c), this.modelRef, this.pending);
  }

  private trackerOf(stream: string): IouTracker {
    let tracker = this.trackers.get(stream);
    if (tracker === undefined) {
      tracker = new IouTracker({ ...this.o.tracker, zone: this.o.zones[0], defectClass: this.defectClassId });
      this.trackers.set(stream, tracker);
    }
    return tracker;
  }

  private className(classId: number): string {
    return this.classNames?.[classId] ?? `class${classId}`;
  }

  /** Wall-clock ms of a frame timestamp: the stream's clock is taken as µs since the epoch when it is one. */
  private static ms(tsUs: number): number {
    return tsUs / 1000;
  }

  private emit(stream: string, e: TrackEvent, out: RecordInput[]): void {
    const t = e.track;
    const key = `${stream}#${t.id}`;
    if (e.type === 'entered') {
      this.eventsOut += 1;
      // Its label now, from its sightings so far; the `left` event says if it changed.
      out.push({ stream: `${stream}.events`, class: 'result', ts: VisionStage.ms(e.tsUs), data: { event: 'entered', track: t.id, className: this.className(e.classId), box: t.box, model: this.modelRef } });
      return;
    }
    const grey = this.crops.get(key);
    this.crops.delete(key);
    // A `left` closes an `entered`: tracks that never entered the zone end without one.
    const left = t.entered ? { stream: `${stream}.events`, class: 'result' as const, ts: VisionStage.ms(t.seenUs), data: leftRecordData(e, (c) => this.className(c), this.defectClassId, this.modelRef) } : undefined;
    if (left !== undefined) this.eventsOut += 1;
    if (!e.defective || t.bestDefect === undefined) {
      if (left !== undefined) out.push(left);
      return;
    }
    const crop = grey === undefined ? undefined : encodeCrop(grey.crop);
    this.eventsOut += 1;
    this.defects += 1;
    const best = t.bestDefect;
    const data = {
      event: 'defect',
      track: t.id,
      className: this.className(best.classId),
      firstTs: VisionStage.ms(t.firstUs),
      lastTs: VisionStage.ms(t.seenUs),
      sightings: t.hits,
      defectSightings: t.defectHits,
      best: { ts: VisionStage.ms(best.tsUs), score: best.score, box: best.box },
      ...(this.o.classifier === undefined ? {} : { classifier: this.o.classifier.model }),
      ...(crop === undefined ? {} : { crop: { png: crop.png, width: crop.width, height: crop.height, region: crop.region } }),
      model: this.modelRef,
    };
    out.push({ stream: `${stream}.events`, class: 'result', ts: VisionStage.ms(best.tsUs), data });
    if (left !== undefined) out.push(left);
    this.decisions
      .append({
        ts: VisionStage.ms(best.tsUs),
        kind: 'decision',
        stream,
        model: this.modelRef,
        inputs: { frameTs: VisionStage.ms(best.tsUs), sightings: t.hits, ...(this.o.classifier === undefined ? {} : { classifier: this.o.classifier.model }) },
        // The image region that drove the decision, and how sure the model was.
        explanation: { region: best.box, score: best.score, className: this.className(best.classId), defectSightings: t.defectHits },
        outcome: { event: 'defect', track: t.id },
        recordId: null,
      })
      .catch((err: unknown) => this.events.error('vision.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message }));
  }

  /**
   * Resolves when every frame handed to `process` so far has been inferred and tracked: its
   * events are in what the next `process` (or `flush`) returns. Frames are pipelined, so a
   * `process` call returns before the frames it took are done.
   */
  async settled(): Promise<void> {
    await this.inflight;
  }

  async flush(): Promise<RecordInput[]> {
    await this.inflight;
    const out: RecordInput[] = this.pending.splice(0);
    for (const [stream, tracker] of this.trackers) {
      const last = Math.max(0, ...tracker.active.map((t) => t.seenUs));
      const ended = tracker.flush(last + 1);
      for (const e of ended) this.emit(stream, e, out);
      this.eventsOut += this.reports.atEnd(stream, ended, last + 1, (c) => this.className(c), out);
    }
    return out;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribeShadow?.();
    const shadows = this.shadows.stop();
    await this.loading;
    await this.inflight;
    await shadows;
    await this.model?.close();
    this.unsubscribeThread?.();
    await this.thread?.close();
  }
}
