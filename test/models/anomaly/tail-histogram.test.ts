import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TailHistogram } from '../../../models/anomaly/streaming/tail-histogram.js';

/**
 * The reference: TailHistogram as it was before the Fenwick tree (a loop over the bins above z
 * per query), kept verbatim but for one counter of renormalisations, so the tests can show they
 * crossed one.
 */
const BINS_PER_DECADE = 8;
const Z_MIN = 1e-3;
const BINS = 6 * BINS_PER_DECADE + 1;

class ReferenceTailHistogram {
  private readonly h = new Float64Array(BINS);
  private w = 1;
  private total = 0;
  private readonly growth: number;
  private top = -1;
  renormalisations = 0;

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

  surprise(z: number): number {
    if (this.total <= 0) return 0;
    const b = this.bin(z);
    if (b > this.top) {
      const edge = Z_MIN * 10 ** (this.top / BINS_PER_DECADE);
      return -Math.log10((0.5 * this.w) / (this.total + this.w)) + this.paretoExponent * Math.log10(Math.max(1, z / edge));
    }
    let above = 0;
    for (let i = BINS - 1; i > b; i -= 1) above += this.h[i] as number;
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
      this.renormalisations += 1;
    }
  }
}

const TOLERANCE = 1e-9;
/**
 * Below this surprise the share p = 10^-surprise is within 0.23% of 1, and -log10 turns the
 * last bits of a sum near 1 (the bins added up in one order or the other, against a running
 * total) into a large relative difference: at forgetting 1e-5 the bottom bin answers ~2.5e-6
 * in both, apart by ~6e-15 (~1e-14 relative in p; the reference is no more exact than that).
 * There the answers must agree to SMALL_ABSOLUTE instead (2.3e-12 relative in p).
 */
const SMALL_SURPRISE = 1e-3;
const SMALL_ABSOLUTE = 1e-12;

/** Agreement to 1e-9 relative (absolute 1e-12 below a surprise of 1e-3); two zeros (nothing seen yet, or a share clamped to 1) agree exactly. */
function differs(actual: number, expected: number): boolean {
  if (!Number.isFinite(actual)) return true;
  if (expected === 0) return actual !== 0;
  const d = Math.abs(actual - expected);
  return expected < SMALL_SURPRISE ? d > SMALL_ABSOLUTE : d / Math.abs(expected) > TOLERANCE;
}

function expectClose(actual: number, expected: number, context: string): void {
  if (differs(actual, expected)) expect.fail(`${context}: ${actual} vs the reference's ${expected}`);
}

/** z log-uniform over 1e-5..1e5, plus the exact bin edges (where the interpolation and the bin index switch). */
const z = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }).map((e) => 10 ** e) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: BINS }).map((k) => Z_MIN * 10 ** (k / BINS_PER_DECADE)) },
);
/** Adds and queries; runs of adds so that long sequences stay cheap to generate. */
const op = fc.oneof(fc.record({ add: z }), fc.record({ query: z }), fc.record({ addMany: fc.array(z, { minLength: 1, maxLength: 50 }) }));

/** Plays the ops on both and compares every answer; each query is also asked after each add. */
function play(forgetting: number, paretoExponent: number, ops: readonly ({ add: number } | { query: number } | { addMany: number[] })[]): ReferenceTailHistogram {
  const ours = new TailHistogram(forgetting, paretoExponent);
  const ref = new ReferenceTailHistogram(forgetting, paretoExponent);
  let step = 0;
  const compare = (q: number): void => expectClose(ours.surprise(q), ref.surprise(q), `step ${step}, z ${q}, forgetting ${forgetting}`);
  for (const o of ops) {
    step += 1;
    if ('query' in o) compare(o.query);
    else {
      for (const v of 'add' in o ? [o.add] : o.addMany) {
        ours.add(v);
        ref.add(v);
        compare(v);
      }
    }
  }
  return ref;
}

describe('tail histogram (Fenwick tree over the bins)', () => {
  it('answers like the loop over the bins, for forgetting in [1e-5, 0.1] and z over 1e-5..1e5 (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-5, max: 0.1, noNaN: true }), fc.double({ min: 0, max: 4, noNaN: true }), fc.array(op, { maxLength: 120 }), (forgetting, paretoExponent, ops) => {
        play(forgetting, paretoExponent, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('still answers like the loop after renormalisations (weights past 1e100, forced with a large forgetting) (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.3, max: 0.9, noNaN: true }),
        fc.double({ min: 0, max: 4, noNaN: true }),
        fc.array(fc.record({ addMany: fc.array(z, { minLength: 40, maxLength: 50 }) }), { minLength: 20, maxLength: 30 }),
        fc.array(op, { maxLength: 60 }),
        (forgetting, paretoExponent, adds, ops) => {
          // At least 800 adds; a renormalisation comes every 100 / -log10(1 - forgetting) <= 644 of them.
          const ref = play(forgetting, paretoExponent, [...adds, ...ops]);
          expect(ref.renormalisations).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('still answers like the loop across many renormalisations at the largest forgetting of the range (0.1)', () => {
    const values = fc.sample(z, { numRuns: 20_000, seed: 7 });
    const ref = play(0.1, 2, [{ addMany: values }, ...values.slice(0, 200).map((q) => ({ query: q }))]);
    expect(ref.renormalisations).toBeGreaterThanOrEqual(9); // one per ~2186 values
  });

  it('agrees where the share is within 1e-5 of 1: bottom bins after a long run at forgetting 1e-5', () => {
    const ours = new TailHistogram(0.00001, 2);
    const ref = new ReferenceTailHistogram(0.00001, 2);
    const values = fc.sample(z, { numRuns: 200_000, seed: 13 });
    const low = fc.sample(fc.double({ min: -5, max: -2.5, noNaN: true }).map((e) => 10 ** e), { numRuns: 64, seed: 14 });
    let worstSmall = 0;
    let failures = 0;
    for (let i = 0; i < values.length; i += 1) {
      ours.add(values[i] as number);
      ref.add(values[i] as number);
      const q = low[i % low.length] as number;
      const a = ours.surprise(q);
      const b = ref.surprise(q);
      if (differs(a, b)) failures += 1;
      if (b < SMALL_SURPRISE) worstSmall = Math.max(worstSmall, Math.abs(a - b));
    }
    expect(failures).toBe(0);
    expect(ref.surprise(1e-4)).toBeLessThan(1e-5); // the regime this test is about was reached
    expect(worstSmall).toBeLessThan(SMALL_ABSOLUTE);
  });

  it('before any value, and at the detector\'s own forgetting (3e-5) over a long run', () => {
    expect(new TailHistogram(0.01, 2).surprise(1)).toBe(0);
    const values = fc.sample(fc.double({ min: -1, max: 1.5, noNaN: true }).map((e) => 10 ** e), { numRuns: 50_000, seed: 11 });
    play(0.00003, 2, [{ addMany: values }, ...fc.sample(z, { numRuns: 500, seed: 12 }).map((q) => ({ query: q }))]);
  });

  it('observe(z) is surprise(z) then add(z), exactly (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -6, max: 6, noNaN: true }).map((e) => 10 ** e), { minLength: 1, maxLength: 300 }), fc.double({ min: 1e-5, max: 0.1, noNaN: true }), (zs, forgetting) => {
        const a = new TailHistogram(forgetting, 2);
        const b = new TailHistogram(forgetting, 2);
        for (const v of zs) {
          const expected = b.surprise(v);
          b.add(v);
          expect(a.observe(v)).toBe(expected);
        }
      }),
      { numRuns: 100 },
    );
  });
});
