import { evidenceScore } from '../math.js';
import { LaggedEnvelope } from './envelope.js';
import { TailHistogram } from './tail-histogram.js';

/**
 * The streaming per-channel anomaly detector. One instance per channel; `update(value,
 * timestampMs)` returns a score in [0, 1). O(1) time per point (a few hundred operations)
 * and bounded memory (a daily profile of at most 288 slots, a weekly one of at most 2016,
 * five 49-bin histograms).
 *
 * 1. Predictors: the last value, an EWMA level, a time-of-day profile and a time-of-week
 *    profile (per-slot EWMAs; the slot comes from the timestamp, the sampling period from
 *    the median of the first intervals, so irregular sampling is fine); plus a run-length
 *    feature for a value that stops moving (a stuck sensor).
 * 2. Each error, divided by its predictor's long-run mean error, gets a surprise -log10 p
 *    from that predictor's own forgetting histogram (TailHistogram). This calibrates every
 *    channel to itself: no thresholds in units.
 * 3. Point surprise: the largest, minus log10(number of predictors) (a Bonferroni
 *    correction: with more predictors a large one is less surprising).
 * 4. Temporal evidence: Fisher's combination of the last few point surprises (a closed-form
 *    chi-square tail), so a burst of moderately surprising points adds up.
 * 5. Score: L / (L + 10), monotone, never saturating; then suppression, so one event yields
 *    one high score rather than a run of them.
 *
 * Why this design: see README.md (NAB scores, what each part catches).
 */
export interface StreamingParams {
  /** EWMA level predictor. */
  readonly levelAlpha: number;
  /** Per-slot EWMA of the time-of-day profile. */
  readonly dayAlpha: number;
  /** Per-slot EWMA of the time-of-week profile. */
  readonly weekAlpha: number;
  /** Long-run mean |error| per predictor (the normaliser). */
  readonly scaleAlpha: number;
  /** Forgetting of the surprise histograms (1 / memory in points). */
  readonly histAlpha: number;
  /** Pareto exponent beyond the largest error seen. */
  readonly tailExp: number;
  /** Multiple-predictor correction (times log10 of the number of predictors). */
  readonly bonf: number;
  /** Points in the Fisher combination. */
  readonly shortW: number;
  /** Weight of the combined evidence against the point evidence. */
  readonly fisherW: number;
  /** Errors a predictor must have seen before its surprise counts (its scale is settling before). */
  readonly scoreAfter: number;
  /** Points scored 0 at the start (learning). */
  readonly warmup: number;
  /** Suppression span after a report, in points. */
  readonly refractory: number;
  /** Evidence (-log10 p) that opens a suppression span. */
  readonly recMin: number;
  /** Inside a span, a score is reported only if it beats the last report by this factor. */
  readonly gain: number;
  /** Multiplier for suppressed scores. */
  readonly damp: number;
  /** Bound on the daily profile's slots (the weekly one has 7 times as many). */
  readonly maxSlotsPerDay: number;
  /** Watch for a value that stops moving. */
  readonly stuck: boolean;
  /** Evidence subtracted from the stuck-run surprise (it must be this much stronger). */
  readonly stuckPenalty: number;
  /** A value beyond the range seen so far by this share of the range is news (0: off). */
  readonly bandMargin: number;
  /** Evidence at exactly that margin. */
  readonly bandEvidence: number;
  /** The band leaves out the most recent this-many ms... */
  readonly bandLagMs: number;
  /** ...and covers this-many ms before that (in blocks of bandBlockMs; Infinity: all). */
  readonly bandWindowMs: number;
  readonly bandBlockMs: number;
  /** The band is used only once the history behind it spans this long. */
  readonly bandMinHistoryMs: number;
  /**
   * One high score per event (as NAB rewards), or the plain evidence at every point (as an
   * alert policy with its own hysteresis and minimum duration wants).
   */
  readonly suppress: boolean;
}

export const STREAMING_DEFAULTS: StreamingParams = {
  levelAlpha: 0.1,
  dayAlpha: 0.15,
  weekAlpha: 0.12,
  scaleAlpha: 0.0002,
  histAlpha: 0.00003,
  tailExp: 2,
  bonf: 1,
  shortW: 3,
  fisherW: 1.2,
  scoreAfter: 10,
  warmup: 150,
  refractory: 90,
  recMin: 1,
  gain: 1.3,
  damp: 0.3,
  maxSlotsPerDay: 288,
  stuck: true,
  stuckPenalty: 4,
  bandMargin: 0.1,
  bandEvidence: 6,
  bandLagMs: 600_000,
  bandWindowMs: Number.POSITIVE_INFINITY,
  bandBlockMs: 60_000,
  bandMinHistoryMs: 1_800_000,
  suppress: true,
};

/** Bumped whenever the algorithm changes what it scores (the decision log records it). */
export const STREAMING_VERSION = '1.0.0';

export function defaultStreamingParams(): StreamingParams {
  return STREAMING_DEFAULTS;
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const PREDICTORS = 5;
const PERIOD_SAMPLES = 15;
const LAST = 0;
const LEVEL = 1;
const DAY = 2;
const WEEK = 3;
const RUN = 4;

export class StreamingDetector {
  private readonly p: StreamingParams;
  private n = 0;
  private prev = Number.NaN;
  private level = Number.NaN;
  private min = Infinity;
  private max = -Infinity;
  private lastTs = Number.NaN;
  private readonly intervals = new Float64Array(PERIOD_SAMPLES);
  private intervalCount = 0;
  private slots = 0;
  private day: Float64Array | undefined;
  private week: Float64Array | undefined;
  private readonly scale = new Float64Array(PREDICTORS);
  private readonly scaleN = new Float64Array(PREDICTORS);
  private readonly tails: TailHistogram[];
  private readonly recent: Float64Array;
  private recentAt = 0;
  private recentSum = 0;
  private run = 0;
  private readonly envelope: LaggedEnvelope;
  private lastReport = -1e9;
  private reported = 0;

  constructor(params: Partial<StreamingParams> = {}) {
    this.p = { ...STREAMING_DEFAULTS, ...params };
    this.tails = Array.from({ length: PREDICTORS }, () => new TailHistogram(this.p.histAlpha, this.p.tailExp));
    this.recent = new Float64Array(this.p.shortW);
    this.envelope = new LaggedEnvelope(this.p.bandBlockMs, this.p.bandLagMs, this.p.bandWindowMs, this.p.bandMinHistoryMs);
  }

  /** Surprise of predictor k's error e; learns from it afterwards. */
  private surprise(k: number, e: number, floor: number): number {
    const alpha = Math.max(this.p.scaleAlpha, 1 / ((this.scaleN[k] as number) + 1));
    const ae = Math.abs(e);
    let s = 0;
    if ((this.scaleN[k] as number) >= this.p.scoreAfter) {
      const z = ae / ((this.scale[k] as number) + floor);
      s = (this.tails[k] as TailHistogram).observe(z);
    }
    this.scale[k] = (this.scale[k] as number) + alpha * (ae - (this.scale[k] as number));
    this.scaleN[k] = (this.scaleN[k] as number) + 1;
    return s;
  }

  /**
   * How long the value has not moved, against the runs this channel finished before: the
   * current run is judged against completed ones only, so a sensor that sticks cannot teach
   * the detector that sticking is normal while it sticks. Judged apart from the predictors,
   * more strictly (stuckPenalty): runs of equal values are common in quantised data.
   */
  private stuckSurprise(repeated: boolean): number {
    if (repeated) {
      this.run += 1;
      if ((this.scaleN[RUN] as number) < this.p.scoreAfter) return 0;
      return (this.tails[RUN] as TailHistogram).surprise(this.run / ((this.scale[RUN] as number) + 0.05));
    }
    // A run ended (a run of 0: the value moved): learn its length.
    const k = RUN;
    const alpha = Math.max(this.p.scaleAlpha, 1 / ((this.scaleN[k] as number) + 1));
    if ((this.scaleN[k] as number) >= this.p.scoreAfter) (this.tails[k] as TailHistogram).add(this.run / ((this.scale[k] as number) + 0.05));
    this.scale[k] = (this.scale[k] as number) + alpha * (this.run - (this.scale[k] as number));
    this.scaleN[k] = (this.scaleN[k] as number) + 1;
    this.run = 0;
    return 0;
  }

  private learnPeriod(ts: number): void {
    const d = ts - this.lastTs;
    if (d > 0) this.intervals[this.intervalCount++] = d;
    if (this.intervalCount < PERIOD_SAMPLES) return;
    const median = Float64Array.from(this.intervals).sort()[PERIOD_SAMPLES >> 1] as number;
    const slots = Math.min(this.p.maxSlotsPerDay, Math.round(DAY_MS / median));
    if (slots >= 8) {
      this.slots = slots;
      this.day = new Float64Array(slots).fill(Number.NaN);
      this.week = new Float64Array(7 * slots).fill(Number.NaN);
    }
  }

  update(x: number, ts: number): number {
    const p = this.p;
    const n = this.n++;
    if (n > 0 && this.intervalCount < PERIOD_SAMPLES) this.learnPeriod(ts);
    this.lastTs = ts;
    if (n === 0) {
      this.prev = x;
      this.level = x;
      this.min = x;
      this.max = x;
      return 0;
    }
    const range = Math.max(this.max - this.min, Math.abs(this.max) * 1e-6, 1e-12);
    const floor = range * 1e-3; // keeps z finite on flat signals

    let m = 2;
    let s = Math.max(this.surprise(LAST, x - this.prev, floor), this.surprise(LEVEL, x - this.level, floor));
    let daySlot = -1;
    let weekSlot = -1;
    if (this.day !== undefined && this.week !== undefined) {
      daySlot = Math.floor(((((ts % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS) * this.slots);
      weekSlot = Math.floor(((((ts % WEEK_MS) + WEEK_MS) % WEEK_MS) / DAY_MS) * this.slots);
      const dv = this.day[daySlot] as number;
      if (!Number.isNaN(dv)) {
        s = Math.max(s, this.surprise(DAY, x - dv, floor));
        m += 1;
      }
      const wv = this.week[weekSlot] as number;
      if (!Number.isNaN(wv)) {
        s = Math.max(s, this.surprise(WEEK, x - wv, floor));
        m += 1;
      }
    }
    s = Math.max(0, s - p.bonf * Math.log10(m));
    if (p.bandMargin > 0 && n > p.warmup) {
      // Outside the band this channel moved in before the last `bandLagMs`, by more than a
      // margin: a drift that the adaptive predictors followed is still caught once it
      // leaves the band it came from.
      const band = this.envelope.band(ts);
      if (band !== undefined) {
        const [lo, hi] = band;
        const width = Math.max(hi - lo, range * 1e-3, 1e-12);
        const excess = x > hi ? (x - hi) / width : x < lo ? (lo - x) / width : 0;
        if (excess > p.bandMargin) s = Math.max(s, p.bandEvidence + p.tailExp * Math.log10(excess / p.bandMargin));
      }
    }
    this.envelope.add(x, ts);
    if (p.stuck) s = Math.max(s, this.stuckSurprise(x === this.prev) - p.stuckPenalty);

    // Learn after scoring: the score for t uses only what came before t as predictions.
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.prev = x;
    this.level += p.levelAlpha * (x - this.level);
    if (this.day !== undefined && this.week !== undefined) {
      const dv = this.day[daySlot] as number;
      this.day[daySlot] = Number.isNaN(dv) ? x : dv + p.dayAlpha * (x - dv);
      const wv = this.week[weekSlot] as number;
      this.week[weekSlot] = Number.isNaN(wv) ? x : wv + p.weekAlpha * (x - wv);
    }

    // Fisher: -2 sum ln p ~ chi2(2W); with an even number of degrees of freedom the tail is
    // exp(-h) * sum_{k<W} h^k / k!, h = half the statistic.
    this.recentSum += s - (this.recent[this.recentAt] as number);
    this.recent[this.recentAt] = s;
    this.recentAt = (this.recentAt + 1) % p.shortW;
    const h = Math.max(0, this.recentSum) * Math.LN10;
    let term = 1;
    let acc = 1;
    for (let k = 1; k < p.shortW; k += 1) {
      term *= h / k;
      acc += term;
    }
    const fisher = (h - Math.log(acc)) / Math.LN10;
    const evidence = Math.max(s, p.fisherW * fisher);
    if (n < p.warmup) return 0;

    const score = evidenceScore(evidence);
    if (!p.suppress) return score;
    if (n - this.lastReport < p.refractory) {
      if (score > this.reported * p.gain) {
        this.reported = score;
        this.lastReport = n;
        return score;
      }
      return score * p.damp;
    }
    if (evidence >= p.recMin) {
      this.lastReport = n;
      this.reported = score;
    }
    return score;
  }
}
