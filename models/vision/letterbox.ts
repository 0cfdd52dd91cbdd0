import type { Box } from './geometry.js';

/**
 * How a source frame sits in a model's input: scaled by one factor (aspect ratio kept) and
 * centred, with padding on the short side (YOLO's letterbox). Boxes go from input
 * coordinates back to the source frame through `toSource`.
 */
export interface Letterbox {
  readonly srcWidth: number;
  readonly srcHeight: number;
  readonly dstWidth: number;
  readonly dstHeight: number;
  readonly scale: number;
  /** Left and top padding in input pixels. */
  readonly padX: number;
  readonly padY: number;
  /** The scaled image's size in input pixels (the rest is padding). */
  readonly innerWidth: number;
  readonly innerHeight: number;
}

export function letterbox(srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number): Letterbox {
  if (!(srcWidth > 0 && srcHeight > 0 && dstWidth > 0 && dstHeight > 0)) throw new RangeError(`letterbox: sizes must be positive (${srcWidth}x${srcHeight} -> ${dstWidth}x${dstHeight})`);
  const scale = Math.min(dstWidth / srcWidth, dstHeight / srcHeight);
  const innerWidth = Math.min(dstWidth, Math.round(srcWidth * scale));
  const innerHeight = Math.min(dstHeight, Math.round(srcHeight * scale));
  return { srcWidth, srcHeight, dstWidth, dstHeight, scale, padX: Math.floor((dstWidth - innerWidth) / 2), padY: Math.floor((dstHeight - innerHeight) / 2), innerWidth, innerHeight };
}

/** A box in model-input pixels to source-frame pixels, clipped to the frame. */
export function toSource(l: Letterbox, b: Box): Box {
  const sx = l.srcWidth / l.innerWidth;
  const sy = l.srcHeight / l.innerHeight;
  const x0 = Math.min(l.srcWidth, Math.max(0, (b.x - l.padX) * sx));
  const y0 = Math.min(l.srcHeight, Math.max(0, (b.y - l.padY) * sy));
  const x1 = Math.min(l.srcWidth, Math.max(0, (b.x + b.w - l.padX) * sx));
  const y1 = Math.min(l.srcHeight, Math.max(0, (b.y + b.h - l.padY) * sy));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** A box in source-frame pixels to model-input pixels. */
export function toInput(l: Letterbox, b: Box): Box {
  const sx = l.innerWidth / l.srcWidth;
  const sy = l.innerHeight / l.srcHeight;
  return { x: b.x * sx + l.padX, y: b.y * sy + l.padY, w: b.w * sx, h: b.h * sy };
}
