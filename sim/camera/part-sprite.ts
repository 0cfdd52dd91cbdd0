/**
 * A part rendered once into a small albedo + coverage bitmap. Parts ride the belt without
 * turning, so every frame only blits this bitmap at an integer offset.
 */
import type { PartSpec } from './part-spec.js';

export interface PartSprite {
  /** Square bitmap side in pixels. */
  size: number;
  /** Albedo (grey level before light and sensor), row-major size*size. */
  luma: Float32Array;
  /** Coverage 0..1, anti-aliased over one pixel at every edge. */
  alpha: Float32Array;
  /** Tight bounds of pixels with coverage >= 0.5, end-exclusive, in sprite coordinates. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** columnCoverage[c] = sum of alpha over columns < c; the last entry is the part's area. */
  columnCoverage: Float64Array;
}

const HOLE_RADIUS_SHARE = 0.14;
const HOLE_LUMA = 30;
const SCRATCH_LUMA = 55;
const SHADE_SPAN = 18;
const RIM_DARKENING = 24;

/** Signed distance in pixels to the part's outline, positive inside (exact enough for 1 px AA). */
function outlineDistance(spec: PartSpec, lx: number, ly: number): number {
  const s = spec.sizePx;
  switch (spec.shape) {
    case 'disc':
      return s / 2 - Math.hypot(lx, ly);
    case 'square':
      return (0.9 * s) / 2 - Math.max(Math.abs(lx), Math.abs(ly));
    case 'hexagon': {
      const inradius = 0.52 * s * (Math.sqrt(3) / 2);
      const a = Math.abs(lx);
      const b = Math.abs(0.5 * lx + 0.8660254 * ly);
      const c = Math.abs(-0.5 * lx + 0.8660254 * ly);
      return inradius - Math.max(a, b, c);
    }
  }
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = clamp01((x - edge0) / (edge1 - edge0));
  return t * t * (3 - 2 * t);
}

export function renderPartSprite(spec: PartSpec): PartSprite {
  // 1.3 covers a rotated square's diagonal (0.9 * sqrt 2 = 1.27); +4 leaves room for the AA fringe.
  const size = Math.ceil(spec.sizePx * 1.3) + 4;
  const centre = size / 2;
  const luma = new Float32Array(size * size);
  const alpha = new Float32Array(size * size);
  const cosR = Math.cos(spec.rotationRad);
  const sinR = Math.sin(spec.rotationRad);
  const shadeX = Math.cos(spec.shadeAngleRad);
  const shadeY = Math.sin(spec.shadeAngleRad);
  const half = spec.sizePx / 2;
  const rimWidth = Math.max(1.5, 0.05 * spec.sizePx);
  const holeRadius = HOLE_RADIUS_SHARE * spec.sizePx;
  const { scratch, dent } = spec;
  const scratchDirX = scratch ? Math.cos(scratch.angleRad) : 0;
  const scratchDirY = scratch ? Math.sin(scratch.angleRad) : 0;
  const dentCos = dent ? Math.cos(dent.orientationRad) : 0;
  const dentSin = dent ? Math.sin(dent.orientationRad) : 0;

  let x0 = size, y0 = size, x1 = 0, y1 = 0;
  for (let row = 0; row < size; row++) {
    const py = row + 0.5 - centre;
    for (let col = 0; col < size; col++) {
      const px = col + 0.5 - centre;
      const lx = px * cosR + py * sinR;
      const ly = -px * sinR + py * cosR;
      const inside = outlineDistance(spec, lx, ly);
      const coverage = clamp01(inside + 0.5);
      if (coverage === 0) continue;
      const i = row * size + col;
      alpha[i] = coverage;
      if (coverage >= 0.5) {
        if (col < x0) x0 = col;
        if (col >= x1) x1 = col + 1;
        if (row < y0) y0 = row;
        if (row >= y1) y1 = row + 1;
      }
      let value = spec.baseLuma + (SHADE_SPAN * (px * shadeX + py * shadeY)) / half;
      value -= RIM_DARKENING * (1 - clamp01(inside / rimWidth));
      if (dent) {
        const dx = px - dent.dxPx;
        const dy = py - dent.dyPx;
        const u = (dx * dentCos + dy * dentSin) / dent.radiusXPx;
        const v = (-dx * dentSin + dy * dentCos) / dent.radiusYPx;
        // Full depth inside 55% of the radius, fading to nothing at the rim: a soft edge.
        value -= dent.depth * (1 - smoothstep(0.55, 1, Math.hypot(u, v)));
      }
      if (scratch) {
        const along = px * scratchDirX + py * scratchDirY;
        const across = -px * scratchDirY + py * scratchDirX - scratch.offsetPx;
        const ink =
          clamp01(scratch.thicknessPx / 2 - Math.abs(across) + 0.5) *
          clamp01(scratch.lengthPx / 2 - Math.abs(along) + 0.5);
        value += (SCRATCH_LUMA - value) * ink;
      }
      if (spec.defect !== 'missing-hole') {
        const hole = clamp01(holeRadius - Math.hypot(px, py) + 0.5);
        value += (HOLE_LUMA - value) * hole;
      }
      luma[i] = value < 0 ? 0 : value;
    }
  }
  const columnCoverage = new Float64Array(size + 1);
  for (let col = 0; col < size; col++) {
    let sum = 0;
    for (let row = 0; row < size; row++) sum += alpha[row * size + col] as number;
    columnCoverage[col + 1] = (columnCoverage[col] as number) + sum;
  }
  return { size, luma, alpha, x0, y0, x1, y1, columnCoverage };
}
