/**
 * The range a channel moved in before the last `lagMs`: the "normal band" a slow drift
 * leaves (an adaptive predictor follows a drift; this band does not, for `lagMs`). Values
 * are grouped in blocks of `blockMs`; block extremes older than the lag enter two monotonic
 * deques (sliding maximum and minimum) and leave after `windowMs` (Infinity: never). The
 * band is given only once the history behind it spans `minHistoryMs`. Amortised O(1) per
 * point; memory bounded by lagMs / blockMs blocks plus the deques (which only hold blocks
 * that are still extremes).
 */
export class LaggedEnvelope {
  private blockStart = Number.NaN;
  private blockMin = Infinity;
  private blockMax = -Infinity;
  /** Closed blocks waiting for the lag to pass: [start, min, max]. */
  private readonly waiting: [number, number, number][] = [];
  private readonly maxq: [number, number][] = [];
  private readonly minq: [number, number][] = [];

  private firstAdmitted = Number.NaN;
  private lastAdmitted = Number.NaN;

  constructor(
    private readonly blockMs: number,
    private readonly lagMs: number,
    private readonly windowMs: number,
    private readonly minHistoryMs: number,
  ) {}

  /** The band [min, max] as of `ts`, or undefined while too little history has aged. */
  band(ts: number): [number, number] | undefined {
    this.age(ts);
    const hi = this.maxq[0];
    const lo = this.minq[0];
    if (hi === undefined || lo === undefined || !(this.lastAdmitted - this.firstAdmitted >= this.minHistoryMs)) return undefined;
    return [lo[1], hi[1]];
  }

  add(x: number, ts: number): void {
    if (Number.isNaN(this.blockStart) || ts - this.blockStart >= this.blockMs || ts < this.blockStart) {
      if (!Number.isNaN(this.blockStart)) {
        this.waiting.push([this.blockStart, this.blockMin, this.blockMax]);
        if (this.waiting.length > Math.ceil(this.lagMs / this.blockMs) + 2) this.admit(this.waiting.shift() as [number, number, number]);
      }
      this.blockStart = ts;
      this.blockMin = x;
      this.blockMax = x;
    } else {
      if (x < this.blockMin) this.blockMin = x;
      if (x > this.blockMax) this.blockMax = x;
    }
  }

  private age(ts: number): void {
    while (this.waiting.length > 0 && ts - (this.waiting[0] as [number, number, number])[0] >= this.lagMs) this.admit(this.waiting.shift() as [number, number, number]);
    while (this.maxq.length > 0 && ts - (this.maxq[0] as [number, number])[0] > this.windowMs) this.maxq.shift();
    while (this.minq.length > 0 && ts - (this.minq[0] as [number, number])[0] > this.windowMs) this.minq.shift();
  }

  private admit([start, min, max]: [number, number, number]): void {
    if (Number.isNaN(this.firstAdmitted)) this.firstAdmitted = start;
    this.lastAdmitted = start;
    while (this.maxq.length > 0 && (this.maxq[this.maxq.length - 1] as [number, number])[1] <= max) this.maxq.pop();
    this.maxq.push([start, max]);
    while (this.minq.length > 0 && (this.minq[this.minq.length - 1] as [number, number])[1] >= min) this.minq.pop();
    this.minq.push([start, min]);
  }
}
