/** Measurements on a luma plane shared by the camera simulator's tests. */
import type { PixelBox } from '../../../sim/camera/types.js';

export function meanIn(y: Uint8Array, width: number, box: PixelBox): number {
  let sum = 0;
  for (let r = box.y; r < box.y + box.h; r++) for (let c = box.x; c < box.x + box.w; c++) sum += y[r * width + c] as number;
  return sum / (box.w * box.h);
}

/** Upper quartile of the luma inside a box. */
export function upperQuartileIn(y: Uint8Array, width: number, box: PixelBox): number {
  const values: number[] = [];
  for (let r = box.y; r < box.y + box.h; r++) for (let c = box.x; c < box.x + box.w; c++) values.push(y[r * width + c] as number);
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length * 0.75)] as number;
}

function inside(box: PixelBox, x: number, y: number, margin: number): boolean {
  return x >= box.x - margin && x < box.x + box.w + margin && y >= box.y - margin && y < box.y + box.h + margin;
}

/** Mean luma of a ring `width` px wide starting `gap` px outside the box, skipping rows outside `rows` and any pixel in `others`. */
export function ringMean(
  y: Uint8Array,
  frameWidth: number,
  box: PixelBox,
  rows: { top: number; bottom: number },
  others: readonly PixelBox[],
  gap = 3,
  ringWidth = 6,
): number {
  let sum = 0;
  let n = 0;
  const outer = gap + ringWidth;
  for (let r = Math.max(rows.top, box.y - outer); r < Math.min(rows.bottom, box.y + box.h + outer); r++) {
    for (let c = Math.max(0, box.x - outer); c < Math.min(frameWidth, box.x + box.w + outer); c++) {
      if (inside(box, c, r, gap) || others.some((o) => inside(o, c, r, gap))) continue;
      sum += y[r * frameWidth + c] as number;
      n++;
    }
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Pixels brighter than `threshold` in rows top..bottom that lie outside every box grown by `margin`. */
export function brightOutside(
  y: Uint8Array,
  width: number,
  rows: { top: number; bottom: number },
  boxes: readonly PixelBox[],
  threshold: number,
  margin: number,
): number {
  let count = 0;
  for (let r = rows.top; r < rows.bottom; r++) {
    for (let c = 0; c < width; c++) {
      if ((y[r * width + c] as number) > threshold && !boxes.some((b) => inside(b, c, r, margin))) count++;
    }
  }
  return count;
}

export function diffStats(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

export function boxesOverlap(a: PixelBox, b: PixelBox): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** The belt band of a frame of this height (rows the parts live in). */
export function beltRows(height: number): { top: number; bottom: number } {
  const top = Math.round(height * 0.1);
  return { top, bottom: height - top };
}
