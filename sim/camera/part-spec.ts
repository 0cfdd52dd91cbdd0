/**
 * What one part looks like, drawn at random once when the part is made: shape, size,
 * rotation, shading and the geometry of its defect. The sprite renders from this alone.
 */
import { PART_DEFECTS, PART_SHAPES, type PartDefect, type PartShape } from './types.js';

/** Part size relative to frame height, and the per-part spread around it. */
export const PART_SIZE_SHARE_OF_HEIGHT = 0.17;
export const PART_SIZE_SPREAD = 0.15;

export interface ScratchSpec {
  /** Direction of the line. */
  angleRad: number;
  /** Distance of the line from the part centre: keeps it clear of the hole. */
  offsetPx: number;
  lengthPx: number;
  thicknessPx: number;
}

export interface DentSpec {
  /** Centre of the blotch, relative to the part centre. */
  dxPx: number;
  dyPx: number;
  radiusXPx: number;
  radiusYPx: number;
  orientationRad: number;
  /** Albedo grey levels taken off at the blotch's core. */
  depth: number;
}

export interface PartSpec {
  shape: PartShape;
  defect: PartDefect;
  /** Disc diameter, square side / 0.9, hexagon corner-to-corner / 1.04: all about this across. */
  sizePx: number;
  rotationRad: number;
  /** Albedo of the metal before shading (the belt is about 72). */
  baseLuma: number;
  /** Direction the shading gradient brightens towards. */
  shadeAngleRad: number;
  scratch?: ScratchSpec;
  dent?: DentSpec;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))] as T;
}

function between(random: () => number, low: number, high: number): number {
  return low + (high - low) * random();
}

export function randomPartSpec(random: () => number, frameHeight: number, defectShare: number): PartSpec {
  const shape = pick(random, PART_SHAPES);
  const defect: PartDefect = random() < defectShare ? pick(random, PART_DEFECTS) : 'none';
  const sizePx = frameHeight * PART_SIZE_SHARE_OF_HEIGHT * between(random, 1 - PART_SIZE_SPREAD, 1 + PART_SIZE_SPREAD);
  const spec: PartSpec = {
    shape,
    defect,
    sizePx,
    // A disc looks the same at every angle; the draw is kept so the stream does not depend on shape.
    rotationRad: between(random, 0, Math.PI),
    baseLuma: between(random, 178, 200),
    shadeAngleRad: between(random, 0, 2 * Math.PI),
  };
  if (defect === 'scratch') {
    // Offset >= hole radius + half thickness so the line never hides in the hole; length
    // <= the chord at the largest offset, so the whole line stays on the part.
    spec.scratch = {
      angleRad: between(random, 0, Math.PI),
      offsetPx: sizePx * between(random, 0.18, 0.25) * (random() < 0.5 ? -1 : 1),
      lengthPx: sizePx * between(random, 0.65, 0.75),
      thicknessPx: Math.max(2, sizePx * between(random, 0.05, 0.07)),
    };
  } else if (defect === 'dent') {
    const towards = between(random, 0, 2 * Math.PI);
    const distance = sizePx * between(random, 0.3, 0.33);
    spec.dent = {
      dxPx: distance * Math.cos(towards),
      dyPx: distance * Math.sin(towards),
      radiusXPx: sizePx * between(random, 0.18, 0.22),
      radiusYPx: sizePx * between(random, 0.13, 0.17),
      orientationRad: between(random, 0, Math.PI),
      depth: between(random, 80, 100),
    };
  }
  return spec;
}
