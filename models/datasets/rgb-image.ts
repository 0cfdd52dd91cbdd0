import { PlaneResampler } from '../vision/resample.js';
import type { RgbImage } from './types.js';

/**
 * Operations on decoded images that the trainers need and the decoders do not give: resizing
 * (area averaging, the vision stage's own resampler, so a model is trained on pixels made the
 * way the gateway makes them at run time) and luma for grey models.
 */

/** `image` resized to width x height (area average when shrinking, so thin defects do not alias away). */
export function resizeRgb(image: RgbImage, width: number, height: number): RgbImage {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) throw new RangeError(`resizeRgb: size must be whole pixels >= 1, got ${width}x${height}`);
  if (width === image.width && height === image.height) return image;
  const resampler = new PlaneResampler(image.width, image.height, width, height);
  const plane = new Float32Array(width * height);
  const data = new Uint8Array(width * height * 3);
  for (let c = 0; c < 3; c += 1) {
    resampler.run(image.data, c, image.width * 3, 3, plane, 0, width);
    for (let i = 0; i < plane.length; i += 1) data[i * 3 + c] = Math.min(255, Math.max(0, Math.round(plane[i] as number)));
  }
  return { width, height, data };
}

/** Luma (BT.601, what an H.264 camera's Y plane holds), width * height bytes. */
export function lumaOf(image: RgbImage): Uint8Array {
  const n = image.width * image.height;
  const y = new Uint8Array(n);
  const d = image.data;
  for (let i = 0; i < n; i += 1) y[i] = Math.round(0.299 * (d[i * 3] as number) + 0.587 * (d[i * 3 + 1] as number) + 0.114 * (d[i * 3 + 2] as number));
  return y;
}

/** A grey plane as RGB (the simulator's stills and grey photos). */
export function rgbFromLuma(y: Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    const v = y[i] as number;
    data[i * 3] = v;
    data[i * 3 + 1] = v;
    data[i * 3 + 2] = v;
  }
  return { width, height, data };
}
