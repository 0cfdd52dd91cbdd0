import { iou, type Box } from './geometry.js';

export interface Detection {
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
}

/**
 * Class-wise non-maximum suppression: per class, the highest-scoring box is kept and every
 * box of that class overlapping it by more than `iouThreshold` is dropped; repeat. Returns
 * the kept detections (a subset of the input, the same objects), highest score first, at
 * most `maxDetections`.
 */
export function nms<T extends Detection>(detections: readonly T[], iouThreshold: number, maxDetections = 300): T[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length && kept.length < maxDetections; i += 1) {
    if (suppressed[i] === 1) continue;
    const d = sorted[i] as T;
    kept.push(d);
    for (let j = i + 1; j < sorted.length; j += 1) {
      const o = sorted[j] as T;
      if (suppressed[j] === 0 && o.classId === d.classId && iou(d.box, o.box) > iouThreshold) suppressed[j] = 1;
    }
  }
  return kept;
}
