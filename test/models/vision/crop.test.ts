import fc from 'fast-check';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { encodeCrop, greyCrop } from '../../../models/vision/crop.js';
import type { RawFrame } from '../../../runtime/pipeline/frame.js';

/** An I420 frame whose luma is a gradient, so a crop's pixels say where they came from. */
function frame(width: number, height: number): RawFrame {
  const data = new Uint8Array((width * height * 3) / 2);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) data[y * width + x] = (x * 3 + y * 5) & 255;
  return { format: 'I420', width, height, data, timestampUs: 0, layout: [{ offset: 0, stride: width }, { offset: width * height, stride: width / 2 }, { offset: (width * height * 5) / 4, stride: width / 2 }] };
}

describe('defect crops', () => {
  it('encode as a grey PNG that decodes to the crop pixels exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 8, max: 96 }), (w, h, x, y, maxSize) => {
        const c = greyCrop(frame(256, 224), { x, y, w, h }, maxSize);
        const crop = encodeCrop(c);
        const back = pngjs.PNG.sync.read(Buffer.from(crop.png));
        expect([back.width, back.height]).toEqual([c.width, c.height]);
        // pngjs hands back RGBA; grey is in every colour byte.
        const grey = Array.from({ length: c.width * c.height }, (_, i) => back.data[i * 4]);
        expect(grey).toEqual(Array.from(c.grey));
        expect(Math.max(c.width, c.height)).toBeLessThanOrEqual(maxSize);
      }),
      { numRuns: 60 },
    );
  });

  it('takes the region around the box with a margin, clipped to the frame', () => {
    const c = greyCrop(frame(256, 224), { x: 240, y: -10, w: 40, h: 40 }, 96);
    expect(c.region).toEqual({ x: 234, y: 0, w: 22, h: 36 });
    // No downscale (the region is under maxSize): the crop's first pixel is the frame's at the region's corner.
    expect(c.grey[0]).toBe((234 * 3) & 255);
  });
});
