import { decodeVisionEvaluationSet, type VisionEvaluationSet } from '../../fleet/protocol/evaluation-set.js';
import type { ComponentEvents } from '../../runtime/health/events.js';
import type { ManagedModelSource, ShadowCandidate } from '../../runtime/pipeline/registry.js';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { InferenceBackend } from '../engine/engine.js';
import type { Letterbox } from './letterbox.js';
import { matchDetections } from './metrics.js';
import { detectorF1, stageClassIds } from './shadow-evaluation.js';
import { VisionModel, type FrameResult, type VisionModelOptions } from './vision-model.js';

/** What a shadow needs of its stage's settings. */
export interface VisionShadowOptions {
  readonly managed?: { readonly name: string; readonly source: ManagedModelSource };
  /** The backend the active model runs on: the candidate runs on it too. */
  readonly backend: InferenceBackend;
  readonly providers: readonly string[] | undefined;
  readonly threads: number | undefined;
  readonly model: VisionModelOptions;
}

/**
 * A candidate release running in shadow beside the managed detector: it sees the frames the
 * active model inferred, and what it finds goes to its sink only (see ManagedModelSource.subscribeShadow).
 */
export interface VisionShadow {
  readonly candidate: ShadowCandidate;
  /** Settles when the candidate loaded (model) or could not (error). */
  loaded: Promise<void>;
  model: VisionModel | undefined;
  /** Why the candidate cannot run (it does not load as a vision model). */
  error: string | undefined;
  ended: boolean;
  /** Runs that threw (the first is reported as an event). */
  failures: number;
  /** The scoring of the release's evaluation set, while it runs. */
  evaluating: Promise<void> | undefined;
}

/**
 * How the candidate's result on a frame agrees with the active model's: detections matched
 * one-to-one at IoU >= 0.5 (`matchDetections`); a classification counts as one whole-frame
 * answer from each, matched, of the same class when their top classes are the same.
 */
export function agreement(active: FrameResult, candidate: FrameResult): { active: number; candidate: number; matched: number; sameClass: number } {
  if (active.kind === 'detections' && candidate.kind === 'detections') return matchDetections(active.detections, candidate.detections);
  const count = (r: FrameResult): number => (r.kind === 'detections' ? r.detections.length : Math.min(1, r.classes.length));
  if (active.kind === 'classes' && candidate.kind === 'classes') {
    const [a, c] = [active.classes[0], candidate.classes[0]];
    const both = a !== undefined && c !== undefined;
    return { active: count(active), candidate: count(candidate), matched: both ? 1 : 0, sameClass: both && a.classId === c.classId ? 1 : 0 };
  }
  return { active: count(active), candidate: count(candidate), matched: 0, sameClass: 0 };
}

/**
 * The shadow half of the vision stage: the candidate in shadow (at most one), its loading,
 * its runs on the frames the active model inferred, the scoring of its evaluation set, and
 * its closing. Whatever the candidate does stays here: nothing it says reaches the active path.
 */
export class VisionShadows {
  private shadow: VisionShadow | undefined;
  /** Candidates that ended and are being closed. */
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly o: VisionShadowOptions,
    private readonly events: ComponentEvents,
    /** The frame in inference, which may be running the candidate: an ending candidate is closed after it. */
    private readonly inflight: () => Promise<void>,
  ) {}

  /** The candidate in shadow, if any. */
  get current(): VisionShadow | undefined {
    return this.shadow;
  }

  /** Starts (or, with undefined, ends) running a candidate release in shadow; a new one replaces the old. */
  set(candidate: ShadowCandidate | undefined): void {
    const old = this.shadow;
    this.shadow = undefined;
    if (old !== undefined) this.end(old);
    if (candidate === undefined) return;
    const sh: VisionShadow = { candidate, loaded: Promise.resolve(), model: undefined, error: undefined, ended: false, failures: 0, evaluating: undefined };
    sh.loaded = (async () => {
      try {
        const model = await VisionModel.load(candidate.bytes, this.o.backend, { providers: this.o.providers, threads: this.o.threads }, this.o.model);
        if (sh.ended) {
          await model.close();
          return;
        }
        sh.model = model;
        this.events.info('vision.shadow_started', { model: this.o.managed?.name, candidate: candidate.ref, release: candidate.release, provider: model.model.provider, input: model.inputSize });
      } catch (err) {
        sh.error = (err as Error).message;
        if (!sh.ended) this.events.warn('vision.shadow_invalid', { code: 'E_MODEL_INVALID', model: this.o.managed?.name, candidate: candidate.ref, release: candidate.release, reason: sh.error });
      }
    })();
    this.shadow = sh;
    if (candidate.evaluation !== undefined) sh.evaluating = this.evaluate(sh, candidate.evaluation);
  }

  /**
   * The release's labelled evaluation set, scored by the candidate and by the active release
   * (each loaded apart from the live path, whose models and input buffers stay untouched):
   * their detection F1 at IoU 0.5 go to the sink, or why the candidate could not be evaluated.
   * Never throws.
   */
  private async evaluate(sh: VisionShadow, bytes: Uint8Array): Promise<void> {
    const m = this.o.managed;
    const say = (e: { samples: number; active: number | null; candidate: number | null; error: string | null }): void => {
      if (sh.ended) return;
      try {
        sh.candidate.sink.evaluation({ metric: 'f1@0.5', ...e });
      } catch (err) {
        this.events.debug('vision.shadow_report_failed', { reason: (err as Error).message });
      }
      const fields = { model: m?.name, candidate: sh.candidate.ref, release: sh.candidate.release, samples: e.samples, activeF1: e.active, candidateF1: e.candidate };
      if (e.error === null) this.events.info('vision.shadow_evaluated', fields);
      else this.events.warn('vision.shadow_evaluation_failed', { code: 'E_MODEL_EVALUATION', ...fields, reason: e.error });
    };
    // Said, not skipped: a release that asks to be judged on a labelled set is not judged on agreement instead.
    const notScored = { samples: 0, active: null, candidate: null, error: 'vision stages score evaluation sets of detectors only (F1 of labelled boxes); a classification model is not scored' };
    if (this.o.model.task === 'classification') return say(notScored);
    let set: VisionEvaluationSet;
    try {
      set = decodeVisionEvaluationSet(bytes);
    } catch (err) {
      return say({ samples: 0, active: null, candidate: null, error: (err as Error).message });
    }
    await sh.loaded;
    if (sh.ended) return;
    if (sh.error !== undefined) return say({ samples: set.frames.length, active: null, candidate: null, error: `the candidate does not run here: ${sh.error}` });
    if (sh.model?.task === 'classification') return say(notScored);
    let classIds: number[];
    try {
      // The classes as the candidate names them (the config's names, else its own metadata's).
      classIds = stageClassIds(set, sh.model?.classNames ?? this.o.model.classNames);
    } catch (err) {
      return say({ samples: 0, active: null, candidate: null, error: (err as Error).message });
    }
    const score = async (modelBytes: Uint8Array): Promise<number> => {
      const model = await VisionModel.load(modelBytes, this.o.backend, { providers: this.o.providers, threads: this.o.threads }, this.o.model);
      try {
        return (await detectorF1((frame) => model.detect(frame), set, classIds, () => sh.ended)).f1;
      } finally {
        await model.close().catch(() => undefined);
      }
    };
    let candidate: number;
    try {
      candidate = await score(sh.candidate.bytes);
    } catch (err) {
      return say({ samples: set.frames.length, active: null, candidate: null, error: `the candidate fails on the evaluation set: ${(err as Error).message}` });
    }
    // No active release, or one that cannot be scored: nothing to be worse than (the event says which).
    let active: number | null = null;
    const release = m === undefined ? undefined : await m.source.load(m.name).catch(() => undefined);
    if (release !== undefined && !sh.ended) {
      try {
        active = await score(release.bytes);
      } catch (err) {
        if (!sh.ended) this.events.warn('vision.shadow_evaluation_failed', { code: 'E_MODEL_EVALUATION', model: m?.name, active: release.ref, reason: `the active release cannot be scored on the evaluation set: ${(err as Error).message}` });
      }
    }
    say({ samples: set.frames.length, active, candidate, error: null });
  }

  /** The candidate ends: it is closed once it loaded and the frame in inference (which may run it) is done. */
  private end(sh: VisionShadow): void {
    sh.ended = true;
    const closing = (async () => {
      await sh.loaded;
      await sh.evaluating;
      // After the frame in inference, and one that may have started since (as reload does).
      await this.inflight();
      await this.inflight();
      await sh.model?.close();
      sh.model = undefined;
    })().catch(() => undefined);
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
  }

  /**
   * The candidate on a frame the active model inferred: the same input (the active tensor when
   * the input sizes agree, else its own preprocessing), its detections compared with the active
   * model's (`active`: the active model's input size; `tensor`: its input, when the stage has
   * it). Never throws: whatever the candidate does stays here.
   */
  async run(sh: VisionShadow, active: { readonly width: number; readonly height: number; readonly channels: number }, frame: RawFrame, tensor: Float32Array | undefined, letterbox: Letterbox, detected: FrameResult): Promise<void> {
    const sink = sh.candidate.sink;
    try {
      if (sh.ended) return;
      // Not a model, or not a vision one: every frame it would have seen is an error, not silence.
      if (sh.error !== undefined) return sink.run(false, 0);
      const model = sh.model;
      if (model === undefined) return; // still loading: nothing to compare yet
      const a = active;
      const c = model.inputSize;
      const input = tensor !== undefined && a.width === c.width && a.height === c.height && a.channels === c.channels ? { tensor, letterbox } : undefined;
      const started = performance.now();
      let found: FrameResult;
      let ms: number;
      try {
        const { tensor: t, letterbox: l } = input ?? model.preprocess(frame, 0);
        const t1 = performance.now();
        const raw = await model.infer(t);
        ms = performance.now() - t1;
        found = model.decode(raw, l);
      } catch (err) {
        if (sh.ended) return;
        sink.run(false, performance.now() - started);
        sh.failures += 1;
        if (sh.failures === 1) this.events.warn('vision.shadow_failed', { code: 'E_MODEL_RUN', model: this.o.managed?.name, candidate: sh.candidate.ref, reason: (err as Error).message });
        return;
      }
      if (sh.ended) return;
      sink.run(true, ms);
      sink.vision(agreement(detected, found));
    } catch (err) {
      // A sink that throws is the updater's trouble, not the active path's.
      this.events.debug('vision.shadow_report_failed', { reason: (err as Error).message });
    }
  }

  /** Ends the candidate (if any) and waits until every ended one is closed. */
  async stop(): Promise<void> {
    if (this.shadow !== undefined) this.end(this.shadow);
    this.shadow = undefined;
    await Promise.allSettled([...this.closing]);
  }
}
