/** Missing sequence numbers remembered per subscription; older ones are given up (and still counted). */
export const MAX_MISSING = 10_000;

/**
 * The sequence numbers of one subscription's data notifications (Part 4 §7.21: consecutive
 * from 1, keep-alives use none). A number seen before is a duplicate (a republish of
 * something we had); a jump leaves a gap that a republish may fill later. `missing` counts
 * what no republish filled.
 */
export class SubscriptionTracker {
  subscriptionId: number | null = null;
  /** The highest sequence number received. */
  last = 0;
  private readonly gaps = new Set<number>();
  private givenUp = 0;

  /** A new (or recreated) subscription: its numbering starts again. */
  reset(subscriptionId: number): void {
    this.subscriptionId = subscriptionId;
    this.last = 0;
    this.gaps.clear();
  }

  /** Sequence numbers never received (gaps republish did not fill), this subscription and the ones before it. */
  get missing(): number {
    return this.gaps.size + this.givenUp;
  }

  isMissing(seq: number): boolean {
    return this.gaps.has(seq);
  }

  /** True for a notification to process; false for one already processed. */
  accept(seq: number): boolean {
    if (seq > this.last) {
      for (let s = this.last + 1; s < seq && this.last > 0; s += 1) this.remember(s);
      this.last = seq;
      return true;
    }
    return this.gaps.delete(seq);
  }

  private remember(seq: number): void {
    if (this.gaps.size >= MAX_MISSING) {
      const oldest = this.gaps.values().next().value as number;
      this.gaps.delete(oldest);
      this.givenUp += 1;
    }
    this.gaps.add(seq);
  }
}
