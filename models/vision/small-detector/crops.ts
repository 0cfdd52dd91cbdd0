import type { Box } from '../geometry.js';
import { STRIDE } from './architecture.js';
import type { CropObject } from './loss.js';
import type { PreparedImage } from './training-images.js';

/**
 * Training runs on crops, not whole images: a 128 x 128 crop costs 1/25 of a 640 x 640 pass,
 * and crops can be chosen where the defects are (one per object) plus random ones (the
 * background and its clutter). The network is fully convolutional, so what it learns on crops
 * holds on the full image, up to the crop's edge, which the loss leaves out (loss.ts).
 */
export interface CropPlan {
  readonly image: number;
  /** Top-left corner in input pixels, a multiple of the stride (the crop's cells are the image's cells). */
  readonly x: number;
  readonly y: number;
  /** One of the 8 symmetries of the square: bit 0 mirror left-right, bit 1 mirror up-down, bit 2 swap the axes (first). */
  readonly symmetry: number;
}

const aligned = (v: number): number => Math.floor(v / STRIDE) * STRIDE;

/** A random aligned corner in lo..hi (clamped to 0..max). */
function corner(lo: number, hi: number, max: number, random: () => number): number {
  const a = Math.max(0, Math.ceil(lo / STRIDE));
  const b = Math.min(Math.floor(max / STRIDE), Math.floor(hi / STRIDE));
  if (b < a) return Math.min(aligned(max), Math.max(0, aligned((lo + hi) / 2)));
  return (a + Math.floor(random() * (b - a + 1))) * STRIDE;
}

/**
 * The crops of one epoch: per image, one around each object (its centre at a random place
 * inside the crop's trained region) and `background` at random, each with a random symmetry.
 */
export function planCrops(images: readonly { readonly objects: readonly { readonly box: Box }[] }[], inputSize: number, cropSize: number, marginPx: number, background: number, random: () => number): CropPlan[] {
  const max = inputSize - cropSize;
  const plans: CropPlan[] = [];
  images.forEach((img, image) => {
    for (const o of img.objects) {
      const cx = o.box.x + o.box.w / 2;
      const cy = o.box.y + o.box.h / 2;
      const x = corner(cx - cropSize + marginPx + 1, cx - marginPx, max, random);
      const y = corner(cy - cropSize + marginPx + 1, cy - marginPx, max, random);
      plans.push({ image, x, y, symmetry: Math.floor(random() * 8) });
    }
    for (let k = 0; k < background; k += 1) plans.push({ image, x: corner(0, max, max, random), y: corner(0, max, max, random), symmetry: Math.floor(random() * 8) });
  });
  return plans;
}

/**
 * Writes crop `b` of a batch into `out` ([batch, 3, S, S], normalised as the model's input) and
 * returns its objects in crop pixels, moved by the same symmetry as the pixels.
 */
export function fillCrop(img: PreparedImage, plan: CropPlan, b: number, cropSize: number, mean: readonly number[], std: readonly number[], out: Float32Array): CropObject[] {
  const S = cropSize;
  const size = img.size;
  const swap = (plan.symmetry & 4) !== 0;
  const mirrorX = (plan.symmetry & 1) !== 0;
  const mirrorY = (plan.symmetry & 2) !== 0;
  for (let c = 0; c < 3; c += 1) {
    const scale = 1 / (255 * (std[c] as number));
    const shift = (mean[c] as number) / (std[c] as number);
    const src = c * size * size;
    const dst = (b * 3 + c) * S * S;
    for (let sy = 0; sy < S; sy += 1) {
      const row = src + (plan.y + sy) * size + plan.x;
      for (let sx = 0; sx < S; sx += 1) {
        let u = swap ? sy : sx;
        let v = swap ? sx : sy;
        if (mirrorX) u = S - 1 - u;
        if (mirrorY) v = S - 1 - v;
        out[dst + v * S + u] = (img.planes[row + sx] as number) * scale - shift;
      }
    }
  }
  const objects: CropObject[] = [];
  for (const o of img.objects) {
    const x0 = o.box.x - plan.x;
    const y0 = o.box.y - plan.y;
    if (x0 + o.box.w <= 0 || y0 + o.box.h <= 0 || x0 >= S || y0 >= S) continue;
    let cx = x0 + o.box.w / 2;
    let cy = y0 + o.box.h / 2;
    let w = o.box.w;
    let h = o.box.h;
    if (swap) [cx, cy, w, h] = [cy, cx, h, w];
    if (mirrorX) cx = S - cx;
    if (mirrorY) cy = S - cy;
    objects.push({ cx, cy, w, h, classId: o.classId });
  }
  return objects;
}
