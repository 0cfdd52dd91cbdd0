/**
 * A float RGB canvas that paints anti-aliased shapes by their signed distance (negative inside):
 * a pixel is covered by the share of it inside the shape, so edges are as soft as a camera's,
 * and a 10 px defect looks the same at every sub-pixel offset.
 */
export type Rgb = readonly [number, number, number];

export type Distance = (x: number, y: number) => number;

export class BoardCanvas {
  /** Interleaved RGB, 0..1. */
  readonly rgb: Float32Array;

  /** `dry`: paints nothing (a board's layout and labels without the cost of its pixels; drawing never consumes randomness). */
  constructor(
    readonly size: number,
    readonly dry = false,
  ) {
    this.rgb = new Float32Array(dry ? 0 : size * size * 3);
  }

  fill(colour: Rgb): void {
    if (this.dry) return;
    const [r, g, b] = colour;
    for (let i = 0; i < this.rgb.length; i += 3) {
      this.rgb[i] = r;
      this.rgb[i + 1] = g;
      this.rgb[i + 2] = b;
    }
  }

  /** Blends `colour` over the shape (anti-aliased), within the box x0..x1, y0..y1 (clipped to the canvas). */
  paint(x0: number, y0: number, x1: number, y1: number, distance: Distance, colour: Rgb, opacity = 1): void {
    if (this.dry) return;
    const xa = Math.max(0, Math.floor(x0) - 1);
    const ya = Math.max(0, Math.floor(y0) - 1);
    const xb = Math.min(this.size - 1, Math.ceil(x1) + 1);
    const yb = Math.min(this.size - 1, Math.ceil(y1) + 1);
    for (let y = ya; y <= yb; y += 1) {
      for (let x = xa; x <= xb; x += 1) {
        const cover = Math.min(1, Math.max(0, 0.5 - distance(x + 0.5, y + 0.5))) * opacity;
        if (cover <= 0) continue;
        const i = (y * this.size + x) * 3;
        for (let c = 0; c < 3; c += 1) this.rgb[i + c] = (this.rgb[i + c] as number) * (1 - cover) + (colour[c] as number) * cover;
      }
    }
  }

  capsule(ax: number, ay: number, bx: number, by: number, radius: number, colour: Rgb, opacity = 1): void {
    this.paint(Math.min(ax, bx) - radius, Math.min(ay, by) - radius, Math.max(ax, bx) + radius, Math.max(ay, by) + radius, segmentDistance(ax, ay, bx, by, radius), colour, opacity);
  }

  circle(cx: number, cy: number, radius: number, colour: Rgb, opacity = 1): void {
    this.paint(cx - radius, cy - radius, cx + radius, cy + radius, (x, y) => Math.sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - radius, colour, opacity);
  }

  /** An axis-aligned rectangle with rounded corners, by its centre and half sizes. */
  rect(cx: number, cy: number, hw: number, hh: number, corner: number, colour: Rgb, opacity = 1): void {
    this.paint(cx - hw, cy - hh, cx + hw, cy + hh, rectDistance(cx, cy, hw, hh, corner), colour, opacity);
  }

  /** Multiplies every pixel by a gain per channel and position (lighting). */
  light(gain: (x: number, y: number) => number, tint: Rgb): void {
    if (this.dry) return;
    for (let y = 0; y < this.size; y += 1) {
      for (let x = 0; x < this.size; x += 1) {
        const g = gain(x, y);
        const i = (y * this.size + x) * 3;
        for (let c = 0; c < 3; c += 1) this.rgb[i + c] = (this.rgb[i + c] as number) * g * (tint[c] as number);
      }
    }
  }

  /**
   * Bytes, with Gaussian sensor noise of deviation `sigma` added to every value. The draws come
   * from a table of 4096 normal values indexed by xorshift32 from `seed`: a board has 1.2 M
   * values, and a full Gaussian draw each cost 70 ms a board.
   */
  expose(sigma: number, seed: number): Uint8Array {
    const table = new Float32Array(4096);
    let s = (seed | 0) || 1;
    const next = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4294967296;
    };
    for (let i = 0; i < table.length; i += 1) table[i] = sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const out = new Uint8Array(this.rgb.length);
    for (let i = 0; i < out.length; i += 1) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const v = ((this.rgb[i] as number) + (table[s & 4095] as number)) * 255 + 0.5;
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
    return out;
  }
}

export function segmentDistance(ax: number, ay: number, bx: number, by: number, radius: number): Distance {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy || 1;
  return (x, y) => {
    const t = Math.min(1, Math.max(0, ((x - ax) * dx + (y - ay) * dy) / len2));
    const ex = x - ax - t * dx;
    const ey = y - ay - t * dy;
    return Math.sqrt(ex * ex + ey * ey) - radius;
  };
}

export function rectDistance(cx: number, cy: number, hw: number, hh: number, corner: number): Distance {
  return (x, y) => {
    const qx = Math.abs(x - cx) - hw + corner;
    const qy = Math.abs(y - cy) - hh + corner;
    return Math.sqrt(Math.max(qx, 0) ** 2 + Math.max(qy, 0) ** 2) + Math.min(Math.max(qx, qy), 0) - corner;
  };
}
