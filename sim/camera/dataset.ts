/**
 * Single labelled stills for training and evaluating the part detector: the conveyor's
 * look (belt, rails, parts, light, sensor) with 0-4 parts dropped at random, some cut by
 * the frame's left or right edge. The same seed always gives the same image, so disjoint
 * seed ranges give disjoint training and held-out sets.
 */
import { BeltTexture } from './belt-texture.js';
import { CameraCanvas, type PlacedPart } from './camera-canvas.js';
import { Lighting } from './lighting.js';
import { partGapPx } from './part-feed.js';
import { randomPartSpec } from './part-spec.js';
import { renderPartSprite, type PartSprite } from './part-sprite.js';
import { randomStream } from './random-streams.js';
import type { PartTruth } from './types.js';

export interface LabelledStillOptions {
  /** Share of parts with a defect. Default 0.5: balanced classes for training. */
  defectShare?: number;
  /** Parts per image are drawn uniformly from 0..maxParts. Default 4. */
  maxParts?: number;
}

export interface LabelledStill {
  /** Luma plane, width*height. */
  y: Uint8Array;
  width: number;
  height: number;
  /** Parts with visible > 0, ids 1.. in placement order. */
  parts: PartTruth[];
}

/** A part's box must keep at least this share of its width inside the frame. */
const MIN_VISIBLE_WIDTH_SHARE = 0.25;
const PLACEMENT_TRIES = 40;

export function renderLabelledImage(seed: number, width: number, height: number, options: LabelledStillOptions = {}): LabelledStill {
  const defectShare = options.defectShare ?? 0.5;
  const maxParts = options.maxParts ?? 4;
  const look = randomStream(seed, 'look');
  const belt = new BeltTexture(width, height, look);
  const canvas = new CameraCanvas(belt, look);
  const lighting = new Lighting(width, look);
  const random = randomStream(seed, 'placement');
  canvas.paintBelt(Math.floor(random() * belt.period));

  const gap = partGapPx(height);
  const count = Math.floor(random() * (maxParts + 1));
  const placed: PlacedPart[] = [];
  const parts: PartTruth[] = [];
  for (let n = 0; n < count; n++) {
    const spec = randomPartSpec(random, height, defectShare);
    const sprite = renderPartSprite(spec);
    const at = findFreeSpot(sprite, placed, random, width, belt.top + gap, belt.bottom - gap, gap);
    if (!at) continue; // the belt is too crowded for this one: fewer parts, never overlapping ones
    const placement = canvas.drawPart(at);
    if (!placement) continue;
    placed.push(at);
    parts.push({ id: parts.length + 1, shape: spec.shape, defect: spec.defect, ...placement });
  }
  const gains = lighting.columnGains(0.85 + 0.3 * random(), new Float32Array(width));
  const y = canvas.exposeLuma(gains, randomStream(seed, 'sensor'));
  return { y, width, height, parts };
}

function findFreeSpot(
  sprite: PartSprite,
  placed: readonly PlacedPart[],
  random: () => number,
  width: number,
  top: number,
  bottom: number,
  gap: number,
): PlacedPart | undefined {
  const boxWidth = sprite.x1 - sprite.x0;
  const keep = Math.ceil(boxWidth * MIN_VISIBLE_WIDTH_SHARE);
  const lowestX = keep - sprite.x1;
  const highestX = width - keep - sprite.x0;
  const lowestY = top - sprite.y0;
  const highestY = Math.max(lowestY, bottom - sprite.y1);
  for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
    const at = {
      sprite,
      x: Math.round(lowestX + (highestX - lowestX) * random()),
      y: Math.round(lowestY + (highestY - lowestY) * random()),
    };
    if (placed.every((other) => !boxesTouch(at, other, gap))) return at;
  }
  return undefined;
}

function boxesTouch(a: PlacedPart, b: PlacedPart, gap: number): boolean {
  return (
    a.x + a.sprite.x0 < b.x + b.sprite.x1 + gap &&
    b.x + b.sprite.x0 < a.x + a.sprite.x1 + gap &&
    a.y + a.sprite.y0 < b.y + b.sprite.y1 + gap &&
    b.y + b.sprite.y0 < a.y + a.sprite.y1 + gap
  );
}
