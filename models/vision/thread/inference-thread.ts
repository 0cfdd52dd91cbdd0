import { Worker } from 'node:worker_threads';
import type { ComponentEvents } from '../../../runtime/health/events.js';
import { importableUrl } from '../../../runtime/inference/backend-recipe.js';
import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import { Backoff, type BackoffOptions } from '../../../runtime/uplink/backoff.js';
import type { BackendRecipe, InferenceBackend } from '../../engine/engine.js';
import { FrameRunError, type FrameModelInfo, type FrameModelSpec, type FrameOutput, type FrameRunner } from './frame-runner.js';
import { SharedFrameSlots } from './frame-transfer.js';
import type { WorkerReply, WorkerRequest } from './inference-protocol.js';

export interface InferenceThreadOptions {
  /**
   * The gateway's backend as the worker builds its own (a runtime's sessions cannot cross
   * threads): the same plug-in and `inference` section. A stage's `providers` and `threads`
   * go with each load, as on the gateway's thread.
   */
  readonly backend: BackendRecipe;
  readonly events: ComponentEvents;
  /**
   * A request not answered in this long means a hung worker: it is ended and started again.
   * Generous, as a load of a large model on a slow box takes seconds.
   */
  readonly timeoutMs?: number;
  /** Delays between restarts of a worker that died soon after it started. */
  readonly restart?: BackoffOptions;
}

/**
 * The inference worker for a stage whose models run on `backend`, if a worker thread can build
 * that backend; else undefined, said with a `vision.inference_thread` event (the stage runs its
 * models on its own thread).
 */
export function workerThreadFor(backend: InferenceBackend, events: ComponentEvents): InferenceThread | undefined {
  const recipe = backend.recipe?.() ?? { unavailable: `the ${backend.name} backend does not say how a worker thread could build it` };
  if ('unavailable' in recipe) {
    events.info('vision.inference_thread', { thread: 'main', reason: recipe.unavailable });
    return undefined;
  }
  return new InferenceThread({ backend: recipe, events });
}

/** Frames in the worker at most, per stage: one in inference, one waiting behind it. */
export const MAX_FRAMES_IN_WORKER = 2;
const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_RESTART: BackoffOptions = { minDelayMs: 200, maxDelayMs: 10_000 };
/** A worker that lived this long before it died restarts at once (a crash loop is slowed down). */
const HEALTHY_LIFE_MS = 10_000;
/** How long `close` waits for the worker to end by itself before it is terminated. */
const END_TIMEOUT_MS = 10_000;

/**
 * The worker's script: beside this file when running compiled (dist/), else the compiled one
 * in dist/ (the test runner runs TypeScript sources, which a worker thread cannot load).
 */
function workerEntry(): URL {
  return new URL(importableUrl(new URL(`inference-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href));
}

/**
 * The worker could not build the gateway's backend (its plug-in's module would not import
 * there, or its `create` failed there): the stage runs its models on its own thread instead.
 */
export class WorkerBackendError extends Error {
  readonly code = 'E_VISION_WORKER_BACKEND';
}

interface Pending {
  readonly resolve: (r: Extract<WorkerReply, { ok: true }>) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One vision stage's inference worker (inference-worker.ts), seen from the stage's thread: it
 * starts the worker when a model is first loaded, sends it requests and matches the replies.
 * A worker that dies (exits, runs out of memory, is ended because it hung) fails the requests
 * it had with a FrameRunError, says so with a `vision.worker_exited` event and tells the
 * `onExit` listeners, whose models are gone with it; the next load starts a new worker (after
 * a backoff when the last one died young). Nothing waits on a dead worker.
 */
export class InferenceThread {
  private worker: Worker | undefined;
  private startedAt = 0;
  private generation = 0;
  private nextId = 1;
  private nextModel = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<() => void>();
  private readonly backoff: Backoff;
  private lastError: string | undefined;
  private closed = false;
  private starting: Promise<void> | undefined;
  /** The worker being ended because it hung. */
  private ending: Worker | undefined;
  /** When the next worker may start (a worker that died young is not restarted at once). */
  private restartAt = 0;
  private exits = 0;
  /** Shared buffers for frames not already in shared memory: one per frame in the worker, and one being filled. */
  readonly slots = new SharedFrameSlots(MAX_FRAMES_IN_WORKER + 1);

  constructor(private readonly o: InferenceThreadOptions) {
    this.backoff = new Backoff(o.restart ?? DEFAULT_RESTART);
  }

  /** Workers that died (not counting the one `close` ended). */
  get restarts(): number {
    return this.exits;
  }

  /** Called when the worker dies: the models it held are gone. Returns the unsubscribe. */
  onExit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async load(spec: FrameModelSpec): Promise<FrameRunner> {
    if (this.closed) throw new Error('the inference thread is closed');
    if (this.worker === undefined) {
      this.starting ??= this.start().finally(() => (this.starting = undefined));
      await this.starting;
    }
    const generation = this.generation;
    const model = this.nextModel++;
    // postMessage copies the model's bytes to the worker (a structured clone).
    const r = await this.request({ type: 'load', id: 0, model, spec });
    return new ThreadFrameRunner(this, generation, model, r.info as FrameModelInfo);
  }

  /** Ends the worker as a crash would, once the requests sent before are done (tests of the restart). */
  crash(): void {
    this.worker?.postMessage({ type: 'crash', id: this.nextId++ } satisfies WorkerRequest);
  }

  /** Keeps the worker busy for `ms` as a hung one would (tests of the timeout); resolves if it answers in time. */
  async stall(ms: number): Promise<void> {
    await this.request({ type: 'stall', id: 0, ms });
  }

  /** Closes every model and ends the worker (terminated if it does not end within 10 s). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const w = this.worker;
    if (w === undefined) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    const timer = setTimeout(() => void w.terminate(), END_TIMEOUT_MS);
    this.request({ type: 'end', id: 0 }).catch(() => undefined);
    await exited;
    clearTimeout(timer);
  }

  /** @internal Whether a runner of `generation` still has its worker. */
  alive(generation: number): boolean {
    return generation === this.generation && this.worker !== undefined;
  }

  /** @internal One request; resolves with the worker's reply, rejects with a FrameRunError. */
  request(req: WorkerRequest): Promise<Extract<WorkerReply, { ok: true }>> {
    const w = this.worker;
    if (w === undefined) return Promise.reject(new FrameRunError(`the inference worker is not running${this.lastError === undefined ? '' : ` (${this.lastError})`}`, undefined));
    const id = this.nextId++;
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The requests behind this one time out too: the worker is ended once, for the first.
        if (w !== this.worker || this.ending === w) return;
        this.ending = w;
        this.lastError = `no answer to a ${req.type} request in ${timeoutMs} ms`;
        this.o.events.warn('vision.worker_hung', { code: 'E_VISION_WORKER', request: req.type, timeoutMs });
        // Ending a worker inside a native call may take the process down (onnxruntime-node
        // throws from its binding); a hung worker is worse, and rarer.
        void w.terminate();
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ ...req, id });
    });
  }

  private async start(): Promise<void> {
    const wait = this.restartAt - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.worker !== undefined || this.closed) return;
    const w = new Worker(workerEntry(), { workerData: { backend: { ...this.o.backend, module: importableUrl(this.o.backend.module) } } });
    this.worker = w;
    this.startedAt = performance.now();
    this.generation += 1;
    w.unref();
    w.on('message', (r: WorkerReply) => this.answered(r));
    w.on('error', (err) => (this.lastError = err.message));
    w.on('exit', (code) => this.exited(w, code));
    if (this.exits > 0) this.o.events.info('vision.worker_started', { restarts: this.exits });
  }

  private answered(r: WorkerReply): void {
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) this.worker?.unref();
    if (r.ok) p.resolve(r);
    else p.reject(r.backend === true ? new WorkerBackendError(r.message) : new FrameRunError(r.message, r.inferenceMs));
  }

  private exited(w: Worker, code: number): void {
    if (w !== this.worker) return;
    this.worker = undefined;
    this.generation += 1;
    const reason = this.lastError ?? `exit code ${code}`;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const p of failed) {
      clearTimeout(p.timer);
      p.reject(new FrameRunError(`the inference worker exited (${reason})`, undefined));
    }
    if (this.closed) return;
    this.exits += 1;
    const lived = performance.now() - this.startedAt;
    if (lived >= HEALTHY_LIFE_MS) this.backoff.reset();
    this.restartAt = performance.now() + (lived < HEALTHY_LIFE_MS ? this.backoff.next() : 0);
    this.o.events.warn('vision.worker_exited', { code: 'E_VISION_WORKER', exitCode: code, reason, requestsFailed: failed.length, restarts: this.exits });
    this.lastError = undefined;
    for (const l of [...this.listeners]) l();
  }
}

/** A model loaded in the worker. */
class ThreadFrameRunner implements FrameRunner {
  constructor(
    private readonly thread: InferenceThread,
    private readonly generation: number,
    private readonly model: number,
    readonly info: FrameModelInfo,
  ) {}

  async run(frame: RawFrame, o: { readonly tensor: boolean }): Promise<FrameOutput> {
    if (!this.thread.alive(this.generation)) throw new FrameRunError('the inference worker restarted: the model is loaded again', undefined);
    const { message, slot } = this.thread.slots.message(frame);
    try {
      const r = await this.thread.request({ type: 'run', id: 0, model: this.model, frame: message, tensor: o.tensor });
      return r.output as FrameOutput;
    } finally {
      if (slot !== undefined) this.thread.slots.give(slot);
    }
  }

  async close(): Promise<void> {
    if (!this.thread.alive(this.generation)) return;
    await this.thread.request({ type: 'close', id: 0, model: this.model }).catch(() => undefined);
  }
}
