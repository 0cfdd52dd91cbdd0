import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packedLayout, type PixelFormat, type RawFrame } from '../../../runtime/pipeline/frame.js';
import { Preprocessor } from '../../../models/vision/preprocess.js';
import { blockSums4 } from '../../../models/vision/resample.js';

/** A frame of `format` whose luma is 16 (black) on the left half and 235 (white) on the right. */
function halfAndHalf(format: PixelFormat, width: number, height: number, extraStride = 0): RawFrame {
  if (format === 'RGBA') {
    const stride = width * 4 + extraStride;
    const data = new Uint8Array(stride * height);
    for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) data.fill(x < width / 2 ? 0 : 255, y * stride + x * 4, y * stride + x * 4 + 3);
    return { format, width, height, data, layout: [{ offset: 0, stride }], timestampUs: 0 };
  }
  const { layout, size } = packedLayout(format, width, height);
  const data = new Uint8Array(size).fill(128);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) data[y * width + x] = x < width / 2 ? 16 : 235;
  return { format, width, height, data, layout, timestampUs: 0 };
}

describe('preprocessing to NCHW float32', () => {
  for (const format of ['I420', 'NV12', 'RGBA'] as const) {
    it(`letterboxes, resizes and normalises ${format} (grey and RGB), reusing its buffer`, () => {
      const frame = halfAndHalf(format, 16, 8);
      const grey = new Preprocessor({ width: 8, height: 8, channels: 1, mean: [0], std: [1] });
      const out = grey.run(frame);
      expect(grey.dims).toEqual([1, 1, 8, 8]);
      expect(grey.letterbox).toMatchObject({ padX: 0, padY: 2, innerWidth: 8, innerHeight: 4 });
      const row = (r: number): number[] => Array.from(out.subarray(r * 8, r * 8 + 8), (v) => Math.round(v * 1000) / 1000);
      expect(row(0)).toEqual(new Array(8).fill(Math.round((114 / 255) * 1000) / 1000)); // padding
      expect(row(3)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
      expect(grey.run(frame)).toBe(out); // the same buffer: nothing allocated per frame

      const rgb = new Preprocessor({ width: 8, height: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
      const t = rgb.run(frame);
      for (let c = 0; c < 3; c += 1) {
        expect(t[c * 64 + 3 * 8 + 0]).toBeCloseTo(-1, 2); // black
        expect(t[c * 64 + 3 * 8 + 7]).toBeCloseTo(1, 2); // white
      }
    });
  }

  it('averages the pixels it shrinks (area filter: a 1-px line survives a 4x downscale as a quarter of its contrast)', () => {
    const width = 32;
    const height = 32;
    const { layout, size } = packedLayout('I420', width, height);
    const data = new Uint8Array(size).fill(128);
    for (let i = 0; i < width * height; i += 1) data[i] = 16;
    for (let y = 0; y < height; y += 1) data[y * width + 13] = 235; // one white column
    const p = new Preprocessor({ width: 8, height: 8, channels: 1, mean: [0], std: [1] });
    const out = p.run({ format: 'I420', width, height, data, layout, timestampUs: 0 });
    expect(out[8 * 4 + 3]).toBeCloseTo(0.25, 2);
    expect(out[8 * 4 + 2]).toBeCloseTo(0, 5);
  });

  it('refuses a frame whose planes do not fit its buffer', () => {
    const p = new Preprocessor({ width: 8, height: 8, channels: 1, mean: [0], std: [1] });
    expect(() => p.run({ format: 'I420', width: 16, height: 8, data: new Uint8Array(100), layout: packedLayout('I420', 16, 8).layout, timestampUs: 0 })).toThrow(/does not fit in 100 bytes/);
  });

  it('the grey fast path (whole 4x blocks, summed four bytes at a time) gives what the general path gives (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 8, 16), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.constantFrom('I420', 'NV12') as fc.Arbitrary<'I420' | 'NV12'>, fc.nat(), (k, dw, dh, extra, wide, format, seed) => {
        // k x k blocks: the frame is k times the letterbox's inner size, padded on one side.
        const width = k * dw;
        const height = k * dh;
        const { layout, size } = packedLayout(format, width, height);
        // The same pixels twice: at a 4-byte-aligned offset (fast path) and one byte further (general path).
        const buffer = new Uint8Array(size + 8);
        for (let i = 0; i < size; i += 1) buffer[4 + i] = (i * 2654435761 + seed) % 256;
        const aligned = buffer.slice(4, 4 + size);
        const shifted = new Uint8Array(size + 1);
        shifted.set(aligned, 1);
        const o = { width: dw + (wide ? extra : 0), height: dh + (wide ? 0 : extra), channels: 1 as const, mean: [0.2], std: [0.7] };
        const fast = new Preprocessor(o).run({ format, width, height, data: aligned, layout, timestampUs: 0 });
        const general = new Preprocessor(o).run({ format, width, height, data: shifted, layout: layout.map((p) => ({ offset: p.offset + 1, stride: p.stride })), timestampUs: 0 });
        expect(fast.length).toBe(general.length);
        expect(blockSums4(aligned, 0, width, k, k, dw, dh, new Int32Array(dw * dh))).toBe(true); // the fast path applies to `aligned`
        for (let i = 0; i < fast.length; i += 1) expect(fast[i]).toBeCloseTo(general[i] as number, 4);
      }),
    );
  });
});
