import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { regionAround } from '../../../models/eval/thumbnail.js';

describe('the region a mistake is shown in', () => {
  it('shows a 10 px defect on a 640 px board in a 96 px region around it, not the whole board', () => {
    const r = regionAround({ width: 640, height: 640 }, { x: 300, y: 300, w: 10, h: 10 });
    expect(r).toEqual({ x: 257, y: 257, w: 96, h: 96 });
  });

  it('property: inside the image, holding the whole focus box (when it fits) and never smaller than it needs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (W, H, a, b, c, d) => {
        const x = a * W;
        const y = b * H;
        const focus = { x, y, w: c * (W - x), h: d * (H - y) };
        const r = regionAround({ width: W, height: H }, focus);
        expect(r.x).toBeGreaterThanOrEqual(0);
        expect(r.y).toBeGreaterThanOrEqual(0);
        expect(r.w).toBeGreaterThanOrEqual(1);
        expect(r.h).toBeGreaterThanOrEqual(1);
        expect(r.x + r.w).toBeLessThanOrEqual(W);
        expect(r.y + r.h).toBeLessThanOrEqual(H);
        expect(Number.isInteger(r.x) && Number.isInteger(r.y) && Number.isInteger(r.w) && Number.isInteger(r.h)).toBe(true);
        if (4 * Math.max(focus.w, focus.h) <= Math.min(W, H) - 2) {
          expect(r.x).toBeLessThanOrEqual(focus.x + 1e-9);
          expect(r.y).toBeLessThanOrEqual(focus.y + 1e-9);
          expect(r.x + r.w).toBeGreaterThanOrEqual(focus.x + focus.w - 1e-9);
          expect(r.y + r.h).toBeGreaterThanOrEqual(focus.y + focus.h - 1e-9);
        }
      }),
    );
  });
});
