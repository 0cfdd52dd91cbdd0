import type { DetectionDataset } from '../../datasets/types.js';
import { RECEPTIVE_FIELD } from './architecture.js';

/** The input size the detector is made for (a 640 x 640 board with 10-40 px defects). */
export const MAX_INPUT_SIZE = 640;
const MIN_INPUT_SIZE = 128;
/** Input sizes are multiples of this (the stride, and what YOLO exports use). */
const INPUT_STEP = 32;

/**
 * The model input size for a dataset when none is asked for: 640, unless the objects are so big
 * that their centre cell, which sees 47 px, would not see their edges, then as much smaller as
 * brings the 90th percentile of object sizes down to 47 px (whole parts on a belt: 50-85 px in
 * a 640-wide frame, so 384). Boxes are normalised to their image, and the long side of a
 * letterboxed image spans the input, so a box's size in input pixels is at most its larger
 * normalised side times the input size: no image needs decoding to choose.
 */
export function autoInputSize(dataset: Pick<DetectionDataset, 'train'>): number {
  const sides = dataset.train.flatMap((s) => s.boxes.map((b) => Math.max(b.w, b.h))).sort((a, b) => a - b);
  if (sides.length === 0) return MAX_INPUT_SIZE;
  const p90 = sides[Math.min(sides.length - 1, Math.floor(sides.length * 0.9))] as number;
  if (!(p90 > 0)) return MAX_INPUT_SIZE;
  const size = Math.floor(RECEPTIVE_FIELD / p90 / INPUT_STEP) * INPUT_STEP;
  return Math.max(MIN_INPUT_SIZE, Math.min(MAX_INPUT_SIZE, size));
}
