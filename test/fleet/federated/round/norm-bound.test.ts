import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorFeedback, dequantizeUpdate, type TensorLayout } from '../../../../fleet/protocol/federated/index.js';
import { checkUpdateContent, normTolerance } from '../../../../fleet/federated/round/index.js';
import { l2Norm } from '../../../../fleet/federated/strategies/index.js';
import { seededRandom } from '../../../../models/train/random.js';
import { autoencoderLayout, delta, elements, flatQuantized, rawUpdate, SMALL_LAYOUT } from './fixtures.js';

const layoutArb: fc.Arbitrary<TensorLayout[]> = fc
  .array(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 4 })
  .map((shapes) => shapes.map((shape, i) => ({ name: `t${i}`, shape })));

/** Deltas as training makes them and worse: mostly small, some spikes, some exact zeros. */
const valueArb = fc.oneof({ weight: 6, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }) }, { weight: 1, arbitrary: fc.double({ min: -1e4, max: 1e4, noNaN: true }) }, { weight: 1, arbitrary: fc.constant(0) });

describe('the norm bound on an update', () => {
  it('never refuses an update made by the protocol: clipped to C, then int8 or top-k (property)', () => {
    fc.assert(
      fc.property(
        layoutArb.chain((layout) => fc.tuple(fc.constant(layout), fc.array(fc.array(valueArb, { minLength: 1600, maxLength: 1600 }), { minLength: 1, maxLength: 3 }))),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 1, noNaN: true })),
        fc.nat(),
        ([layout, rounds], clipNorm, density, seed) => {
          const ef = new ErrorFeedback(layout);
          const random = seededRandom(seed);
          for (const values of rounds) {
            const d = delta(layout, (k, j) => (values[(k * 97 + j) % values.length] as number) * clipNorm);
            const tensors = ef.compress(d, random, { density, clipNorm });
            const check = checkUpdateContent(rawUpdate('gw-1', 1, tensors), layout, clipNorm);
            expect(check.ok ? 'ok' : check.reason).toBe('ok');
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('holds for the worst rounding an honest autoencoder update can get, and says how loose it is (measured)', () => {
    const layout = autoencoderLayout();
    const C = 1;
    const roundUp = (): number => 0; // every value with a fraction rounds up a whole step
    const measure = (fill: (k: number, j: number) => number, random: () => number, density = 1): number => {
      const tensors = new ErrorFeedback(layout).compress(delta(layout, fill), random, { clipNorm: C, density });
      expect(checkUpdateContent(rawUpdate('gw-1', 1, tensors), layout, C).ok).toBe(true);
      return l2Norm(dequantizeUpdate(tensors).map((t) => t.values)) / C;
    };
    // One spike per tensor sets the scale; every other value sits just above k steps of it,
    // so rounding up adds almost a whole step to each. k = 2 is the worst for 3,072 values.
    const worst = Math.max(
      ...[0, 1, 2, 3, 4].map((k) => measure((t, j) => (j === 0 ? 127 : k + 1e-3) * (t === 0 ? 1 : 1e-3), roundUp)),
    );
    // What training makes: a smooth delta, already within the clip, and one far over it.
    const gaussianish = (seed: number) => {
      const r = seededRandom(seed);
      return () => (r() + r() + r() - 1.5) * 0.01;
    };
    const g = gaussianish(3);
    const smooth = measure(() => g(), seededRandom(5));
    const g2 = gaussianish(4);
    const large = measure(() => g2() * 1000, seededRandom(6));
    const topK = measure(() => g2() * 1000, seededRandom(7), 0.25);
    const tolerance = normTolerance(3072);
    expect(tolerance).toBeCloseTo(1.4364, 4);
    expect(normTolerance(768)).toBeCloseTo(1.2182, 4);
    expect(worst).toBeGreaterThan(1.2);
    expect(worst).toBeLessThan(tolerance);
    expect(large).toBeLessThan(1.01);
    expect(smooth).toBeLessThan(1);
    console.log(JSON.stringify({ bench: 'federated-norm-bound', tolerance, worstHonestRatio: worst, clippedGaussianRatio: large, topKRatio: topK, smoothRatio: smooth }));
  });

  it('refuses an update just over C x tolerance and takes one just under it', () => {
    const n = elements(SMALL_LAYOUT[0] as TensorLayout);
    const tolerance = normTolerance(n);
    const C = 2;
    // 127 x scale in every one of the 8 values: norm 127 x scale x sqrt(8).
    const scaleFor = (ratio: number): number => Math.fround((C * tolerance * ratio) / (127 * Math.sqrt(8)));
    const over = checkUpdateContent(rawUpdate('gw-1', 1, flatQuantized(SMALL_LAYOUT, 127, scaleFor(1.0001))), SMALL_LAYOUT, C);
    expect(over).toMatchObject({ ok: false, reason: 'norm-over-bound' });
    expect(over.ok ? '' : over.detail).toMatch(/^L2 norm [\d.]+ is over [\d.]+ \(clip norm 2 x tolerance 1\.019\d+ for int8 rounding\)$/);
    expect(checkUpdateContent(rawUpdate('gw-1', 1, flatQuantized(SMALL_LAYOUT, 127, scaleFor(0.9999))), SMALL_LAYOUT, C).ok).toBe(true);
  });
});
