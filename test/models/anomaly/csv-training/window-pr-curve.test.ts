import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowPrCurve } from '../../../../models/anomaly/csv-training/window-pr-curve.js';

/** AP by its definition: the mean over the positives of the best precision at their recall or beyond. */
function naiveAp(scores: readonly number[], labels: readonly number[]): number {
  const ranked = scores.map((s, i) => ({ s, y: labels[i] as number })).sort((a, b) => b.s - a.s);
  const positives = labels.filter((y) => y === 1).length;
  // Precision at each distinct threshold (ties pass together), with its recall.
  const points: { r: number; p: number }[] = [];
  let tp = 0;
  ranked.forEach((x, k) => {
    tp += x.y;
    if (k === ranked.length - 1 || (ranked[k + 1] as { s: number }).s !== x.s) points.push({ r: tp / positives, p: tp / (k + 1) });
  });
  let ap = 0;
  let previous = 0;
  for (const q of points) {
    ap += (q.r - previous) * Math.max(...points.filter((o) => o.r >= q.r).map((o) => o.p));
    previous = q.r;
  }
  return ap;
}

const windows = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }).map((x) => x / 30), fc.constantFrom(0, 1)), { minLength: 1, maxLength: 400 });

describe('windowPrCurve (the anomaly report\'s precision-recall curve)', () => {
  it('property: its AP is the all-point AP; the curve is bounded, recall rises to 1 and precision never rises', () => {
    fc.assert(
      fc.property(windows, fc.integer({ min: 2, max: 50 }), (w, maxPoints) => {
        const scores = w.map(([s]) => s);
        const labels = w.map(([, y]) => y);
        const { curve, ap } = windowPrCurve(scores, labels, maxPoints);
        if (!labels.includes(1)) {
          expect({ curve, ap }).toEqual({ curve: [], ap: null });
          return;
        }
        expect(ap).toBeCloseTo(naiveAp(scores, labels), 9);
        expect(curve.length).toBeLessThanOrEqual(maxPoints);
        expect(curve.at(-1)?.recall).toBe(1);
        for (let k = 1; k < curve.length; k += 1) {
          expect((curve[k] as { recall: number }).recall).toBeGreaterThan((curve[k - 1] as { recall: number }).recall);
          expect((curve[k] as { precision: number }).precision).toBeLessThanOrEqual((curve[k - 1] as { precision: number }).precision);
        }
      }),
    );
  });

  it('a perfect ranking has AP 1 and a NaN score ranks lowest', () => {
    expect(windowPrCurve([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]).ap).toBe(1);
    expect(windowPrCurve([Number.NaN, 0.5], [1, 0]).ap).toBe(0.5);
  });
});
