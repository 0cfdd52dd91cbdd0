/**
 * How surprising is a value z, given the values seen before? An exponentially forgetting
 * histogram of z on a log scale answers with -log10 of the share of past values at or above
 * z. Beyond the largest value ever seen it extrapolates a Pareto tail, so "bigger than
 * anything before" still ranks by how much bigger instead of all landing on one top score.
 *
 * Memory: 49 bins (8 per decade over z in [1e-3, 1e3]) and a Fenwick tree over them.
 * Time: O(log bins) per query and per value (at most 6 tree nodes each), O(bins) once per
 * renormalisation, which comes every ln(1e100) / -ln(1 - forgetting) values.
 */
const BINS_PER_DECADE = 8;
const Z_MIN = 1e-3;
const BINS = 6 * BINS_PER_DECADE + 1;

export class TailHistogram {
  /** Weight per bin: the bin's own share, for the interpolation inside it. */
  private readonly h = new Float64Array(BINS);
  /**
   * Fenwick tree over the bins in reverse order (position j = BINS - bin, 1-based), so the
   * weight above a bin is a prefix sum: added up from positive parts, never a difference
   * of two large totals (no cancellation when the tail is a sliver of the total).
   */
  private readonly tree = new Float64Array(BINS + 1);
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

  /** log10(z / Z_MIN) * BINS_PER_DECADE: where z falls on the bins' scale (computed once per value). */
  private static position(z: number): number {
    return z <= Z_MIN ? 0 : Math.log10(z / Z_MIN) * BINS_PER_DECADE;
  }

  private static bin(position: number): number {
    if (position <= 0) return 0;
    const b = Math.floor(position) + 1;
    return b >= BINS ? BINS - 1 : b;
  }

  /** Total weight of the bins above b: BINS - 1 - b tree positions from the top end. */
  private above(b: number): number {
    let sum = 0;
    for (let j = BINS - 1 - b; j > 0; j -= j & -j) sum += this.tree[j] as number;
    return sum;
  }

  /** -log10 of the (smoothed) share of past values at or above `z`; 0 before any value. */
  surprise(z: number): number {
    return this.surpriseAt(z, TailHistogram.position(z));
  }

  add(z: number): void {
    this.addAt(TailHistogram.bin(TailHistogram.position(z)));
  }

  /** surprise(z), then add(z): what a streaming detector does with each value, with one logarithm less. */
  observe(z: number): number {
    const position = TailHistogram.position(z);
    const s = this.surpriseAt(z, position);
    this.addAt(TailHistogram.bin(position));
    return s;
  }

  private surpriseAt(z: number, position: number): number {
    if (this.total <= 0) return 0;
    const b = TailHistogram.bin(position);
    if (b > this.top) {
      const edge = Z_MIN * 10 ** (this.top / BINS_PER_DECADE);
      return -Math.log10((0.5 * this.w) / (this.total + this.w)) + this.paretoExponent * Math.log10(Math.max(1, z / edge));
    }
    const above = this.above(b);
    // Linear interpolation inside the bin.
    const within = b === 0 ? 0 : Math.min(1, Math.max(0, position - (b - 1)));
    const p = (above + (this.h[b] as number) * (1 - within) + 0.5 * this.w) / (this.total + this.w);
    return -Math.log10(Math.min(1, p));
  }

  private addAt(b: number): void {
    const w = this.w;
    this.h[b] = (this.h[b] as number) + w;
    for (let j = BINS - b; j <= BINS; j += j & -j) this.tree[j] = (this.tree[j] as number) + w;
    this.total += w;
    if (b > this.top) this.top = b;
    this.w *= this.growth;
    if (this.w > 1e100) {
      for (let i = 0; i < BINS; i += 1) this.h[i] = (this.h[i] as number) / this.w;
      this.total /= this.w;
      this.w = 1;
      this.rebuild();
    }
  }

  /** The tree from the bins again, in O(bins): after a renormalisation, so its rounding never drifts from them. */
  private rebuild(): void {
    for (let j = 1; j <= BINS; j += 1) this.tree[j] = this.h[BINS - j] as number;
    for (let j = 1; j <= BINS; j += 1) {
      const parent = j + (j & -j);
      if (parent <= BINS) this.tree[parent] = (this.tree[parent] as number) + (this.tree[j] as number);
    }
  }
}
