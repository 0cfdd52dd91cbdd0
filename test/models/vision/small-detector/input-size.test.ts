import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DetectionSample } from '../../../../models/datasets/types.js';
import { autoInputSize } from '../../../../models/vision/small-detector/input-size.js';
import { renderLabelledImage } from '../../../../sim/camera/dataset.js';
import { boardDataset } from '../../../../sim/datasets/board.js';

const sample = (boxes: DetectionSample['boxes']): DetectionSample => ({ file: 'x.png', boxes, load: async () => ({ width: 1, height: 1, data: new Uint8Array(3) }) });

describe('the detector input size chosen from a dataset', () => {
  it('is 640 for 10-40 px defects on 640 px boards', () => {
    expect(autoInputSize(boardDataset({ train: 40, val: 0 }))).toBe(640);
  });

  it('is smaller for whole parts on a belt, so that most parts fit the 47 px a cell sees', () => {
    const train: DetectionSample[] = [];
    for (let seed = 0; seed < 30; seed += 1) {
      const img = renderLabelledImage(5000 + seed, 640, 360);
      train.push(sample(img.parts.map((p) => ({ classId: 0, cx: (p.box.x + p.box.w / 2) / 640, cy: (p.box.y + p.box.h / 2) / 360, w: p.box.w / 640, h: p.box.h / 360 }))));
    }
    const size = autoInputSize({ train });
    expect(size).toBeLessThan(640);
    // In a 640 x 360 frame letterboxed to `size`, the scale is size / 640.
    const inInput = train.flatMap((s) => s.boxes.map((b) => Math.max(b.w * 640, b.h * 360) * (size / 640))).sort((a, b) => a - b);
    expect(inInput[Math.floor(inInput.length * 0.9)]).toBeLessThanOrEqual(47);
  });

  it('is always a multiple of 32 from 128 to 640, for any boxes', () => {
    const box = fc.record({ classId: fc.constant(0), cx: fc.double({ min: 0, max: 1, noNaN: true }), cy: fc.double({ min: 0, max: 1, noNaN: true }), w: fc.double({ min: 0, max: 1, noNaN: true }), h: fc.double({ min: 0, max: 1, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(fc.array(box, { maxLength: 4 }), { maxLength: 6 }), (images) => {
        const size = autoInputSize({ train: images.map(sample) });
        expect(size % 32).toBe(0);
        expect(size).toBeGreaterThanOrEqual(128);
        expect(size).toBeLessThanOrEqual(640);
      }),
    );
  });
});
