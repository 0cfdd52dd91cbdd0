import pngjs from 'pngjs';
import type { RgbImage } from '../datasets/types.js';
import type { Box } from '../vision/geometry.js';
import { PlaneResampler } from '../vision/resample.js';

/** A box drawn on a thumbnail: truths green, predictions red; `strong`: the mistake the thumbnail is about (thicker). */
export interface MarkedBox {
  readonly box: Box;
  readonly kind: 'truth' | 'prediction';
  readonly strong: boolean;
  readonly label: string;
}

export interface Thumbnail {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The boxes in thumbnail pixels, for the report's labels (drawn over the image as SVG text). */
  readonly boxes: readonly MarkedBox[];
  /** The region of the source image shown, in source pixels. */
  readonly region: Box;
}

export const THUMBNAIL_MAX_SIDE = 240;
/** Around a mistake: its box grown this many times, at least MIN_REGION px, so a 10 px defect on a 640 px board is visible. */
const REGION_GROWTH = 4;
const MIN_REGION = 96;

const COLOURS = { truth: [46, 125, 50], prediction: [198, 40, 40] } as const;

/** The square-ish region around `focus` worth showing (grown, clipped to the image); the whole image without a focus. */
export function regionAround(image: { readonly width: number; readonly height: number }, focus: Box | undefined): Box {
  if (focus === undefined) return { x: 0, y: 0, w: image.width, h: image.height };
  const side = Math.max(MIN_REGION, REGION_GROWTH * Math.max(focus.w, focus.h));
  const w = Math.min(image.width, side);
  const h = Math.min(image.height, side);
  const x = Math.min(image.width - w, Math.max(0, focus.x + focus.w / 2 - w / 2));
  const y = Math.min(image.height - h, Math.max(0, focus.y + focus.h / 2 - h / 2));
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  return { x: x0, y: y0, w: Math.min(image.width - x0, Math.ceil(w)), h: Math.min(image.height - y0, Math.ceil(h)) };
}

/**
 * A PNG of a region of the image scaled to at most THUMBNAIL_MAX_SIDE (area filter down,
 * interpolation up), with the boxes drawn into it, so the picture says what it shows even
 * saved on its own. pngjs encodes (zlib deflate): a dependency already, and fast.
 */
export function thumbnail(image: RgbImage, boxes: readonly MarkedBox[], region: Box = regionAround(image, undefined), maxSide = THUMBNAIL_MAX_SIDE): Thumbnail {
  const scale = maxSide / Math.max(region.w, region.h);
  const width = Math.max(1, Math.round(region.w * scale));
  const height = Math.max(1, Math.round(region.h * scale));
  const plane = new Float32Array(width * height);
  const rgb = Buffer.alloc(width * height * 3);
  const resampler = new PlaneResampler(region.w, region.h, width, height);
  const stride = image.width * 3;
  for (let c = 0; c < 3; c += 1) {
    resampler.run(image.data, region.y * stride + region.x * 3 + c, stride, 3, plane, 0, width);
    for (let i = 0; i < plane.length; i += 1) rgb[i * 3 + c] = Math.min(255, Math.max(0, Math.round(plane[i] as number)));
  }
  const sx = width / region.w;
  const sy = height / region.h;
  // Only the boxes the region shows (a neighbour's label at the picture's edge would mislead).
  const scaled = boxes
    .map((b) => ({ ...b, box: { x: (b.box.x - region.x) * sx, y: (b.box.y - region.y) * sy, w: b.box.w * sx, h: b.box.h * sy } }))
    .filter((b) => b.box.x < width && b.box.y < height && b.box.x + b.box.w > 0 && b.box.y + b.box.h > 0);
  // Weak boxes first: the mistake's box is drawn last, on top.
  for (const b of [...scaled].sort((p, q) => Number(p.strong) - Number(q.strong))) drawRect(rgb, width, height, b.box, COLOURS[b.kind], b.strong ? 2 : 1);
  const png = pngjs.PNG.sync.write({ width, height, data: rgb } as pngjs.PNG, { colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 8 });
  return { png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width, height, boxes: scaled, region };
}

/** A rectangle's outline, `thickness` px inside the box, clipped to the picture. */
function drawRect(rgb: Buffer, width: number, height: number, b: Box, colour: readonly number[], thickness: number): void {
  const x0 = Math.round(b.x);
  const y0 = Math.round(b.y);
  const x1 = Math.max(x0, Math.round(b.x + b.w) - 1);
  const y1 = Math.max(y0, Math.round(b.y + b.h) - 1);
  const put = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const p = (y * width + x) * 3;
    rgb[p] = colour[0] as number;
    rgb[p + 1] = colour[1] as number;
    rgb[p + 2] = colour[2] as number;
  };
  for (let t = 0; t < thickness; t += 1) {
    for (let x = x0; x <= x1; x += 1) {
      put(x, y0 + t);
      put(x, y1 - t);
    }
    for (let y = y0; y <= y1; y += 1) {
      put(x0 + t, y);
      put(x1 - t, y);
    }
  }
}

export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}
