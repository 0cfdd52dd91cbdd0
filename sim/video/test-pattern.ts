import type { RawFrame } from '../../runtime/pipeline/frame.js';

/**
 * A synthetic test picture: a bright square moving over a dark checkerboard, with the
 * picture's index written into its top rows as a bar code (16x16-pixel black or white
 * cells, most significant bit first), so a test can tell which picture a decoded frame
 * was even after lossy compression.
 */

const CELL = 16;
export const INDEX_BITS = 12;

/** A packed I420 picture (Y, U, V planes back to back) of picture `index`. */
export function testPattern(width: number, height: number, index: number): Uint8Array {
  const cw = width / 2;
  const ch = height / 2;
  const out = new Uint8Array(width * height + 2 * cw * ch);
  const side = Math.max(CELL, Math.floor(Math.min(width, height) / 4));
  const sx = (index * 7) % Math.max(1, width - side);
  const sy = CELL + ((index * 3) % Math.max(1, height - side - CELL));
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const inSquare = x >= sx && x < sx + side && y >= sy && y < sy + side;
      out[y * width + x] = inSquare ? 220 : ((x >> 5) + (y >> 5)) & 1 ? 90 : 60;
    }
  }
  for (let bit = 0; bit < INDEX_BITS && (bit + 1) * CELL <= width; bit += 1) {
    const on = ((index >> (INDEX_BITS - 1 - bit)) & 1) === 1;
    for (let y = 0; y < CELL; y += 1) out.fill(on ? 235 : 16, y * width + bit * CELL, y * width + (bit + 1) * CELL);
  }
  out.fill(110, width * height, width * height + cw * ch);
  out.fill(150, width * height + cw * ch);
  return out;
}

/** Reads back the index a `testPattern` picture carries (from the centre of each cell). */
export function patternIndex(frame: RawFrame): number {
  const y0 = frame.layout[0];
  if (y0 === undefined) throw new RangeError('frame has no planes');
  let index = 0;
  for (let bit = 0; bit < INDEX_BITS; bit += 1) {
    const v = frame.data[y0.offset + (CELL / 2) * y0.stride + bit * CELL + CELL / 2] ?? 0;
    index = (index << 1) | (v > 128 ? 1 : 0);
  }
  return index;
}
