import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { softmax, topK } from '../../../models/vision/classify.js';

describe('classification output', () => {
  it('softmax sums to 1, keeps the order of the logits, and survives huge logits (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 50 }), (logits) => {
        const p = softmax(logits);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        const top = topK(logits, 3);
        expect(top[0]?.score).toBe(Math.max(...p));
        for (let i = 1; i < top.length; i += 1) expect((top[i] as { score: number }).score).toBeLessThanOrEqual((top[i - 1] as { score: number }).score);
      }),
    );
  });

  it('top-k of probabilities as they are', () => {
    expect(topK([0.1, 0.7, 0.2], 2, true)).toEqual([
      { classId: 1, score: 0.7 },
      { classId: 2, score: 0.2 },
    ]);
  });
});
