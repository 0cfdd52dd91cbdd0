/**
 * Keeps a repeated event from filling the disk it is about: per (component, event, code), the
 * first `burst` in an interval are logged, the rest only counted, and when the interval ends
 * one summary says how many were held back and shows the last of them. Counters (metrics)
 * are not limited: they count every event.
 */
export interface RateLimitOptions {
  /** Events of one kind logged per interval before the rest are held back. */
  readonly burst: number;
  readonly intervalMs: number;
  /** Kinds tracked at most (the oldest is summarised and forgotten beyond this). */
  readonly maxKinds: number;
}

export const EVENT_RATE_LIMIT: RateLimitOptions = { burst: 5, intervalMs: 60_000, maxKinds: 512 };

export interface HeldBack<F> {
  readonly key: string;
  /** How many were not logged in the interval that ended. */
  readonly suppressed: number;
  readonly intervalMs: number;
  /** The last one held back, as it would have been logged. */
  readonly last: F;
}

interface Kind<F> {
  windowStart: number;
  logged: number;
  suppressed: number;
  last: F | undefined;
}

export class EventRateLimit<F> {
  private readonly kinds = new Map<string, Kind<F>>();

  constructor(
    private readonly o: RateLimitOptions = EVENT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether this occurrence is logged; `summaries` gets what was held back in intervals that
   * have ended (this kind's, and others' when it is time), to be logged first.
   */
  admit(key: string, fields: F, summaries: (h: HeldBack<F>) => void): boolean {
    const t = this.now();
    let k = this.kinds.get(key);
    if (k !== undefined && t - k.windowStart >= this.o.intervalMs) {
      this.close(key, k, summaries);
      k = undefined;
    }
    if (k === undefined) {
      if (this.kinds.size >= this.o.maxKinds) {
        const [oldestKey, oldest] = this.kinds.entries().next().value as [string, Kind<F>];
        this.close(oldestKey, oldest, summaries);
      }
      k = { windowStart: t, logged: 0, suppressed: 0, last: undefined };
      this.kinds.set(key, k);
    }
    if (k.logged < this.o.burst) {
      k.logged += 1;
      return true;
    }
    k.suppressed += 1;
    k.last = fields;
    return false;
  }

  /** Summaries of every interval that has ended (call it now and then: events may stop coming). */
  sweep(summaries: (h: HeldBack<F>) => void): void {
    const t = this.now();
    for (const [key, k] of this.kinds) if (t - k.windowStart >= this.o.intervalMs) this.close(key, k, summaries);
  }

  /** Summaries of everything held back so far, intervals ended or not (at shutdown). */
  flush(summaries: (h: HeldBack<F>) => void): void {
    for (const [key, k] of this.kinds) this.close(key, k, summaries);
  }

  /** Kinds with something held back (a sweep timer is needed only while there are any). */
  get holding(): boolean {
    for (const k of this.kinds.values()) if (k.suppressed > 0) return true;
    return false;
  }

  private close(key: string, k: Kind<F>, summaries: (h: HeldBack<F>) => void): void {
    this.kinds.delete(key);
    if (k.suppressed > 0 && k.last !== undefined) summaries({ key, suppressed: k.suppressed, intervalMs: this.o.intervalMs, last: k.last });
  }
}
