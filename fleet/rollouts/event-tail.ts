import type { RolloutEvent, RolloutStore } from './rollout-store.js';

/** A decision whose seq is this close below the newest seen is still new (commits may land out of seq order). */
export const LATE_WINDOW = 100;

export type TailedRolloutEvent = RolloutEvent & { readonly rolloutId: string };

/**
 * Reads rollout decisions as they are committed, by seq, from the database: what every fleet
 * instance sees, whichever instance leads the rollouts. Two transactions may commit their
 * decisions out of seq order (seq is taken at insert), so each read looks LATE_WINDOW seqs
 * back and returns a decision it has not returned yet, once. Nothing at or below the seq it
 * started after is returned.
 */
export class RolloutEventTail {
  private readonly floor: number;
  private readonly seen = new Set<number>();

  constructor(
    private readonly store: RolloutStore,
    private after: number,
  ) {
    this.floor = after;
  }

  /** The newest seq returned (or the start). */
  get position(): number {
    return this.after;
  }

  /** Decisions committed since the last call, in seq order; at most `limit` read per call. */
  async next(limit = 500): Promise<TailedRolloutEvent[]> {
    const rows = await this.store.eventsAfter(Math.max(this.floor, this.after - LATE_WINDOW), limit);
    const fresh: TailedRolloutEvent[] = [];
    for (const e of rows) {
      if (this.seen.has(e.seq)) continue;
      this.seen.add(e.seq);
      fresh.push(e);
      this.after = Math.max(this.after, e.seq);
    }
    // Only the window is remembered: the set stays at most LATE_WINDOW plus one read.
    for (const seq of this.seen) if (seq <= this.after - LATE_WINDOW) this.seen.delete(seq);
    return fresh;
  }
}
