import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockSums4, PlaneResampler } from '../../../models/vision/resample.js';

describe('area resampling', () => {
  it('with whole-number ratios, each output is the exact mean of its block (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom(1, 4), fc.nat(), (kx, ky, dw, dh, step, seed) => {
        const w = kx * dw;
        const h = ky * dh;
        const data = Uint8Array.from({ length: w * h * step }, (_, i) => (i * 2654435761 + seed) % 251);
        const out = new Float32Array(dw * dh);
        new PlaneResampler(w, h, dw, dh).run(data, 0, w * step, step, out, 0, dw);
        for (let j = 0; j < dh; j += 1) {
          for (let i = 0; i < dw; i += 1) {
            let sum = 0;
            for (let y = j * ky; y < (j + 1) * ky; y += 1) for (let x = i * kx; x < (i + 1) * kx; x += 1) sum += data[(y * w + x) * step] as number;
            expect(out[j * dw + i]).toBeCloseTo(sum / (kx * ky), 3);
          }
        }
      }),
    );
  });

  it('with any ratio, keeps the mean of the image (no pixel counted twice or lost)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 50 }), fc.integer({ min: 3, max: 40 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), (w, h, dw, dh) => {
        const data = Uint8Array.from({ length: w * h }, (_, i) => (i * 37) % 256);
        const out = new Float32Array(dw * dh);
        new PlaneResampler(w, h, dw, dh).run(data, 0, w, 1, out, 0, dw);
        const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0) / a.length;
        // Exact for downscaling; upscaling weights each source pixel by its (nearly equal) share.
        expect(Math.abs(mean(out) - mean(data))).toBeLessThan(w >= dw && h >= dh ? 1e-3 : 40);
      }),
    );
  });

  it('downscaling by any ratio gives each output the exact mean of the area it covers (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.constantFrom(1, 4), fc.nat(), (dw, dh, extraW, extraH, step, seed) => {
        const w = dw + extraW;
        const h = dh + extraH;
        const stride = w * step + 3;
        const data = Uint8Array.from({ length: 5 + stride * h }, (_, i) => (i * 2654435761 + seed) % 256);
        const out = new Float32Array(dw * dh);
        new PlaneResampler(w, h, dw, dh).run(data, 5, stride, step, out, 0, dw);
        // By definition: each source pixel weighted by its overlap with the output's area.
        const overlap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
        for (let j = 0; j < dh; j += 1) {
          for (let i = 0; i < dw; i += 1) {
            const [x0, x1, y0, y1] = [(i * w) / dw, ((i + 1) * w) / dw, (j * h) / dh, ((j + 1) * h) / dh];
            let sum = 0;
            for (let y = Math.floor(y0); y < Math.min(h, Math.ceil(y1)); y += 1) {
              for (let x = Math.floor(x0); x < Math.min(w, Math.ceil(x1)); x += 1) sum += (data[5 + y * stride + x * step] as number) * overlap(x, x + 1, x0, x1) * overlap(y, y + 1, y0, y1);
            }
            expect(out[j * dw + i]).toBeCloseTo(sum / ((x1 - x0) * (y1 - y0)), 3);
          }
        }
      }),
    );
  });

  it('block sums four bytes at a time equal the byte-by-byte sums, and refuse what they cannot do (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 8, 12, 16), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 8 }), fc.nat(), (kx, ky, dw, dh, lead, pad, seed) => {
        const stride = kx * dw + pad;
        const offset = lead;
        const data = Uint8Array.from({ length: offset + stride * ky * dh }, (_, i) => (i * 2654435761 + seed) % 256);
        const out = new Int32Array(dw * dh);
        const done = blockSums4(data, offset, stride, kx, ky, dw, dh, out);
        const applies = kx * ky <= 256 && offset % 4 === 0 && stride % 4 === 0;
        expect(done).toBe(applies);
        if (!applies) return;
        for (let j = 0; j < dh; j += 1) {
          for (let i = 0; i < dw; i += 1) {
            let sum = 0;
            for (let y = j * ky; y < (j + 1) * ky; y += 1) for (let x = i * kx; x < (i + 1) * kx; x += 1) sum += data[offset + y * stride + x] as number;
            expect(out[j * dw + i]).toBe(sum);
          }
        }
      }),
    );
  });
});
