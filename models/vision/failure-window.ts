/**
 * Outcomes of the last `size` frames a stage worked on (bounded: one byte each), so health can
 * say "6 of the last 100 frames failed" rather than a count since start that never recovers
 * or a single failure that says nothing.
 */
export class FailureWindow {
  private readonly ring: Uint8Array;
  private at = 0;
  private filled = 0;
  private failedIn = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`FailureWindow size must be an integer >= 1, got ${size}`);
    this.ring = new Uint8Array(size);
  }

  record(failed: boolean): void {
    if (this.filled === this.size) this.failedIn -= this.ring[this.at] as number;
    else this.filled += 1;
    this.ring[this.at] = failed ? 1 : 0;
    if (failed) this.failedIn += 1;
    this.at = (this.at + 1) % this.size;
  }

  /** Failed frames among the last `frames` (at most `size`). */
  get failed(): number {
    return this.failedIn;
  }

  get frames(): number {
    return this.filled;
  }

  /** Share of the window's frames that failed; 0 before the first frame. */
  get share(): number {
    return this.filled === 0 ? 0 : this.failedIn / this.filled;
  }
}
