import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balancedEpoch, viewKeys } from '../../../../models/vision/image-classifier/balanced-epoch.js';
import { seededRandom } from '../../../../models/train/random.js';

/** Classes of 1..40 images each, numbered 0..n-1 across classes. */
const classes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 6 }).map((sizes) => {
  let next = 0;
  return sizes.map((n) => Array.from({ length: n }, () => next++));
});

describe('class-balanced epochs', () => {
  it('every class as often as the largest, every image at least once, in a seeded order', () => {
    fc.assert(
      fc.property(classes, fc.integer(), (byClass, seed) => {
        const rows = balancedEpoch(byClass, seededRandom(seed));
        const most = Math.max(...byClass.map((c) => c.length));
        expect(rows).toHaveLength(most * byClass.length);
        byClass.forEach((members) => {
          const set = new Set(members);
          expect(rows.filter((r) => set.has(r))).toHaveLength(most);
          for (const m of members) expect(rows).toContain(m);
        });
        expect(balancedEpoch(byClass, seededRandom(seed))).toEqual(rows);
      }),
    );
  });

  it('a repeat of an image within an epoch takes another view, and each epoch starts at another', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 8 }), (rows, epoch, views) => {
        const keys = viewKeys(rows, epoch, views);
        expect(keys.map((k) => k.image)).toEqual(rows);
        for (const image of new Set(rows)) {
          const seen = keys.filter((k) => k.image === image).map((k) => k.view);
          expect(seen.every((v) => v >= 0 && v < views)).toBe(true);
          expect(seen[0]).toBe(epoch % views);
          expect(new Set(seen).size).toBe(Math.min(seen.length, views));
        }
      }),
    );
  });
});
