import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BELT_MEAN_LUMA } from '../../../sim/camera/belt-texture.js';
import { randomPartSpec, type PartSpec } from '../../../sim/camera/part-spec.js';
import { renderPartSprite, type PartSprite } from '../../../sim/camera/part-sprite.js';

/** Seeded draws for randomPartSpec, from a fast-check integer. */
function randomFrom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Albedo composited over a flat belt and area-averaged by `factor`, as the detector sees it. */
function downscaled(sprite: PartSprite, factor: number): Float64Array {
  const n = Math.floor(sprite.size / factor);
  const out = new Float64Array(n * n);
  for (let r = 0; r < n * factor; r++) {
    for (let c = 0; c < n * factor; c++) {
      const i = r * sprite.size + c;
      const a = sprite.alpha[i] as number;
      const o = Math.floor(r / factor) * n + Math.floor(c / factor);
      out[o] = (out[o] as number) + (BELT_MEAN_LUMA + a * ((sprite.luma[i] as number) - BELT_MEAN_LUMA)) / (factor * factor);
    }
  }
  return out;
}

const heights = fc.constantFrom(360, 720);

describe('part sprites', () => {
  it('are 0.17 of the frame height across, +-15%, with a tight box inside the bitmap', () => {
    fc.assert(
      fc.property(fc.integer(), heights, (seed, height) => {
        const spec = randomPartSpec(randomFrom(seed), height, 0.3);
        expect(spec.sizePx).toBeGreaterThanOrEqual(0.17 * 0.85 * height);
        expect(spec.sizePx).toBeLessThanOrEqual(0.17 * 1.15 * height);
        const sprite = renderPartSprite(spec);
        expect(sprite.x0).toBeGreaterThan(0);
        expect(sprite.y0).toBeGreaterThan(0);
        expect(sprite.x1).toBeLessThan(sprite.size);
        expect(sprite.y1).toBeLessThan(sprite.size);
        expect(sprite.x1 - sprite.x0).toBeGreaterThan(0.8 * spec.sizePx);
      }),
      { numRuns: 60 },
    );
  });

  it('are on average at least 50 grey levels brighter than the belt, even at the darkest light', () => {
    fc.assert(
      fc.property(fc.integer(), heights, (seed, height) => {
        const sprite = renderPartSprite(randomPartSpec(randomFrom(seed), height, 0.3));
        let sum = 0, n = 0;
        for (let i = 0; i < sprite.alpha.length; i++) {
          if (sprite.alpha[i] === 1) {
            sum += sprite.luma[i] as number;
            n++;
          }
        }
        // Darkest light: vignette 0.8 times brightness 0.85 scales every albedo difference.
        expect((sum / n - BELT_MEAN_LUMA) * 0.8 * 0.85).toBeGreaterThanOrEqual(50);
      }),
      { numRuns: 60 },
    );
  });

  it('have a dark hole in the centre unless the defect is missing-hole', () => {
    fc.assert(
      fc.property(fc.integer(), heights, (seed, height) => {
        const spec = randomPartSpec(randomFrom(seed), height, 0.5);
        const sprite = renderPartSprite(spec);
        const centre = Math.floor(sprite.size / 2) * (sprite.size + 1);
        if (spec.defect === 'missing-hole') expect(sprite.luma[centre]).toBeGreaterThan(140);
        else expect(sprite.luma[centre]).toBeLessThan(40);
      }),
      { numRuns: 60 },
    );
  });

  it('show every defect as a change of >= 30 grey levels after a 4x downscale', () => {
    fc.assert(
      fc.property(fc.integer(), heights, (seed, height) => {
        const spec = randomPartSpec(randomFrom(seed), height, 1);
        const sound: PartSpec = { ...spec, defect: 'none', scratch: undefined, dent: undefined };
        const a = downscaled(renderPartSprite(spec), 4);
        const b = downscaled(renderPartSprite(sound), 4);
        let largest = 0;
        for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs((a[i] as number) - (b[i] as number)));
        expect(largest, `${spec.defect} on a ${spec.shape} of ${spec.sizePx.toFixed(0)} px`).toBeGreaterThanOrEqual(30);
      }),
      { numRuns: 90 },
    );
  });

  it('draw a scratch at least 0.04 of the size thick and 0.6 long, and a dent 40+ levels deep', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const spec = randomPartSpec(randomFrom(seed), 720, 1);
        if (spec.scratch) {
          expect(spec.scratch.thicknessPx).toBeGreaterThanOrEqual(0.04 * spec.sizePx);
          expect(spec.scratch.lengthPx).toBeGreaterThanOrEqual(0.6 * spec.sizePx);
        }
        if (spec.dent) expect(spec.dent.depth * 0.68).toBeGreaterThanOrEqual(40);
      }),
      { numRuns: 60 },
    );
  });
});
