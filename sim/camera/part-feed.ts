/**
 * The parts on the belt, placed in belt coordinates so they ride with the texture and
 * never move relative to each other. A new part is drawn at an exponential distance
 * upstream of the last one and pushed further upstream until it keeps a minimum gap from
 * every part it would otherwise touch, so parts never overlap.
 */
import { randomPartSpec, PART_SIZE_SHARE_OF_HEIGHT, PART_SIZE_SPREAD, type PartSpec } from './part-spec.js';
import { renderPartSprite, type PartSprite } from './part-sprite.js';

export interface FeedPart {
  id: number;
  spec: PartSpec;
  sprite: PartSprite;
  /** The sprite's left column on screen is travel - anchor (whole pixels). */
  anchor: number;
  /** The sprite's top row on screen. */
  top: number;
  /** Set once the part has been visible in a frame (for the scene's parts log). */
  seen: boolean;
}

export interface PartFeedOptions {
  width: number;
  height: number;
  beltTop: number;
  beltBottom: number;
  meanSpacingPx: number;
  defectShare: number;
  random: () => number;
}

/** Minimum gap between parts and between a part and the belt's edges, in pixels. */
export function partGapPx(height: number): number {
  return Math.max(3, Math.round(height * 0.03));
}

export class PartFeed {
  private readonly parts: FeedPart[] = [];
  private nextId = 1;
  private readonly gap: number;
  /** No sprite is wider than this, so a part anchored further upstream cannot show yet. */
  private readonly maxSpriteSize: number;

  constructor(private readonly options: PartFeedOptions) {
    this.gap = partGapPx(options.height);
    this.maxSpriteSize = Math.ceil(options.height * PART_SIZE_SHARE_OF_HEIGHT * (1 + PART_SIZE_SPREAD) * 1.3) + 5;
  }

  /** Parts whose sprite may intersect the frame at this (whole-pixel) travel, in id order. */
  onScreen(travel: number): FeedPart[] {
    while (this.parts.length === 0 || (this.parts[this.parts.length - 1] as FeedPart).anchor < travel + this.maxSpriteSize) {
      this.parts.push(this.makePart());
    }
    // Parts only move right, so a part past the right edge is gone for good.
    while (this.parts.length > 0 && travel - (this.parts[0] as FeedPart).anchor >= this.options.width) this.parts.shift();
    return this.parts.filter((p) => travel - p.anchor < this.options.width && travel - p.anchor + p.sprite.size > 0);
  }

  private makePart(): FeedPart {
    const { random, height, beltTop, beltBottom, meanSpacingPx, defectShare } = this.options;
    const spec = randomPartSpec(random, height, defectShare);
    const sprite = renderPartSprite(spec);
    const lowest = beltTop + this.gap - sprite.y0;
    const highest = beltBottom - this.gap - sprite.y1;
    const top = Math.round(lowest + Math.max(0, highest - lowest) * random());
    const last = this.parts[this.parts.length - 1];
    let anchor = last ? last.anchor + Math.round(-meanSpacingPx * Math.log(1 - random())) : 0;
    const part: FeedPart = { id: this.nextId++, spec, sprite, anchor, top, seen: false };
    for (let moved = true; moved; ) {
      moved = false;
      for (const other of this.parts) {
        if (!this.tooClose(part, other)) continue;
        // Put the new part just upstream (left) of the one it touches, one gap away.
        anchor = other.anchor - other.sprite.x0 + sprite.x1 + this.gap;
        part.anchor = anchor;
        moved = true;
      }
    }
    return part;
  }

  /** Whether two parts' boxes come closer than the gap, in belt coordinates. */
  private tooClose(a: FeedPart, b: FeedPart): boolean {
    const g = this.gap;
    const ax0 = -a.anchor + a.sprite.x0, ax1 = -a.anchor + a.sprite.x1;
    const bx0 = -b.anchor + b.sprite.x0, bx1 = -b.anchor + b.sprite.x1;
    const ay0 = a.top + a.sprite.y0, ay1 = a.top + a.sprite.y1;
    const by0 = b.top + b.sprite.y0, by1 = b.top + b.sprite.y1;
    return ax0 < bx1 + g && bx0 < ax1 + g && ay0 < by1 + g && by0 < ay1 + g;
  }
}
