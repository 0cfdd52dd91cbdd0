import type { Box } from '../../../models/vision/geometry.js';
import type { TrackedDetection } from '../../../models/vision/tracker.js';
import { seededRandom } from '../../../models/train/random.js';

/**
 * Scripted detections of two objects that cross, as a detector would report them: object 0
 * passes in front of object 1, which is then seen only as its visible strip (the part not
 * behind object 0) and not at all while less than 35% of it shows; boxes jitter, and some
 * detections are missed. For tracker tests only: no pixels, just what a detector would say.
 */
export interface CrossingDetection {
  /** Which object (0 in front, 1 behind). */
  readonly object: 0 | 1;
  readonly det: TrackedDetection;
}

export interface CrossingScene {
  readonly frames: CrossingDetection[][];
  /** Each object's class. */
  readonly classes: readonly [number, number];
  /** Speed in box sizes per frame. */
  readonly speed: number;
}

/** What shows of `b` behind `front`: the largest strip of it outside `front`, or undefined when under 35% shows. */
export function visiblePart(b: Box, front: Box): Box | undefined {
  const ix0 = Math.max(b.x, front.x);
  const ix1 = Math.min(b.x + b.w, front.x + front.w);
  const iy0 = Math.max(b.y, front.y);
  const iy1 = Math.min(b.y + b.h, front.y + front.h);
  if (ix0 >= ix1 || iy0 >= iy1) return b;
  const strips = [
    { x: b.x, y: b.y, w: ix0 - b.x, h: b.h },
    { x: ix1, y: b.y, w: b.x + b.w - ix1, h: b.h },
    { x: b.x, y: b.y, w: b.w, h: iy0 - b.y },
    { x: b.x, y: iy1, w: b.w, h: b.y + b.h - iy1 },
  ]
    .filter((s) => s.w > 0 && s.h > 0)
    .sort((p, q) => q.w * q.h - p.w * p.h);
  const s = strips[0];
  return s !== undefined && s.w * s.h >= 0.35 * b.w * b.h ? s : undefined;
}

/**
 * One random crossing, 30 frames: boxes of 50..110 px, moving 0.1..0.8 of their size per
 * frame towards each other at up to ±34° apart, meeting at frame 10..19; jitter up to 6% of
 * the size; up to 10% of detections missed; the two of one class or of two.
 */
export function crossingScene(seed: number): CrossingScene {
  const rnd = seededRandom(seed);
  const size = 50 + rnd() * 60;
  const speed = 0.1 + rnd() * 0.7;
  const angle = (rnd() - 0.5) * 1.2;
  const jitter = rnd() * 0.06 * size;
  const missed = rnd() * 0.1;
  const classes: [number, number] = rnd() < 0.5 ? [0, 0] : [0, 1];
  const meetFrame = 10 + Math.floor(rnd() * 10);
  const v = speed * size;
  const velocities = [
    { x: v, y: 0 },
    { x: -v * Math.cos(angle), y: v * Math.sin(angle) },
  ];
  const frames: CrossingDetection[][] = [];
  for (let f = 0; f < 30; f += 1) {
    const boxes = velocities.map((u) => ({ x: 400 + u.x * (f - meetFrame) - size / 2, y: 300 + u.y * (f - meetFrame) - size / 2, w: size, h: size }));
    const dets: CrossingDetection[] = [];
    boxes.forEach((b, i) => {
      const shown = i === 1 ? visiblePart(b, boxes[0] as Box) : b;
      if (shown === undefined || rnd() < missed) return;
      const j = (): number => (rnd() - 0.5) * 2 * jitter;
      const box = { x: shown.x + j(), y: shown.y + j(), w: shown.w + j() / 2, h: shown.h + j() / 2 };
      dets.push({ object: i as 0 | 1, det: { box, score: 0.6 + 0.3 * rnd(), classId: classes[i] as number } });
    });
    frames.push(dets);
  }
  return { frames, classes, speed };
}
