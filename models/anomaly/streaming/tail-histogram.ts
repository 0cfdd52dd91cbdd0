/**
 * How surprising is a value z, given the values seen before? An exponentially forgetting
 * histogram of z on a log scale answers with -log10 of the share of past values at or above
 * z. Beyond the largest value ever seen it extrapolates a Pareto tail, so "bigger than
 * anything before" still ranks by how much bigger instead of all landing on one top score.
 *
 * Memory: 49 bins (8 per decade over z in [1e-3, 1e3]). Time: O(bins) per query.
 */
const BINS_PER_DECADE = 8;
const Z_MIN = 1e-3;
const BINS = 6 * BINS_PER_DECADE + 1;

export class TailHistogram {
  private readonly h = new Float64Array(BINS);
  /** Weight of the next sample: it grows instead of every bin decaying (same ratios, O(1)). */
  private w = 1;
  private total = 0;
  private readonly growth: number;
  private top = -1;

  constructor(
    forgetting: number,
    private readonly paretoExponent: number,
  ) {
    this.growth = 1 / (1 - forgetting);
  }

  private bin(z: number): number {
    if (z <= Z_MIN) return 0;
    const b = Math.floor(Math.log10(z / Z_MIN) * BINS_PER_DECADE) + 1;
    return b >= BINS ? BINS - 1 : b;
  }

  /** -log10 of the (smoothed) share of past values at or above `z`; 0 before any value. */
  surprise(z: number): number {
    if (this.total <= 0) return 0;
    const b = this.bin(z);
    if (b > this.top) {
      const edge = Z_MIN * 10 ** (this.top / BINS_PER_DECADE);
      return -Math.log10((0.5 * this.w) / (this.total + this.w)) + this.paretoExponent * Math.log10(Math.max(1, z / edge));
    }
    let above = 0;
    for (let i = BINS - 1; i > b; i -= 1) above += this.h[i] as number;
    // Linear interpolation inside the bin.
    const within = b === 0 ? 0 : Math.min(1, Math.max(0, Math.log10(z / Z_MIN) * BINS_PER_DECADE - (b - 1)));
    const p = (above + (this.h[b] as number) * (1 - within) + 0.5 * this.w) / (this.total + this.w);
    return -Math.log10(Math.min(1, p));
  }

  add(z: number): void {
    const b = this.bin(z);
    this.h[b] = (this.h[b] as number) + this.w;
    this.total += this.w;
    if (b > this.top) this.top = b;
    this.w *= this.growth;
    if (this.w > 1e100) {
      for (let i = 0; i < BINS; i += 1) this.h[i] = (this.h[i] as number) / this.w;
      this.total /= this.w;
      this.w = 1;
    }
  }
}
