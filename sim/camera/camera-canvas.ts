/**
 * Composes one camera frame: belt and rails as albedo, parts blitted over it, then the
 * sensor: light gain per column, +-1 grey level of noise, rounding into I420 planes.
 * Albedo is reused between frames; the planes handed out are new for every frame.
 */
import type { BeltTexture } from './belt-texture.js';
import type { PartSprite } from './part-sprite.js';
import type { PixelBox } from './types.js';

/** Sensor noise is drawn from a table of -1, 0, 0, +1 at a random start per row: cheap, and never more than 1 level. */
const NOISE_TABLE_LENGTH = 1 << 16;
const NOISE_LEVELS = [-1, 0, 0, 1] as const;

/** Slight tints so the chroma planes are not flat: warm belt, neutral rails, cool metal. */
const BELT_TINT = { u: 126, v: 131 };
const RAIL_TINT = { u: 128, v: 128 };
const PART_TINT = { u: 131, v: 126 };

export interface PlacedPart {
  sprite: PartSprite;
  /** Frame position of the sprite's top-left pixel (may be outside the frame). */
  x: number;
  y: number;
}

export interface PartPlacement {
  box: PixelBox;
  visible: number;
}

export class CameraCanvas {
  readonly width: number;
  readonly height: number;
  private readonly belt: BeltTexture;
  private readonly albedo: Float32Array;
  private readonly noise: Float32Array;
  private readonly backgroundU: Uint8Array;
  private readonly backgroundV: Uint8Array;

  constructor(belt: BeltTexture, random: () => number) {
    const { width, height } = belt;
    if (width % 2 !== 0 || height % 2 !== 0 || width < 16 || height < 16) {
      throw new RangeError(`camera frame must have even width and height >= 16 (I420), got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.belt = belt;
    this.albedo = new Float32Array(width * height);
    belt.paintRails(this.albedo, random);
    this.noise = new Float32Array(NOISE_TABLE_LENGTH + width);
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = NOISE_LEVELS[Math.floor(random() * 4)] as number;
    const chromaSize = (width / 2) * (height / 2);
    this.backgroundU = new Uint8Array(chromaSize);
    this.backgroundV = new Uint8Array(chromaSize);
    for (let cy = 0; cy < height / 2; cy++) {
      const onBelt = 2 * cy >= belt.top && 2 * cy < belt.bottom;
      const tint = onBelt ? BELT_TINT : RAIL_TINT;
      this.backgroundU.fill(tint.u, (cy * width) / 2, ((cy + 1) * width) / 2);
      this.backgroundV.fill(tint.v, (cy * width) / 2, ((cy + 1) * width) / 2);
    }
  }

  /** Lays the belt band down again, shifted by the whole pixels it has travelled. */
  paintBelt(travelPx: number): void {
    for (let row = this.belt.top; row < this.belt.bottom; row++) {
      this.albedo.set(this.belt.row(row, travelPx), row * this.width);
    }
  }

  /** Blits a sprite; returns its truth box and visible share, or undefined if no pixel of it shows. */
  drawPart({ sprite, x, y }: PlacedPart): PartPlacement | undefined {
    const { width, height, albedo } = this;
    const { size, luma, alpha } = sprite;
    const c0 = Math.max(0, -x);
    const c1 = Math.min(size, width - x);
    const r0 = Math.max(0, -y);
    const r1 = Math.min(size, height - y);
    if (c0 >= c1 || r0 >= r1) return undefined;
    for (let r = r0; r < r1; r++) {
      const src = r * size;
      const dst = (y + r) * width + x;
      for (let c = c0; c < c1; c++) {
        const a = alpha[src + c] as number;
        if (a === 0) continue;
        const under = albedo[dst + c] as number;
        albedo[dst + c] = under + a * ((luma[src + c] as number) - under);
      }
    }
    const bx0 = Math.max(0, x + sprite.x0);
    const bx1 = Math.min(width, x + sprite.x1);
    const by0 = Math.max(0, y + sprite.y0);
    const by1 = Math.min(height, y + sprite.y1);
    if (bx0 >= bx1 || by0 >= by1) return undefined;
    return { box: { x: bx0, y: by0, w: bx1 - bx0, h: by1 - by0 }, visible: visibleShare(sprite, c0, c1, r0, r1) };
  }

  /** The sensor: albedo * per-column gain + noise, rounded and clamped to 0..255 (a new plane). */
  exposeLuma(columnGains: Float32Array, random: () => number): Uint8Array {
    const { width, height, albedo, noise } = this;
    const out = new Uint8ClampedArray(width * height);
    for (let row = 0; row < height; row++) {
      const o = row * width;
      const n = Math.floor(random() * NOISE_TABLE_LENGTH);
      for (let x = 0; x < width; x++) {
        out[o + x] = (albedo[o + x] as number) * (columnGains[x] as number) + (noise[n + x] as number);
      }
    }
    return new Uint8Array(out.buffer);
  }

  /** Chroma planes: the static tints with each part's coverage stamped in (new planes). */
  chroma(parts: readonly PlacedPart[]): { u: Uint8Array; v: Uint8Array } {
    const u = this.backgroundU.slice();
    const v = this.backgroundV.slice();
    const chromaWidth = this.width / 2;
    const chromaHeight = this.height / 2;
    for (const { sprite, x, y } of parts) {
      const cx0 = Math.max(0, Math.ceil(x / 2));
      const cx1 = Math.min(chromaWidth, Math.ceil((x + sprite.size) / 2));
      const cy0 = Math.max(0, Math.ceil(y / 2));
      const cy1 = Math.min(chromaHeight, Math.ceil((y + sprite.size) / 2));
      for (let cy = cy0; cy < cy1; cy++) {
        const src = (2 * cy - y) * sprite.size - x;
        for (let cx = cx0; cx < cx1; cx++) {
          const a = sprite.alpha[src + 2 * cx] as number;
          if (a === 0) continue;
          const i = cy * chromaWidth + cx;
          u[i] = Math.round((u[i] as number) + a * (PART_TINT.u - (u[i] as number)));
          v[i] = Math.round((v[i] as number) + a * (PART_TINT.v - (v[i] as number)));
        }
      }
    }
    return { u, v };
  }
}

/** Share of the sprite's coverage inside sprite columns c0..c1 and rows r0..r1. */
function visibleShare(sprite: PartSprite, c0: number, c1: number, r0: number, r1: number): number {
  const total = sprite.columnCoverage[sprite.size] as number;
  if (r0 === 0 && r1 === sprite.size) {
    return ((sprite.columnCoverage[c1] as number) - (sprite.columnCoverage[c0] as number)) / total;
  }
  let inside = 0;
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) inside += sprite.alpha[r * sprite.size + c] as number;
  }
  return inside / total;
}
