import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rocAuc } from '../../../models/anomaly/roc-auc.js';

/** The definition, pair by pair: the share of (anomalous, normal) pairs the scores order right, ties half. */
function pairwise(scores: readonly number[], labels: readonly number[]): number | null {
  let good = 0;
  let pairs = 0;
  scores.forEach((p, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((q, j) => {
      if (labels[j] !== 0) return;
      pairs += 1;
      good += p > q ? 1 : p === q ? 0.5 : 0;
    });
  });
  return pairs === 0 ? null : good / pairs;
}

const labelled = fc
  .array(fc.tuple(fc.integer({ min: -20, max: 20 }).map((x) => x / 4), fc.constantFrom(0, 1)), { minLength: 1, maxLength: 60 })
  .map((xs) => ({ scores: xs.map((x) => x[0]), labels: xs.map((x) => x[1]) }));

describe('ROC AUC', () => {
  it('equals the pairwise definition, ties (frequent here) counting half', () => {
    fc.assert(
      fc.property(labelled, ({ scores, labels }) => {
        const auc = rocAuc(scores, labels);
        const want = pairwise(scores, labels);
        if (want === null) expect(auc).toBeNull();
        else expect(auc).toBeCloseTo(want, 9);
      }),
    );
  });

  it('does not change under an increasing transform of the scores, and flips under a decreasing one', () => {
    fc.assert(
      fc.property(labelled, ({ scores, labels }) => {
        const auc = rocAuc(scores, labels);
        if (auc === null) return;
        expect(rocAuc(scores.map((s) => Math.exp(s) * 3 + 1), labels)).toBeCloseTo(auc, 9);
        expect(rocAuc(scores.map((s) => -s), labels)).toBeCloseTo(1 - auc, 9);
      }),
    );
  });

  it('is 1 for a perfect ranking, 0.5 for a constant score, and ranks NaN lowest', () => {
    expect(rocAuc([0.1, 0.2, 0.9, 0.95], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([3, 3, 3, 3], [0, 1, 0, 1])).toBe(0.5);
    expect(rocAuc([Number.NaN, 0.1, 0.5], [1, 0, 0])).toBe(0);
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNull();
  });
});
