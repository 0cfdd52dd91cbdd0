import type { ShadowSpec, ShadowSummary } from '../../fleet/protocol/update.js';
import type { ShadowCandidate } from '../pipeline/registry.js';
import type { ModelRef } from '../store/decision-log.js';
import { ShadowTally } from './shadow-tally.js';
import { ModelSlots } from './slots.js';

/** The active, signed release of a model, as a stage loads it. */
export interface ManagedModel {
  readonly bytes: Uint8Array;
  readonly ref: ModelRef;
  readonly release: number;
}

/**
 * What stages see of the updater: the bytes of a model's active slot (checked against the
 * hash recorded at activation) and a call when another release becomes active (an update
 * or a rollback), so the stage switches between two frames, not at the next restart.
 */
export class ManagedModels {
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly shadowListeners = new Map<string, Set<(c: ShadowCandidate | undefined) => void>>();

  constructor(private readonly dataDir: string) {}

  async load(model: string): Promise<ManagedModel | undefined> {
    const slots = new ModelSlots(this.dataDir, model);
    const active = await slots.active();
    if (active === undefined) return undefined;
    const bytes = await slots.bytes(active.slot, active.sha256);
    return { bytes, release: active.release, ref: { name: model, version: active.version, hash: `sha256:${active.sha256}` } };
  }

  subscribe(model: string, onChange: () => void): () => void {
    let set = this.listeners.get(model);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(model, set);
    }
    set.add(onChange);
    return () => set.delete(onChange);
  }

  subscribeShadow(model: string, onShadow: (candidate: ShadowCandidate | undefined) => void): () => void {
    let set = this.shadowListeners.get(model);
    if (set === undefined) {
      set = new Set();
      this.shadowListeners.set(model, set);
    }
    set.add(onShadow);
    return () => set.delete(onShadow);
  }

  /**
   * Runs `candidate` in shadow in every stage that runs `model`, until the stages together ran
   * it `spec.inferences` times (and each scored the release's evaluation set, when it has one)
   * or `spec.maxMs` passed (or `signal` aborts), then ends the shadow and says how it compared. With no stage running the model, nothing is measured (stages: 0).
   */
  async shadow(model: string, candidate: Omit<ShadowCandidate, 'sink'>, spec: ShadowSpec, signal?: AbortSignal, now: () => number = Date.now): Promise<ShadowSummary> {
    const stages = [...(this.shadowListeners.get(model) ?? [])];
    const tally = new ShadowTally(stages.length, now);
    if (stages.length === 0) return tally.summary();
    const running = { ...candidate, sink: tally };
    for (const f of stages) {
      try {
        f(running);
      } catch {
        // a stage that cannot start the shadow simply contributes no runs
      }
    }
    try {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          tally.onRun(undefined);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, spec.maxMs);
        signal?.addEventListener('abort', done);
        // With an evaluation set, every stage's evaluation counts too (each reports one, or why not).
        tally.onRun(() => {
          if (tally.inferences >= spec.inferences && (candidate.evaluation === undefined || tally.evaluationsReported >= stages.length)) done();
        });
        if (signal?.aborted === true) done();
      });
    } finally {
      for (const f of stages) {
        try {
          f(undefined);
        } catch {
          // closing is the stage's own business
        }
      }
    }
    return tally.summary();
  }

  /** Set by the update service: runs of a model in probation go to the updater. */
  onRun: ((model: string, ok: boolean, ms: number) => void) | undefined;

  recordRun(model: string, ok: boolean, ms: number): void {
    this.onRun?.(model, ok, ms);
  }

  /** Called by the updater after it activated or rolled back `model`. */
  changed(model: string): void {
    for (const f of this.listeners.get(model) ?? []) {
      try {
        f();
      } catch {
        // one stage's trouble switching is its own (it reports it); the others still switch
      }
    }
  }
}
