import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../models/train/random.js';
import { HEAD_OBJECT, STRIDE } from '../../../../models/vision/small-detector/architecture.js';
import { assignTargets, detectionLoss, type CropObject } from '../../../../models/vision/small-detector/loss.js';

const objectArb = fc.record({ cx: fc.double({ min: 20, max: 108, noNaN: true }), cy: fc.double({ min: 20, max: 108, noNaN: true }), w: fc.double({ min: 10, max: 40, noNaN: true }), h: fc.double({ min: 10, max: 40, noNaN: true }), classId: fc.integer({ min: 0, max: 2 }) });

describe('small detector targets and loss', () => {
  it('makes the cell holding each centre positive, with a box target that decodes back to the object', () => {
    fc.assert(
      fc.property(fc.array(objectArb, { maxLength: 3 }), (objects) => {
        const grid = 128 / STRIDE;
        const t = assignTargets([objects], grid, grid, 3, 2);
        for (const o of objects) {
          const n = Math.floor(o.cy / STRIDE) * grid + Math.floor(o.cx / STRIDE);
          expect(t.positive[n]).toBe(1);
          expect(t.heat[n]).toBeGreaterThan(0.3);
          // Unless a smaller object's centre shares the cell, its box is this object's.
          const shared = objects.some((p) => p !== o && Math.floor(p.cx / STRIDE) === Math.floor(o.cx / STRIDE) && Math.floor(p.cy / STRIDE) === Math.floor(o.cy / STRIDE) && p.w * p.h <= o.w * o.h);
          if (shared) continue;
          const gx = n % grid;
          const gy = Math.floor(n / grid);
          expect(t.owner[n]).toBe(o.classId);
          expect(((t.box[n] as number) + gx + 0.5) * STRIDE).toBeCloseTo(o.cx, 3);
          expect(((t.box[t.cells + n] as number) + gy + 0.5) * STRIDE).toBeCloseTo(o.cy, 3);
          expect(Math.exp(t.box[2 * t.cells + n] as number) * STRIDE).toBeCloseTo(o.w, 3);
        }
        expect(t.positives).toBe(new Set(objects.map((o) => `${Math.floor(o.cx / STRIDE)},${Math.floor(o.cy / STRIDE)}`)).size);
      }),
    );
  });

  it('trains nothing in the crop margin', () => {
    const t = assignTargets([[{ cx: 4, cy: 60, w: 12, h: 12, classId: 1 }]], 16, 16, 3, 2);
    expect(t.positives).toBe(0);
    expect(Array.from(t.owner).every((o) => o === -1)).toBe(true);
    expect(t.weight[0]).toBe(0);
    expect(t.weight[2 * 16 + 2]).toBe(1);
  });

  it('has a gradient equal to finite differences of the loss, for any objects and head values', () => {
    fc.assert(
      fc.property(fc.array(fc.array(objectArb, { maxLength: 3 }), { minLength: 1, maxLength: 2 }), fc.integer(), (objects: CropObject[][], seed) => {
        const grid = 128 / STRIDE;
        const classes = 3;
        const t = assignTargets(objects, grid, grid, classes, 2);
        const random = seededRandom(seed);
        const channels = HEAD_OBJECT + 1 + classes;
        const data = Float32Array.from({ length: channels * t.cells }, () => random() * 4 - 2);
        const head = { data, channels, batch: objects.length, height: grid, width: grid };
        const { loss, dHead } = detectionLoss(head, t);
        expect(Number.isFinite(loss)).toBe(true);
        const grad = Float32Array.from(dHead);
        for (let k = 0; k < 12; k += 1) {
          const i = Math.floor(random() * data.length);
          const keep = data[i] as number;
          const h = 1e-3;
          data[i] = keep + h;
          const up = detectionLoss(head, t).loss;
          data[i] = keep - h;
          const down = detectionLoss(head, t).loss;
          data[i] = keep;
          // Smooth L1 has a kink at |d| = beta: a probe across it is not a derivative.
          const boxChannel = Math.floor(i / t.cells) < 4;
          if (!boxChannel) expect(grad[i]).toBeCloseTo((up - down) / (2 * h), 2);
        }
      }),
      { numRuns: 40 },
    );
  });
});
