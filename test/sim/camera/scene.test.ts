import { describe, expect, it } from 'vitest';
import { ConveyorScene } from '../../../sim/camera/scene.js';
import { CameraSimError } from '../../../sim/camera/scene-options.js';
import type { ConveyorFrame } from '../../../sim/camera/types.js';
import { beltRows, boxesOverlap, brightOutside, diffStats, meanIn, ringMean, upperQuartileIn } from './luma-checks.js';

function frames(scene: ConveyorScene, count: number): ConveyorFrame[] {
  return Array.from({ length: count }, () => scene.next());
}

describe('ConveyorScene', () => {
  it('renders identical planes and truth for the same seed, and different ones for another seed', () => {
    const options = { width: 320, height: 180, fps: 15, seed: 42, stillShare: 0.3, stillPeriodS: 2 };
    const a = frames(new ConveyorScene(options), 40);
    const b = frames(new ConveyorScene(options), 40);
    for (let i = 0; i < a.length; i++) {
      expect(Buffer.compare(a[i]!.y, b[i]!.y)).toBe(0);
      expect(Buffer.compare(a[i]!.u, b[i]!.u)).toBe(0);
      expect(Buffer.compare(a[i]!.v, b[i]!.v)).toBe(0);
      expect(a[i]!.parts).toEqual(b[i]!.parts);
      expect(a[i]!.moving).toBe(b[i]!.moving);
    }
    const other = new ConveyorScene({ ...options, seed: 43 }).next();
    expect(Buffer.compare(other.y, a[0]!.y)).not.toBe(0);
  });

  it('hands out I420 planes of the right sizes that each frame owns', () => {
    const scene = new ConveyorScene({ width: 64, height: 36, fps: 10, seed: 1 });
    const first = scene.next();
    const copy = first.y.slice();
    const second = scene.next();
    expect(first.y.length).toBe(64 * 36);
    expect(first.u.length).toBe(32 * 18);
    expect(first.v.length).toBe(32 * 18);
    expect(Buffer.compare(first.y, copy)).toBe(0);
    expect(second.y.buffer).not.toBe(first.y.buffer);
    expect(second.timestampUs).toBe(100_000);
    expect(second.index).toBe(1);
  });

  it('refuses odd or tiny frame sizes and out-of-range shares with E_CAMERA_SIM_OPTIONS', () => {
    for (const bad of [
      { width: 321, height: 180 },
      { width: 8, height: 8 },
      { width: 320, height: 180, stillShare: 1.5 },
      { width: 320, height: 180, fps: 0 },
    ]) {
      const attempt = () => new ConveyorScene({ fps: 10, seed: 1, ...bad });
      expect(attempt).toThrow(CameraSimError);
      try {
        attempt();
      } catch (error) {
        expect((error as CameraSimError).code).toBe('E_CAMERA_SIM_OPTIONS');
      }
    }
  });

  it('lists only visible parts, boxed inside the frame, in id order, never overlapping', () => {
    const scene = new ConveyorScene({ width: 320, height: 180, fps: 10, seed: 7, partEveryS: 0.5 });
    let seen = 0;
    for (const frame of frames(scene, 300)) {
      const ids = frame.parts.map((p) => p.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      for (const [i, part] of frame.parts.entries()) {
        seen++;
        expect(part.visible).toBeGreaterThan(0);
        expect(part.visible).toBeLessThanOrEqual(1);
        expect(part.box.w).toBeGreaterThan(0);
        expect(part.box.h).toBeGreaterThan(0);
        expect(part.box.x).toBeGreaterThanOrEqual(0);
        expect(part.box.x + part.box.w).toBeLessThanOrEqual(320);
        for (const other of frame.parts.slice(i + 1)) expect(boxesOverlap(part.box, other.box)).toBe(false);
      }
    }
    expect(seen).toBeGreaterThan(500);
  });

  it('boxes the bright part pixels: nothing bright on the belt outside a box, parts far brighter than the belt around them', () => {
    const width = 640, height = 360;
    const scene = new ConveyorScene({ width, height, fps: 5, seed: 11 });
    const rows = beltRows(height);
    let checked = 0;
    for (const frame of frames(scene, 60)) {
      const boxes = frame.parts.map((p) => p.box);
      // The belt's albedo stays <= 100, so > 140 is a part; the 1 px margin is its anti-aliased fringe.
      expect(brightOutside(frame.y, width, rows, boxes, 140, 1)).toBe(0);
      for (const part of frame.parts) {
        if (part.visible < 1) continue;
        const around = ringMean(frame.y, width, part.box, rows, boxes.filter((b) => b !== part.box));
        expect(meanIn(frame.y, width, part.box)).toBeGreaterThan(around + 25);
        expect(upperQuartileIn(frame.y, width, part.box)).toBeGreaterThan(around + 50);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('moves parts in from the left edge and out at the right, at the belt speed', () => {
    const scene = new ConveyorScene({ width: 320, height: 180, fps: 10, seed: 5 });
    const lastRight = new Map<number, number>();
    for (const frame of frames(scene, 200)) {
      for (const part of frame.parts) {
        // A part first seen after frame 0 came in at the left edge.
        if (frame.index > 0 && !lastRight.has(part.id)) expect(part.box.x).toBe(0);
        const right = part.box.x + part.box.w;
        const before = lastRight.get(part.id);
        if (before !== undefined && before < 320 && right < 320) {
          // speed width/4 = 80 px/s at 10 fps: 8 px a frame (whole pixels, so 7..9).
          expect(right - before).toBeGreaterThanOrEqual(7);
          expect(right - before).toBeLessThanOrEqual(9);
        }
        lastRight.set(part.id, right);
      }
    }
    expect(scene.partsLog.length).toBeGreaterThan(10);
    expect(scene.partsLog.every((p) => lastRight.has(p.id))).toBe(true);
    expect(new Set(scene.partsLog.map((p) => p.id)).size).toBe(scene.partsLog.length);
  });

  it('changes nothing but sensor noise and slow light while the belt stands, and a lot while it runs', () => {
    const scene = new ConveyorScene({ width: 320, height: 180, fps: 15, seed: 3, stillShare: 0.5, stillPeriodS: 4 });
    const all = frames(scene, 120);
    const still: number[] = [];
    const running: number[] = [];
    for (let i = 1; i < all.length; i++) {
      const { mean, max } = diffStats(all[i - 1]!.y, all[i]!.y);
      if (all[i]!.moving) {
        running.push(mean);
      } else {
        still.push(mean);
        expect(mean).toBeLessThan(1);
        expect(max).toBeLessThanOrEqual(3);
        expect(all[i]!.parts).toEqual(all[i - 1]!.parts);
      }
    }
    expect(still.length).toBeGreaterThan(50);
    expect(running.length).toBeGreaterThan(50);
    expect(Math.min(...running)).toBeGreaterThan(5);
  });

  it('stands still for stillShare of each cycle', () => {
    const scene = new ConveyorScene({ width: 64, height: 36, fps: 10, seed: 2, stillShare: 0.25, stillPeriodS: 4 });
    const moving = frames(scene, 400).filter((f) => f.moving).length;
    expect(moving / 400).toBeCloseTo(0.75, 1);
  });

  it('makes about defectShare of the parts defective, with every kind of defect', () => {
    const scene = new ConveyorScene({ width: 96, height: 54, fps: 10, seed: 9, partEveryS: 0.3, defectShare: 0.3 });
    while (scene.partsLog.length < 600) scene.next();
    const log = scene.partsLog.slice(0, 600);
    const defective = log.filter((p) => p.defect !== 'none');
    // 3 standard deviations of a binomial share at n = 600 is 0.056.
    expect(Math.abs(defective.length / log.length - 0.3)).toBeLessThan(0.056);
    for (const kind of ['scratch', 'dent', 'missing-hole']) {
      expect(defective.filter((p) => p.defect === kind).length).toBeGreaterThan(30);
    }
    for (const shape of ['disc', 'square', 'hexagon']) expect(log.filter((p) => p.shape === shape).length).toBeGreaterThan(100);
  });

  it('makes no defective parts at defectShare 0 and only defective ones at 1', () => {
    for (const defectShare of [0, 1]) {
      const scene = new ConveyorScene({ width: 96, height: 54, fps: 10, seed: 4, partEveryS: 0.3, defectShare });
      while (scene.partsLog.length < 50) scene.next();
      expect(scene.partsLog.every((p) => (p.defect !== 'none') === (defectShare === 1))).toBe(true);
    }
  });
});
