import { stalenessWeight } from './late-policy.js';
import type { CheckedUpdate } from './update-check.js';

/** A late update as it joins an aggregation: its delta will be scaled by `weight`. */
export interface StaleUpdate {
  readonly update: CheckedUpdate;
  /** Rounds between the update's own round and the round it is applied in (>= 1). */
  readonly staleness: number;
  readonly weight: number;
}

/**
 * The late updates a `buffer` policy keeps for a later round: at most `capacity`, each a
 * checked, dequantised update (one copy of the model's delta). An update leaves when a round
 * closes with a model that used it, or when it grows staler than `maxStaleness`.
 */
export class LateBuffer {
  private updates: CheckedUpdate[] = [];

  constructor(
    readonly capacity: number,
    readonly maxStaleness: number,
    readonly stalenessExponent: number,
  ) {}

  get size(): number {
    return this.updates.length;
  }

  /** Keeps a late update; false (nothing kept) when the buffer is full. */
  add(update: CheckedUpdate): boolean {
    if (this.updates.length >= this.capacity) return false;
    this.updates.push(update);
    return true;
  }

  /** Drops the updates too stale for a round `closing` (and any that would ever be); returns how many. */
  expire(closing: number): number {
    const before = this.updates.length;
    this.updates = this.updates.filter((u) => closing - u.round <= this.maxStaleness);
    return before - this.updates.length;
  }

  /** The updates of rounds before `closing`, with their staleness and weight, in a fixed order (round, then gateway). */
  dueFor(closing: number): StaleUpdate[] {
    return this.updates
      .filter((u) => u.round < closing)
      .sort((a, b) => a.round - b.round || (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0))
      .map((update) => {
        const staleness = closing - update.round;
        return { update, staleness, weight: stalenessWeight(staleness, this.stalenessExponent) };
      });
  }

  /** Removes the updates `dueFor(closing)` returned: they went into a model. */
  commit(closing: number): void {
    this.updates = this.updates.filter((u) => u.round >= closing);
  }

  clear(): number {
    const n = this.updates.length;
    this.updates = [];
    return n;
  }
}
