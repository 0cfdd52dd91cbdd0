/**
 * Draft streaming detector (tuning in progress). One instance per channel.
 */
export interface StreamingParams {
  readonly levelAlpha: number;
  readonly statsAlpha: number;
  readonly warmup: number;
  readonly shortWindow: number;
  readonly likelihoodAlpha: number;
  readonly refractory: number;
  readonly damp: number;
  readonly seasonal: boolean;
  readonly features: number;
  readonly zCap: number;
  readonly spatialMargin: number;
  readonly spatialBoost: number;
}

export const DEFAULT_PARAMS: StreamingParams = {
  levelAlpha: 0.2,
  statsAlpha: 0.002,
  warmup: 100,
  shortWindow: 5,
  likelihoodAlpha: 0.002,
  refractory: 100,
  damp: 0.3,
  seasonal: true,
  features: 0b1111,
  zCap: 50,
  spatialMargin: 0.05,
  spatialBoost: 0,
};

const DAY_MS = 86_400_000;

/** Exponentially weighted mean and variance that start as plain running ones. */
class EwStats {
  n = 0;
  mean = 0;
  var = 0;
  constructor(private readonly alpha: number) {}
  push(x: number): void {
    this.n += 1;
    const a = Math.max(this.alpha, 1 / this.n);
    const d = x - this.mean;
    this.mean += a * d;
    this.var = (1 - a) * (this.var + a * d * d);
  }
  get sd(): number {
    return Math.sqrt(this.var);
  }
}

/** Mean of the last `size` values, O(1). */
class MovingAverage {
  private readonly buf: Float64Array;
  private at = 0;
  private count = 0;
  private sum = 0;
  constructor(size: number) {
    this.buf = new Float64Array(size);
  }
  push(x: number): number {
    if (this.count === this.buf.length) this.sum -= this.buf[this.at] as number;
    else this.count += 1;
    this.buf[this.at] = x;
    this.sum += x;
    this.at = (this.at + 1) % this.buf.length;
    return this.sum / this.count;
  }
}

/** One feature's surprise: |e| against its own distribution, averaged, against its own distribution. */
class Surprise {
  private readonly err: EwStats;
  private readonly avg: MovingAverage;
  private readonly lik: EwStats;
  constructor(private readonly p: StreamingParams) {
    this.err = new EwStats(p.statsAlpha);
    this.avg = new MovingAverage(p.shortWindow);
    this.lik = new EwStats(p.likelihoodAlpha);
  }
  /** -log10 of the tail probability of the recent average error. */
  push(e: number, floor: number): number {
    const sd = this.err.sd;
    const z = this.err.n < 2 ? 0 : Math.min(this.p.zCap, Math.abs(e - this.err.mean) / (sd + floor));
    this.err.push(e);
    const a = this.avg.push(z);
    const sdl = this.lik.sd;
    const zz = this.lik.n < 2 ? 0 : (a - this.lik.mean) / Math.max(sdl, 1e-3);
    this.lik.push(a);
    return zz <= 0 ? 0 : -Math.log10(Math.max(1e-300, 0.5 * erfc(zz / Math.SQRT2)));
  }
}

export class StreamingDetector {
  private n = 0;
  private prev = Number.NaN;
  private level = Number.NaN;
  private season: Float64Array | undefined;
  private period = 0;
  private firstTs = Number.NaN;
  private min = Infinity;
  private max = -Infinity;
  private readonly surprises: Surprise[];
  private lastHigh = -Infinity;
  private highScore = 0;

  constructor(private readonly p: StreamingParams = DEFAULT_PARAMS) {
    this.surprises = [0, 1, 2, 3].map(() => new Surprise(p));
  }

  update(x: number, ts: number): number {
    const n = this.n++;
    if (n === 0) {
      this.firstTs = ts;
      this.prev = x;
      this.level = x;
      this.min = x;
      this.max = x;
      return 0;
    }
    if (n === 1 && this.p.seasonal && ts > this.firstTs) {
      const period = Math.round(DAY_MS / (ts - this.firstTs));
      if (period >= 8 && period <= 4096) {
        this.period = period;
        this.season = new Float64Array(period).fill(Number.NaN);
      }
    }
    const range = Math.max(this.max - this.min, Math.abs(this.max) * 1e-6, 1e-12);
    const floor = range * 1e-3;
    let s = 0;
    const f = this.p.features;
    if (f & 1) s = Math.max(s, (this.surprises[0] as Surprise).push(x - this.prev, floor));
    if (f & 2) s = Math.max(s, (this.surprises[1] as Surprise).push(x - this.level, floor));
    if (f & 4 && this.season !== undefined) {
      const sv = this.season[n % this.period] as number;
      if (Number.isFinite(sv)) s = Math.max(s, (this.surprises[2] as Surprise).push(x - sv, floor));
    }
    if (f & 8) s = Math.max(s, (this.surprises[3] as Surprise).push(x, floor));
    const spatial = x > this.max + this.p.spatialMargin * range || x < this.min - this.p.spatialMargin * range;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.prev = x;
    this.level += this.p.levelAlpha * (x - this.level);
    if (this.season !== undefined) this.season[n % this.period] = x;
    if (n < this.p.warmup) return 0;
    let score = s / (s + 10);
    if (spatial) score = Math.min(1, score + this.p.spatialBoost);
    if (n - this.lastHigh < this.p.refractory) {
      if (score > this.highScore) {
        this.highScore = score;
        this.lastHigh = n;
        return score;
      }
      return score * this.p.damp;
    }
    this.lastHigh = n;
    this.highScore = score;
    return score;
  }
}

/** Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}
