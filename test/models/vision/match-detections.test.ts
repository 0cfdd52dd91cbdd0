import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Box } from '../../../models/vision/geometry.js';
import { matchDetections } from '../../../models/vision/metrics.js';

interface Det {
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
}

const det = (x: number, score: number, classId = 0, w = 10): Det => ({ box: { x, y: 0, w, h: 10 }, score, classId });

/** Boxes on a small canvas (integer corners, positive size), so that many overlap. */
const box = fc.record({ x: fc.integer({ min: 0, max: 60 }), y: fc.integer({ min: 0, max: 60 }), w: fc.integer({ min: 1, max: 30 }), h: fc.integer({ min: 1, max: 30 }) });
const detection = fc.record({ box, score: fc.double({ min: 0, max: 1, noNaN: true }), classId: fc.integer({ min: 0, max: 2 }) });
const detections = fc.array(detection, { maxLength: 12 });

/** Detections whose scores are all distinct (from distinct integers). */
const distinct = (maxLength: number): fc.Arbitrary<Det[]> =>
  fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength }).chain((scores) =>
    fc.tuple(...scores.map(() => fc.record({ box, classId: fc.integer({ min: 0, max: 2 }) }))).map((ds) => ds.map((d, i) => ({ ...d, score: (scores[i] as number) / 10_000 }))),
  );

describe('matchDetections (a candidate detector against the active one, one frame)', () => {
  it('counts each side, and never matches more than the smaller side; same class only among matched', () => {
    fc.assert(
      fc.property(detections, detections, fc.double({ min: 0.05, max: 1, noNaN: true }), (a, c, t) => {
        const m = matchDetections(a, c, t);
        expect(m.active).toBe(a.length);
        expect(m.candidate).toBe(c.length);
        expect(m.matched).toBeLessThanOrEqual(Math.min(a.length, c.length));
        expect(m.sameClass).toBeLessThanOrEqual(m.matched);
      }),
    );
  });

  it('matches identical lists fully, every pair of the same class', () => {
    fc.assert(
      fc.property(detections, (a) => {
        expect(matchDetections(a, a.map((d) => ({ ...d })))).toEqual({ active: a.length, candidate: a.length, matched: a.length, sameClass: a.length });
      }),
    );
  });

  it('matches nothing between boxes that do not overlap', () => {
    fc.assert(
      fc.property(detections, detections, (a, c) => {
        // The candidate's boxes all lie right of every active box.
        const apart = c.map((d) => ({ ...d, box: { ...d.box, x: d.box.x + 100 } }));
        expect(matchDetections(a, apart)).toMatchObject({ matched: 0, sameClass: 0 });
      }),
    );
  });

  it('is one-to-one: a candidate that says everything twice matches each active detection once', () => {
    fc.assert(
      fc.property(detections, (a) => {
        const twice = [...a, ...a.map((d) => ({ ...d, score: d.score / 2 }))];
        const m = matchDetections(a, twice);
        expect(m.matched).toBe(a.length);
        expect(matchDetections(twice, a).matched).toBe(a.length);
        // One active box, many candidates on it: one match.
        if (a[0] !== undefined) expect(matchDetections([a[0]], twice.map((d) => ({ ...d, box: a[0]?.box as Box }))).matched).toBe(1);
      }),
    );
  });

  it('gives the same counts whatever the order of either list (distinct scores)', () => {
    fc.assert(
      fc.property(
        distinct(10).chain((a) => fc.tuple(fc.constant(a), fc.shuffledSubarray(a, { minLength: a.length, maxLength: a.length }))),
        distinct(10).chain((c) => fc.tuple(fc.constant(c), fc.shuffledSubarray(c, { minLength: c.length, maxLength: c.length }))),
        ([a, a2], [c, c2]) => {
          expect(matchDetections(a2, c2)).toEqual(matchDetections(a, c));
        },
      ),
    );
  });

  it('works out as by hand', () => {
    // A: the 0.7 box overlaps the first active box at IoU 90/110 (same class), the 0.6 box is
    // exactly the second (another class), the 0.5 box is nowhere.
    expect(matchDetections([det(0, 0.9, 0), det(20, 0.8, 1)], [det(1, 0.7, 0), det(20, 0.6, 0), det(50, 0.5, 1)])).toEqual({ active: 2, candidate: 3, matched: 2, sameClass: 1 });
    // Greedy, not optimal: the better-scored candidate (x=3) takes the active box of highest IoU
    // (x=5, 0.67; x=0 is 0.54), and the other (x=7) is left with x=0 (IoU 0.18): one match.
    const active = [det(0, 0.9), det(5, 0.8)];
    expect(matchDetections(active, [det(3, 0.9), det(7, 0.5)]).matched).toBe(1);
    // The other way round, x=7 goes first and takes x=5 (0.67), then x=3 takes x=0 (0.54): two.
    expect(matchDetections(active, [det(3, 0.5), det(7, 0.9)]).matched).toBe(2);
    // The threshold: 0.54 is below 0.6.
    expect(matchDetections([det(0, 0.9)], [det(3, 0.9)], 0.6).matched).toBe(0);
    expect(matchDetections([], [])).toEqual({ active: 0, candidate: 0, matched: 0, sameClass: 0 });
  });
});
