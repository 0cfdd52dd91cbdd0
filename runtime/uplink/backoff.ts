/**
 * Exponential backoff with "equal jitter": the n-th delay is drawn uniformly from
 * [d/2, d] where d = min(max, min * 2^n). Half the delay is guaranteed (no hammering
 * a broker that just came back), half is random (a thousand gateways that lost the
 * broker together do not all return in the same second).
 */
export interface BackoffOptions {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The ceiling for the next delay, before jitter. */
  ceiling(): number {
    const { minDelayMs, maxDelayMs } = this.options;
    // 2^30 already exceeds any sane maximum; cap the exponent so it never overflows.
    return Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(this.attempt, 30));
  }

  next(): number {
    const d = this.ceiling();
    this.attempt += 1;
    return d / 2 + this.random() * (d / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
