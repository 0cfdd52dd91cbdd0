import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClassificationAccumulator } from '../../../models/eval/classification-metrics.js';

describe('classification metrics', () => {
  it('gives accuracy, per-class precision and recall and the confusion matrix worked out by hand', () => {
    const acc = new ClassificationAccumulator(['ok', 'scratch', 'dent']);
    // Truth ok: ok, ok, scratch. Truth scratch: scratch, dent. Truth dent: none.
    expect(acc.add(0, [0.8, 0.1, 0.1])).toEqual({ predicted: 0, confidence: 0.8, trueConfidence: 0.8 });
    acc.add(0, [0.6, 0.3, 0.1]);
    expect(acc.add(0, [0.2, 0.7, 0.1])).toEqual({ predicted: 1, confidence: 0.7, trueConfidence: 0.2 });
    acc.add(1, [0.1, 0.5, 0.4]);
    acc.add(1, [0.1, 0.4, 0.5]);
    const m = acc.result();
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 0],
    ]);
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
    expect(m.balancedAccuracy).toBeCloseTo((2 / 3 + 1 / 2) / 2, 12);
    expect(m.classes[0]).toMatchObject({ support: 3, predicted: 2, precision: 1 });
    expect(m.classes[0]?.recall).toBeCloseTo(2 / 3, 12);
    expect(m.classes[1]).toMatchObject({ support: 2, predicted: 2, precision: 0.5, recall: 0.5, f1: 0.5 });
    // dent: predicted once, wrongly; never the truth.
    expect(m.classes[2]).toMatchObject({ support: 0, predicted: 1, precision: 0 });
    expect(m.classes[2]?.recall).toBeNaN();
    // One against the rest. ok: its three images ranked first, AP 1. scratch: ranked 0.7 (an ok
    // image), 0.5 and 0.4 (its own), then ok images: precision 1/2 at recall 1/2 and 2/3 at 1,
    // enveloped to 2/3 for both halves: AP 2/3. dent has no image: no AP.
    expect(m.classes[0]?.ap).toBeCloseTo(1, 12);
    expect(m.classes[1]?.ap).toBeCloseTo(2 / 3, 12);
    expect(m.classes[1]?.curve).toEqual([
      { recall: 0.5, precision: 2 / 3, score: 0.5 },
      { recall: 1, precision: 2 / 3, score: 0.4 },
    ]);
    expect(m.classes[2]?.ap).toBeNaN();
  });

  it('refuses probabilities that do not fit the classes', () => {
    const acc = new ClassificationAccumulator(['a', 'b']);
    expect(() => acc.add(0, [1])).toThrow(/1 probabilities for 2 classes/);
    expect(() => acc.add(2, [0.5, 0.5])).toThrow(/class id 2/);
  });

  it('property: the matrix holds every image once, its trace over the images is the accuracy', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 })), { minLength: 1, maxLength: 50 }), (rows) => {
        const acc = new ClassificationAccumulator(['a', 'b', 'c', 'd']);
        for (const [t, p] of rows) acc.add(t, p);
        const m = acc.result();
        const total = m.confusion.flat().reduce((s, v) => s + v, 0);
        expect(total).toBe(rows.length);
        expect(m.accuracy).toBeCloseTo(m.confusion.reduce((s, row, k) => s + (row[k] as number), 0) / rows.length, 12);
        for (const c of m.classes) {
          expect(c.support).toBe(rows.filter(([t]) => t === c.classId).length);
          if (!Number.isNaN(c.recall)) expect(c.recall).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
