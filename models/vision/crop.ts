import pngjs from 'pngjs';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import { PlaneResampler } from './resample.js';
import type { Box } from './geometry.js';

export interface Crop {
  /** A grey PNG of the region, at most maxSize px on its long side. */
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The region in source-frame pixels (the box with a margin, clipped). */
  readonly region: Box;
}

/** A crop's grey pixels before encoding (kept while a track lives: cheaper than a PNG per better sighting). */
export interface GreyCrop {
  readonly grey: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly region: Box;
}

/**
 * The region around a box, from the frame's luma plane, downscaled (area filter) and encoded
 * as PNG: what an engineer looks at to see the defect, small enough for every event (a few KB).
 */
export function cropLuma(frame: RawFrame, box: Box, maxSize: number, margin = 0.15): Crop {
  return encodeCrop(greyCrop(frame, box, maxSize, margin));
}

/**
 * PNG through pngjs, which deflates with Node's zlib: a gateway encodes a crop once per defect,
 * too rarely for V8 to optimise a deflate written in JavaScript (fast-png's took 10-12 ms a crop
 * on the gateway's flags, blocking the stage; this takes about 0.1 ms).
 */
export function encodeCrop(c: GreyCrop): Crop {
  const image = { width: c.width, height: c.height, data: Buffer.from(c.grey.buffer, c.grey.byteOffset, c.grey.byteLength) } as pngjs.PNG;
  const png = pngjs.PNG.sync.write(image, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  return { png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width: c.width, height: c.height, region: c.region };
}

/** `cropLuma`'s pixels, not encoded. */
export function greyCrop(frame: RawFrame, box: Box, maxSize: number, margin = 0.15): GreyCrop {
  const mx = box.w * margin;
  const my = box.h * margin;
  const x0 = Math.max(0, Math.floor(box.x - mx));
  const y0 = Math.max(0, Math.floor(box.y - my));
  const x1 = Math.min(frame.width, Math.ceil(box.x + box.w + mx));
  const y1 = Math.min(frame.height, Math.ceil(box.y + box.h + my));
  const w = Math.max(1, x1 - x0);
  const h = Math.max(1, y1 - y0);
  const scale = Math.min(1, maxSize / Math.max(w, h));
  const ow = Math.max(1, Math.round(w * scale));
  const oh = Math.max(1, Math.round(h * scale));
  const plane = frame.layout[0] as { offset: number; stride: number };
  const rgba = frame.format === 'RGBA';
  const out = new Float32Array(ow * oh);
  new PlaneResampler(w, h, ow, oh).run(frame.data, plane.offset + y0 * plane.stride + x0 * (rgba ? 4 : 1) + (rgba ? 1 : 0), plane.stride, rgba ? 4 : 1, out, 0, ow);
  const grey = new Uint8Array(out.length);
  for (let i = 0; i < out.length; i += 1) grey[i] = Math.round(out[i] as number);
  return { grey, width: ow, height: oh, region: { x: x0, y: y0, w, h } };
}
