import type { ModelRef } from '../store/decision-log.js';
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
