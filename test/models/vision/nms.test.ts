import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { iou } from '../../../models/vision/geometry.js';
import { nms, type Detection } from '../../../models/vision/nms.js';

const detection = fc.record({
  box: fc.record({ x: fc.integer({ min: 0, max: 300 }), y: fc.integer({ min: 0, max: 300 }), w: fc.integer({ min: 1, max: 120 }), h: fc.integer({ min: 1, max: 120 }) }),
  score: fc.double({ min: 0, max: 1, noNaN: true }),
  classId: fc.integer({ min: 0, max: 2 }),
});

describe('class-wise NMS', () => {
  it('keeps no two boxes of one class above the IoU threshold, keeps only input boxes, and keeps the best of each class (property)', () => {
    fc.assert(
      fc.property(fc.array(detection, { maxLength: 60 }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), (dets: Detection[], threshold) => {
        const kept = nms(dets, threshold);
        for (const k of kept) expect(dets).toContain(k);
        for (let i = 0; i < kept.length; i += 1) {
          for (let j = i + 1; j < kept.length; j += 1) {
            const a = kept[i] as Detection;
            const b = kept[j] as Detection;
            if (a.classId === b.classId) expect(iou(a.box, b.box)).toBeLessThanOrEqual(threshold);
          }
        }
        for (const c of [0, 1, 2]) {
          const ofClass = dets.filter((d) => d.classId === c);
          if (ofClass.length > 0) expect(kept.some((k) => k.classId === c && k.score === Math.max(...ofClass.map((d) => d.score)))).toBe(true);
        }
        // Every dropped box overlaps a kept box of its class that scores at least as high.
        for (const d of dets) if (!kept.includes(d)) expect(kept.some((k) => k.classId === d.classId && k.score >= d.score && iou(k.box, d.box) > threshold)).toBe(true);
      }),
    );
  });

  it('keeps overlapping boxes of different classes', () => {
    const a = { box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.9, classId: 0 };
    const b = { box: { x: 1, y: 1, w: 10, h: 10 }, score: 0.8, classId: 1 };
    const c = { box: { x: 1, y: 0, w: 10, h: 10 }, score: 0.7, classId: 0 };
    expect(nms([c, b, a], 0.5)).toEqual([a, b]);
  });
});
