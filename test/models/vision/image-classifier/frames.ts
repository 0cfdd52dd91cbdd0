import type { RgbImage } from '../../../../models/datasets/types.js';
import { packedLayout, type RawFrame } from '../../../../runtime/pipeline/frame.js';

/**
 * An RGB picture as a camera's decoder hands it over: I420, BT.601 limited range (what
 * preprocess.ts assumes of H.264), chroma averaged over 2x2 blocks. Even sizes only.
 */
export function i420Frame(image: RgbImage, timestampUs: number): RawFrame {
  const { width: w, height: h, data } = image;
  if (w % 2 !== 0 || h % 2 !== 0) throw new RangeError('i420Frame: even sizes only');
  const { layout, size } = packedLayout('I420', w, h);
  const out = new Uint8Array(size);
  const cw = w / 2;
  const uOff = (layout[1] as { offset: number }).offset;
  const vOff = (layout[2] as { offset: number }).offset;
  const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const i = (y * w + x) * 3;
      const r = data[i] as number;
      const g = data[i + 1] as number;
      const b = data[i + 2] as number;
      out[y * w + x] = clamp(16 + 0.257 * r + 0.504 * g + 0.098 * b);
    }
  }
  for (let y = 0; y < h / 2; y += 1) {
    for (let x = 0; x < cw; x += 1) {
      let u = 0;
      let v = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const i = ((2 * y + dy) * w + 2 * x + dx) * 3;
        const r = data[i] as number;
        const g = data[i + 1] as number;
        const b = data[i + 2] as number;
        u += 128 - 0.148 * r - 0.291 * g + 0.439 * b;
        v += 128 + 0.439 * r - 0.368 * g - 0.071 * b;
      }
      out[uOff + y * cw + x] = clamp(u / 4);
      out[vOff + y * cw + x] = clamp(v / 4);
    }
  }
  return { format: 'I420', width: w, height: h, data: out, layout, timestampUs };
}
