import type { ComponentEvents } from '../../runtime/health/events.js';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import { FrameRunError, LocalFrameRunner, type FrameModelInfo, type FrameModelSpec, type FrameOutput, type FrameRunner } from './thread/frame-runner.js';
import { MAX_FRAMES_IN_WORKER, WorkerBackendError, type InferenceThread } from './thread/inference-thread.js';
import type { VisionStageOptions } from './vision-stage.js';

export type ActiveModelOptions = Pick<VisionStageOptions, 'modelBytes' | 'managed' | 'classifier' | 'modelName' | 'modelVersion' | 'backend' | 'providers' | 'threads' | 'model' | 'defectClass' | 'thread'>;

/**
 * The vision stage's active model: the release it runs (the configured bytes, or the managed
 * model's active release, switched to between frames), where it runs (the worker thread, else
 * the stage's own thread when the worker cannot build the backend), the names its results are
 * given, and the frames handed to it, whose results are used one after the other in frame order.
 */
export class ActiveModel {
  private model: FrameRunner | undefined;
  /** The frames in inference, chained: each one's results are used after the one before it (and tracker holds queued behind them). */
  private inflight: Promise<void> = Promise.resolve();
  /** Frames sent to the model whose results are not used yet (at most MAX_FRAMES_IN_WORKER). */
  private running = 0;
  private wakeSender: (() => void) | undefined;
  /** The worker the models run in (o.thread), until it turns out unable to build the backend. */
  private thread: InferenceThread | undefined;
  private unsubscribeThread: (() => void) | undefined;
  private loading: Promise<void> | undefined;
  private error: string | undefined;
  private ref: ModelRef;
  private unsubscribe: (() => void) | undefined;
  private defectClass: number | undefined;
  /** Class names of the loaded model (or of the cascade classifier); undefined: `class<N>`. */
  private classNames: readonly string[] | undefined;

  constructor(
    private readonly o: ActiveModelOptions,
    private readonly events: ComponentEvents,
    sha256: string,
  ) {
    this.ref = { name: o.modelName, version: o.modelVersion, hash: `sha256:${sha256}` };
    // A worker that died took its models with it: the next frame loads the model again (in a new worker).
    this.thread = o.thread;
    this.unsubscribeThread = o.thread?.onExit(() => {
      this.model = undefined;
      this.loading = undefined;
    });
  }

  get modelRef(): ModelRef {
    return this.ref;
  }

  /** The id of the stage's `defectClass` among the class names (undefined: none configured). */
  get defectClassId(): number | undefined {
    return this.defectClass;
  }

  className(classId: number): string {
    return this.classNames?.[classId] ?? `class${classId}`;
  }

  /** The loaded model's info (undefined: not loaded). */
  get info(): FrameModelInfo | undefined {
    return this.model?.info;
  }

  /** Why the model is not loaded (undefined: it is, or no load has failed). */
  get loadError(): string | undefined {
    return this.error;
  }

  get inferenceThread(): 'main' | 'worker' {
    return this.thread === undefined ? 'main' : 'worker';
  }

  get framesInFlight(): number {
    return this.running;
  }

  get workerRestarts(): number {
    return this.thread?.restarts ?? 0;
  }

  /** Resolves when the frames handed over so far have been used (or failed). */
  get settled(): Promise<void> {
    return this.inflight;
  }

  /** The model to run the next frame on, once fewer than MAX_FRAMES_IN_WORKER frames are in it; undefined: it could not be loaded. */
  async ready(): Promise<FrameRunner | undefined> {
    while (this.running >= MAX_FRAMES_IN_WORKER) await new Promise<void>((resolve) => (this.wakeSender = resolve));
    await this.ensureModel();
    return this.model;
  }

  /** Runs `step` after the frames in inference have been used (a frame that needs no model, kept in order). */
  after(step: () => void): void {
    this.inflight = this.inflight.then(step);
  }

  /**
   * Starts `frame` on `model` without waiting for the frames before it; `use` gets its output
   * after theirs, `failed` its error. The frame is released when either is done.
   */
  submit(model: FrameRunner, frame: RawFrame, runOptions: { tensor: boolean }, use: (output: FrameOutput) => Promise<void>, failed: (err: unknown) => void): void {
    const run = model.run(frame, runOptions);
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
      this.o.managed?.source.recordRun(this.o.managed.name, true, r.output.inferenceMs);
      await use(r.output);
    })()
      .catch(failed)
      .finally(() => {
        frame.release?.();
        this.running -= 1;
        const wake = this.wakeSender;
        this.wakeSender = undefined;
        wake?.();
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
          this.ref = active.ref;
        }
        this.error = undefined;
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
        this.defectClass = defectClassId;
        if (info.degraded) this.events.warn('vision.degraded', { code: 'E_MODEL_PROVIDER', provider: info.provider, wanted: info.requested[0], fallbacks: info.fallbacks });
        for (const note of info.notes) this.events.warn('vision.model_warning', { code: 'E_MODEL_METADATA', model: this.ref, reason: note });
        this.events.info('vision.model_loaded', { model: this.ref, provider: info.provider, input: info.inputSize, layout: info.layout, classes: info.classes ?? null, classNames: info.classNames === undefined ? null : info.classNames.length, thread: this.inferenceThread });
      } catch (err) {
        this.error = (err as Error).message;
        this.events.error('vision.model_invalid', { code: 'E_MODEL_INVALID', model: this.ref, reason: this.error });
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

  /** Stops following the managed model's releases. */
  stopFollowing(): void {
    this.unsubscribe?.();
  }

  /** Resolves when a load in progress and the frames in inference are done. */
  async drain(): Promise<void> {
    await this.loading;
    await this.inflight;
  }

  /** Closes the model and the worker thread (the stage's to close). */
  async close(): Promise<void> {
    await this.model?.close();
    this.unsubscribeThread?.();
    await this.thread?.close();
  }
}
