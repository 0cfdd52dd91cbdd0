import type { ComponentEvents } from '../../runtime/health/events.js';
import type { DecisionSink, Stage } from '../../runtime/pipeline/components.js';
import type { ManagedModelSource } from '../../runtime/pipeline/registry.js';
import { isFrameRecordData, type RawFrame } from '../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import type { InferenceBackend } from '../engine/engine.js';
import { ActiveModel } from './active-model.js';
import { MotionGate, type MotionOptions } from './motion.js';
import type { TrackerOptions } from './tracker.js';
import { ms, type DetectionsOptions } from './track-records.js';
import { TrackEvents } from './track-events.js';
import { FailureWindow } from './failure-window.js';
import { FrameClass } from './frame-class.js';
import type { FrameModelInfo, FrameOutput } from './thread/frame-runner.js';
import type { InferenceThread } from './thread/inference-thread.js';
import type { SourceClass, VisionModelOptions } from './vision-model.js';
import { VisionShadows } from './vision-shadow.js';
import type { NamedZone } from './zone-names.js';

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
  /** `entered` is judged in the first; counts are kept for each; none: `entered` on the whole frame, no counts. */
  readonly zones: readonly NamedZone[];
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

/** The stage is degraded while more than MAX_FAILED_SHARE of the last FAILURE_WINDOW_FRAMES inferred frames failed (6 of 100). */
const FAILURE_WINDOW_FRAMES = 100;
const MAX_FAILED_SHARE = 0.05;

/**
 * Frames in, events out. Per frame: the motion gate (a still belt costs almost nothing),
 * then preprocessing, inference and decoding (ActiveModel), then the tracker, which turns
 * detections into one event per part (TrackEvents: `entered`, `left`, `defect`, zone counts,
 * sampled raw detections); a whole-frame classifier's frames give `classified` events instead.
 * Frame records are consumed (they never reach the store); events are `result` records on
 * `<camera stream>.events` and defects are written to the decision log with the model.
 */
export class VisionStage implements Stage {
  private readonly active: ActiveModel;
  /** Events of frames finished since the last `process` returned. */
  private readonly pending: RecordInput[] = [];
  private readonly gates = new Map<string, MotionGate>();
  private readonly tracks: TrackEvents;
  private readonly unsubscribeShadow: (() => void) | undefined;
  /** The candidate release in shadow, if any. */
  private readonly shadows: VisionShadows;
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
  /** `classified` events (the tracks' records are counted by TrackEvents). */
  private classified = 0;
  private classifiedDefects = 0;
  private readonly pre: Timing = { n: 0, total: 0 };
  private readonly infer: Timing = { n: 0, total: 0 };

  constructor(
    private readonly o: VisionStageOptions,
    private readonly decisions: DecisionSink,
    private readonly events: ComponentEvents,
    sha256: string,
  ) {
    this.active = new ActiveModel(o, events, sha256);
    this.tracks = new TrackEvents(o, this.active, decisions, events);
    this.shadows = new VisionShadows(o, events, () => this.active.settled);
    // Subscribed from the start: a shadow may begin before the first frame arrives.
    const m = o.managed;
    if (m !== undefined) this.unsubscribeShadow = m.source.subscribeShadow(m.name, (c) => this.shadows.set(c));
  }

  private get modelRef(): ModelRef {
    return this.active.modelRef;
  }

  stats(): Record<string, number | string | boolean | null> {
    const m = this.active.info;
    const mean = (t: Timing): number | null => (t.n === 0 ? null : Math.round((t.total / t.n) * 1000) / 1000);
    return {
      frames: this.frames,
      gatedOut: this.gated,
      inferred: this.inferred,
      skippedBySource: this.skippedBySource,
      frameErrors: this.errors,
      events: this.classified + this.tracks.records,
      defects: this.classifiedDefects + this.tracks.defects,
      ...this.tracks.stats(),
      preprocessMeanMs: mean(this.pre),
      inferenceMeanMs: mean(this.infer),
      provider: m?.provider ?? null,
      inferenceThread: this.active.inferenceThread,
      framesInFlight: this.active.framesInFlight,
      workerRestarts: this.active.workerRestarts,
      modelHash: this.modelRef.hash,
      recentFrames: this.recent.frames,
      recentFrameErrors: this.recent.failed,
      degraded: this.degradedReason() !== null,
      degradedReason: this.degradedReason(),
    };
  }

  private degradedReason(): string | null {
    const m = this.active.info;
    if (this.active.loadError !== undefined) return `model not loaded: ${this.active.loadError}`;
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
    const model = await this.active.ready();
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
        const tracker = this.tracks.tracker(stream);
        this.active.after(() => tracker.hold(frame.timestampUs));
        return;
      }
    }
    // A candidate in shadow runs on the active model's input: ask for it back.
    this.active.submit(
      model,
      frame,
      { tensor: this.shadows.current !== undefined },
      (output) => this.useResult(model.info, stream, frame, output),
      (err: unknown) => this.frameFailed(stream, err),
    );
  }

  private frameFailed(stream: string, err: unknown): void {
    // A frame that cannot be processed is counted and skipped; the next one may be fine.
    this.errors += 1;
    this.recent.record(true);
    this.lastFailure = (err as Error).message;
    if (this.errors <= 10 || this.errors % 1000 === 0) this.events.warn('vision.frame_failed', { code: 'E_FRAME', stream, reason: (err as Error).message, count: this.errors });
  }

  private async useResult(info: FrameModelInfo, stream: string, frame: RawFrame, out: FrameOutput): Promise<void> {
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
      else this.tracks.trackFrame(stream, frame, result.detections, out.crops, this.pending);
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
    const ts = ms(frame.timestampUs);
    const modelClass = (id: number): string => model.classNames?.[id] ?? `class${id}`;
    const className = modelClass(change.classId);
    this.classified += 1;
    const data = {
      event: 'classified',
      className,
      score: top.score,
      previous: change.previous === undefined ? null : modelClass(change.previous),
      top: classes.map((c) => ({ className: modelClass(c.classId), score: c.score })),
      model: this.modelRef,
    };
    this.pending.push({ stream: `${stream}.events`, class: 'result', ts, data });
    if (change.classId !== this.active.defectClassId) return;
    this.classifiedDefects += 1;
    this.decisions
      .append({ ts, kind: 'decision', stream, model: this.modelRef, inputs: { frameTs: ts, layout: model.layout }, explanation: { region: { x: 0, y: 0, w: frame.width, h: frame.height }, score: top.score, className }, outcome: { event: 'classified', className }, recordId: null })
      .catch((err: unknown) => this.events.error('vision.decision_failed', { code: 'E_STORE_WRITE', reason: (err as Error).message }));
  }

  /**
   * Resolves when every frame handed to `process` so far has been inferred and tracked: its
   * events are in what the next `process` (or `flush`) returns. Frames are pipelined, so a
   * `process` call returns before the frames it took are done.
   */
  async settled(): Promise<void> {
    await this.active.settled;
  }

  async flush(): Promise<RecordInput[]> {
    await this.active.settled;
    const out: RecordInput[] = this.pending.splice(0);
    this.tracks.flush(out);
    return out;
  }

  async stop(): Promise<void> {
    this.active.stopFollowing();
    this.unsubscribeShadow?.();
    const shadows = this.shadows.stop();
    await this.active.drain();
    await shadows;
    await this.active.close();
  }
}
