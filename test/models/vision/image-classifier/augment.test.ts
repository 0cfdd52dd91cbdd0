import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { augmentInto, DEFAULT_AUGMENT, PAD, plainInto } from '../../../../models/vision/image-classifier/augment.js';
import { seededRandom } from '../../../../models/train/random.js';

const SIZE = 12;
const picture = fc.uint8Array({ minLength: 3 * SIZE * SIZE, maxLength: 3 * SIZE * SIZE });
const inner = fc.record({ x: fc.integer({ min: 0, max: 4 }), y: fc.integer({ min: 0, max: 4 }), w: fc.integer({ min: 1, max: 8 }), h: fc.integer({ min: 1, max: 8 }) });

function run(src: Uint8Array, rect: { x: number; y: number; w: number; h: number }, o: typeof DEFAULT_AUGMENT, seed: number): Float32Array {
  const out = new Float32Array(src.length + 2).fill(-1);
  augmentInto(src, SIZE, rect, o, seededRandom(seed), out, 1);
  expect(out[0]).toBe(-1);
  expect(out[out.length - 1]).toBe(-1);
  return out.subarray(1, out.length - 1);
}

describe('training augmentation', () => {
  it('writes exactly its image, every value in 0..1, the same for the same seed', () => {
    fc.assert(
      fc.property(picture, inner, fc.integer(), (src, rect, seed) => {
        const a = run(src, rect, { ...DEFAULT_AUGMENT, flipY: true }, seed);
        expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
        expect(run(src, rect, { ...DEFAULT_AUGMENT, flipY: true }, seed)).toEqual(a);
      }),
    );
  });

  it('without shift, brightness or tint, it is the picture or its mirror image, and the padding stays the gateway grey', () => {
    fc.assert(
      fc.property(picture, inner, fc.integer(), (src, rect, seed) => {
        // The padding as the letterbox leaves it: PAD outside the picture.
        const img = Uint8Array.from(src, (v, i) => {
          const x = i % SIZE;
          const y = Math.floor(i / SIZE) % SIZE;
          return x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h ? v : PAD;
        });
        const out = run(img, rect, { flipX: true, flipY: false, shift: 0, brightness: 0, tint: 0 }, seed);
        const plain = new Float32Array(img.length);
        plainInto(img, plain, 0);
        const mirror = plain.map((_, i) => plain[i - (i % SIZE) + SIZE - 1 - (i % SIZE)] as number);
        expect([plain, mirror].some((want) => want.every((v, i) => v === out[i]))).toBe(true);
      }),
    );
  });

  it('a shift uncovers padding grey; brightness never touches the padding', () => {
    // All-white picture in the middle 6 x 6, padding around: any variation keeps PAD wherever it shows no picture.
    const rect = { x: 3, y: 3, w: 6, h: 6 };
    const img = Uint8Array.from({ length: 3 * SIZE * SIZE }, (_, i) => {
      const x = i % SIZE;
      const y = Math.floor(i / SIZE) % SIZE;
      return x >= 3 && x < 9 && y >= 3 && y < 9 ? 200 : PAD;
    });
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const out = run(img, rect, { ...DEFAULT_AUGMENT, shift: 0.25, brightness: 0.5 }, seed);
        const values = new Set(Array.from(out, (v) => Math.round(v * 255)));
        expect(values.has(PAD)).toBe(true);
        // Besides the padding only the picture's (one brightness and tint per channel): at most 3 other values.
        expect(values.size).toBeLessThanOrEqual(4);
      }),
    );
  });
});
