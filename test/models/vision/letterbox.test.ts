import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { letterbox, toInput, toSource } from '../../../models/vision/letterbox.js';

describe('letterbox', () => {
  it('maps source boxes to model input and back within one pixel (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 3840 }),
        fc.integer({ min: 16, max: 2160 }),
        fc.constantFrom([320, 320], [640, 640], [320, 192], [224, 224], [416, 256]),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (sw, sh, [dw, dh], fx, fy, fw, fh) => {
          const l = letterbox(sw, sh, dw as number, dh as number);
          const box = { x: fx * sw * 0.9, y: fy * sh * 0.9, w: fw * sw * 0.1 + 1, h: fh * sh * 0.1 + 1 };
          const clipped = { ...box, w: Math.min(box.w, sw - box.x), h: Math.min(box.h, sh - box.y) };
          const back = toSource(l, toInput(l, clipped));
          expect(Math.abs(back.x - clipped.x)).toBeLessThanOrEqual(1);
          expect(Math.abs(back.y - clipped.y)).toBeLessThanOrEqual(1);
          expect(Math.abs(back.x + back.w - (clipped.x + clipped.w))).toBeLessThanOrEqual(1);
          expect(Math.abs(back.y + back.h - (clipped.y + clipped.h))).toBeLessThanOrEqual(1);
          // The image fits inside the input, centred.
          expect(l.padX * 2 + l.innerWidth).toBeLessThanOrEqual((dw as number) + 1);
          expect(l.padY * 2 + l.innerHeight).toBeLessThanOrEqual((dh as number) + 1);
        },
      ),
    );
  });

  it('pads the short side: 1280x720 into 640x640 is scaled by 0.5 with 140 px above and below', () => {
    const l = letterbox(1280, 720, 640, 640);
    expect(l).toMatchObject({ scale: 0.5, padX: 0, padY: 140, innerWidth: 640, innerHeight: 360 });
    expect(toSource(l, { x: 100, y: 150, w: 50, h: 20 })).toEqual({ x: 200, y: 20, w: 100, h: 40 });
    // Boxes reaching into the padding are clipped to the frame.
    expect(toSource(l, { x: -10, y: 100, w: 30, h: 60 })).toEqual({ x: 0, y: 0, w: 40, h: 40 });
  });
});
