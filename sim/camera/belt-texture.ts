/**
 * The conveyor's look: a textured belt band across the middle of the frame that moves in
 * +x, and static rails above and below it. The belt texture is periodic in x, stored twice
 * over side by side, so any shifted row is one contiguous slice (a memcpy per row).
 */

/** The belt spans the middle 80% of the height; parts stay inside it. */
export const BELT_MARGIN_SHARE = 0.1;
/** Belt albedo never exceeds this, so anything brighter in the band is a part. */
export const BELT_MAX_LUMA = 100;
/** Mean belt albedo before texture. */
export const BELT_MEAN_LUMA = 72;
const RAIL_LUMA = 150;
const RAIL_EDGE_LUMA = 40;

export class BeltTexture {
  readonly width: number;
  readonly height: number;
  /** First belt row and the row after the last one. */
  readonly top: number;
  readonly bottom: number;
  /** Length of one texture period along the belt, a whole number of slats. */
  readonly period: number;
  readonly slatSpacing: number;
  private readonly stride: number;
  private readonly texture: Float32Array;

  constructor(width: number, height: number, random: () => number) {
    this.width = width;
    this.height = height;
    this.top = Math.round(height * BELT_MARGIN_SHARE);
    this.bottom = height - this.top;
    this.slatSpacing = Math.max(4, Math.round(height * 0.06));
    this.period = Math.ceil(width / this.slatSpacing) * this.slatSpacing;
    this.stride = this.period + width;
    this.texture = this.paintTexture(random);
  }

  /** Belt albedo for frame row `row` (top <= row < bottom) when the belt has moved `travelPx`. */
  row(row: number, travelPx: number): Float32Array {
    // The belt moves +x: screen x shows belt coordinate x - travel.
    const shift = (((-travelPx % this.period) + this.period) % this.period);
    const start = (row - this.top) * this.stride + shift;
    return this.texture.subarray(start, start + this.width);
  }

  /** Rails and their dark edges for the rows outside the belt; they never change. */
  paintRails(albedo: Float32Array, random: () => number): void {
    const { width, top, bottom, height } = this;
    const edgeRows = Math.max(1, Math.round(height * 0.006));
    for (let row = 0; row < height; row++) {
      if (row >= top && row < bottom) continue;
      const distance = row < top ? top - 1 - row : row - bottom;
      // Brushed metal: a per-row streak level plus fine grain.
      const streak = (random() - 0.5) * 12;
      const level = distance < edgeRows ? RAIL_EDGE_LUMA : RAIL_LUMA + streak;
      for (let x = 0; x < width; x++) albedo[row * width + x] = level + (random() - 0.5) * 6;
    }
  }

  private paintTexture(random: () => number): Float32Array {
    const { period, stride, slatSpacing } = this;
    const rows = this.bottom - this.top;
    // Fine grain: uniform noise, then a 2x2 box average so it reads as texture, not salt.
    const grain = new Float32Array(period * rows);
    for (let i = 0; i < grain.length; i++) grain[i] = (random() - 0.5) * 28;
    // Mottling: a few broad waves with a whole number of cycles per period, so it tiles.
    const waves = Array.from({ length: 3 }, () => ({
      kx: (2 * Math.PI * (2 + Math.floor(random() * 7))) / period,
      ky: (2 * Math.PI * (0.5 + random() * 2)) / Math.max(1, rows),
      phase: random() * 2 * Math.PI,
      amplitude: 2 + random() * 2,
    }));
    // Separable waves: tabulate each one's column and row factors once.
    const waveColumns = waves.map((w) => Float32Array.from({ length: period }, (_, c) => w.amplitude * Math.sin(w.kx * c + w.phase)));
    const waveRows = waves.map((w) => Float32Array.from({ length: rows }, (_, r) => Math.cos(w.ky * r)));
    const seamWidth = Math.max(1, Math.round(this.height * 0.006));
    const texture = new Float32Array(stride * rows);
    for (let r = 0; r < rows; r++) {
      const below = Math.min(rows - 1, r + 1);
      const [rowA, rowB, rowC] = waveRows.map((w) => w[r] as number) as [number, number, number];
      const [colA, colB, colC] = waveColumns as [Float32Array, Float32Array, Float32Array];
      for (let c = 0; c < period; c++) {
        const right = (c + 1) % period;
        let value =
          BELT_MEAN_LUMA +
          ((grain[r * period + c] as number) +
            (grain[r * period + right] as number) +
            (grain[below * period + c] as number) +
            (grain[below * period + right] as number)) /
            4;
        value += (colA[c] as number) * rowA + (colB[c] as number) * rowB + (colC[c] as number) * rowC;
        // Slat seam: a faint dark groove across the belt, with a 1 px soft edge.
        const fromSeam = c % slatSpacing;
        const seam = Math.max(0, Math.min(1, seamWidth - fromSeam + 0.5));
        value -= 14 * seam;
        if (fromSeam === seamWidth) value += 4; // the slat's lit leading edge
        texture[r * stride + c] = Math.max(35, Math.min(BELT_MAX_LUMA, value));
      }
      texture.copyWithin(r * stride + period, r * stride, r * stride + stride - period);
    }
    return texture;
  }
}
