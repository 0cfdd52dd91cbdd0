/**
 * Maps MCU ticks (free-running microseconds since boot) to wall-clock time.
 *
 * The gateway sends TIME_SYNC_REQUEST at wall time t1 and gets the MCU's tick T back at t3.
 * The MCU read T somewhere between t1 and t3, so wall(T) = (t1 + t3) / 2 with an error of at
 * most (t3 - t1) / 2. The estimator keeps the last `window` exchanges, trusts the ones with
 * the smallest round trips, and fits the MCU crystal's drift (tens of ppm, seconds a day)
 * from low-error exchanges that are far enough apart. Every mapped time comes with its
 * error bound.
 */
export interface SyncExchange {
  /** Wall time the request left, ms. */
  readonly sentAtMs: number;
  /** Wall time the response arrived, ms. */
  readonly receivedAtMs: number;
  /** The MCU tick in the response, microseconds. */
  readonly tickUs: number;
}

export interface MappedTime {
  readonly ms: number;
  /** The true time is within ms ± errorMs (given the drift bound). */
  readonly errorMs: number;
}

export interface TimeSyncOptions {
  /** Exchanges kept. */
  readonly window?: number;
  /** Residual drift assumed when extrapolating from the best exchange, parts per million. */
  readonly driftBoundPpm?: number;
  /** Fit drift only from exchanges at least this far apart. */
  readonly minDriftSpanMs?: number;
}

interface Point {
  readonly tickUs: number;
  readonly offsetMs: number;
  readonly errorMs: number;
}

export class TimeSyncEstimator {
  private readonly points: Point[] = [];
  private readonly window: number;
  private readonly driftBound: number;
  private readonly minSpanMs: number;

  constructor(options: TimeSyncOptions = {}) {
    this.window = options.window ?? 16;
    this.driftBound = (options.driftBoundPpm ?? 100) * 1e-6;
    this.minSpanMs = options.minDriftSpanMs ?? 10_000;
  }

  get synced(): boolean {
    return this.points.length > 0;
  }

  /** Forgets everything (the MCU rebooted: its tick started again). */
  reset(): void {
    this.points.length = 0;
  }

  add(x: SyncExchange): void {
    if (!(x.receivedAtMs >= x.sentAtMs) || !Number.isFinite(x.tickUs)) return;
    this.points.push({ tickUs: x.tickUs, offsetMs: (x.sentAtMs + x.receivedAtMs) / 2 - x.tickUs / 1000, errorMs: (x.receivedAtMs - x.sentAtMs) / 2 });
    if (this.points.length > this.window) this.points.shift();
  }

  /** The drift (ms of offset per ms of tick) fitted from the best exchanges, or 0. */
  private drift(): number {
    const best = [...this.points].sort((a, b) => a.errorMs - b.errorMs).slice(0, Math.max(2, Math.ceil(this.points.length / 2)));
    if (best.length < 2) return 0;
    const ticks = best.map((p) => p.tickUs / 1000);
    if (Math.max(...ticks) - Math.min(...ticks) < this.minSpanMs) return 0;
    const n = best.length;
    const mx = ticks.reduce((a, b) => a + b, 0) / n;
    const my = best.reduce((a, p) => a + p.offsetMs, 0) / n;
    let sxx = 0;
    let sxy = 0;
    best.forEach((p, i) => {
      const dx = (ticks[i] as number) - mx;
      sxx += dx * dx;
      sxy += dx * (p.offsetMs - my);
    });
    const slope = sxx === 0 ? 0 : sxy / sxx;
    // A fitted drift beyond the bound is noise, not a crystal.
    return Math.max(-this.driftBound, Math.min(this.driftBound, slope));
  }

  /** Wall time of `tickUs`, or undefined before the first exchange. */
  toWall(tickUs: number): MappedTime | undefined {
    if (this.points.length === 0) return undefined;
    const slope = this.drift();
    let best: MappedTime | undefined;
    for (const p of this.points) {
      const dtMs = (tickUs - p.tickUs) / 1000;
      const errorMs = p.errorMs + Math.abs(dtMs) * (this.driftBound + Math.abs(slope));
      if (best === undefined || errorMs < best.errorMs) best = { ms: tickUs / 1000 + p.offsetMs + slope * dtMs, errorMs };
    }
    return best;
  }
}
