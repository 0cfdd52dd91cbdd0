/** Missing sequence numbers remembered per subscription; older ones are given up (and still counted). */
export const MAX_MISSING = 10_000;

/**
 * The sequence numbers of one subscription's data notifications (Part 4 §7.21: consecutive
 * from 1, keep-alives use none). A number seen before is a duplicate (a republish of
 * something we had); a jump leaves a gap that a republish may fill later. `lost` counts
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
    // Open gaps of the old subscription can no longer be asked for.
    this.givenUp += this.gaps.size;
    this.gaps.clear();
  }

  /** Notifications given up as lost (republish could not fill them, or too many gaps to remember), over every subscription id. */
  get lost(): number {
    return this.givenUp;
  }

  /** Gaps still open (a republish may fill them). */
  get gapCount(): number {
    return this.gaps.size;
  }

  gapList(): number[] {
    return [...this.gaps];
  }

  /** A gap the server cannot fill: counted lost. */
  giveUp(seq: number): void {
    if (this.gaps.delete(seq)) this.givenUp += 1;
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
