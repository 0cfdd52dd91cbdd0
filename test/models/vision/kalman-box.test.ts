import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KalmanBox } from '../../../models/vision/kalman-box.js';

/** A deterministic jitter in -1..1 px (a detector's boxes are never exact). */
const jitter = (i: number, k: number): number => Math.sin(i * 12.9898 + k * 78.233) % 1;

describe('Kalman filter on a box', () => {
  it('learns a steady motion from jittered boxes and predicts the box a frame and a second ahead', () => {
    // 80 x 60 px box moving at (150, -40) px/s, seen at 10 frames/s with about 1 px of jitter.
    const at = (t: number) => ({ x: 100 + 150 * t, y: 300 - 40 * t, w: 80, h: 60 });
    const k = new KalmanBox(at(0));
    for (let i = 1; i <= 20; i += 1) {
      const b = at(i / 10);
      k.update({ x: b.x + jitter(i, 0), y: b.y + jitter(i, 1), w: b.w + jitter(i, 2), h: b.h + jitter(i, 3) }, 0.1);
    }
    expect(k.velocity.x).toBeCloseTo(150, -1); // within 5 px/s
    expect(k.velocity.y).toBeCloseTo(-40, -1);
    for (const ahead of [0.1, 1]) {
      const p = k.predict(ahead);
      const truth = at(2 + ahead);
      expect(Math.abs(p.box.x - truth.x)).toBeLessThan(ahead < 1 ? 2 : 8);
      expect(Math.abs(p.box.y - truth.y)).toBeLessThan(ahead < 1 ? 2 : 8);
      expect(Math.abs(p.box.w - 80)).toBeLessThan(ahead < 1 ? 2 : 4); // the size drifts a little on its jitter
    }
    // The further ahead, the less sure.
    expect(k.predict(1).varX).toBeGreaterThan(k.predict(0.1).varX);
  });

  it('follows a belt that stops: the velocity falls to nothing within a few frames', () => {
    const k = new KalmanBox({ x: 0, y: 0, w: 60, h: 60 });
    for (let i = 1; i <= 10; i += 1) k.update({ x: 16 * i, y: 0, w: 60, h: 60 }, 0.1); // 160 px/s
    for (let i = 0; i < 5; i += 1) k.update({ x: 160, y: 0, w: 60, h: 60 }, 0.1);
    expect(Math.abs(k.velocity.x)).toBeLessThan(30);
    expect(Math.abs(k.predict(0.1).box.x - 160)).toBeLessThan(4);
  });

  it('predicts without changing its state, and never gives a NaN, a negative variance or an empty box (property)', () => {
    const box = fc.record({ x: fc.double({ min: -1e4, max: 1e4, noNaN: true }), y: fc.double({ min: -1e4, max: 1e4, noNaN: true }), w: fc.double({ min: 0, max: 4000, noNaN: true }), h: fc.double({ min: 0, max: 4000, noNaN: true }) });
    fc.assert(
      fc.property(box, fc.array(fc.tuple(box, fc.double({ min: -1, max: 30, noNaN: true })), { maxLength: 30 }), (first, steps) => {
        const k = new KalmanBox(first);
        for (const [b, dt] of steps) {
          const before = k.predict(dt);
          expect(k.predict(dt)).toEqual(before);
          k.update(b, dt);
        }
        const p = k.predict(0.5);
        for (const v of [p.box.x, p.box.y, p.box.w, p.box.h, p.varX, p.varY]) expect(Number.isFinite(v)).toBe(true);
        expect(p.varX).toBeGreaterThan(0);
        expect(p.box.w).toBeGreaterThanOrEqual(1);
        expect(p.box.h).toBeGreaterThanOrEqual(1);
      }),
    );
  });
});
