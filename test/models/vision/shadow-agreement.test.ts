import { describe, expect, it } from 'vitest';
import { agreement } from '../../../models/vision/vision-shadow.js';
import type { FrameResult } from '../../../models/vision/vision-model.js';

const classes = (...ids: number[]): FrameResult => ({ kind: 'classes', classes: ids.map((classId, i) => ({ classId, score: 0.9 - i * 0.1, className: `c${classId}` })) });
const boxes = (n: number): FrameResult => ({ kind: 'detections', detections: Array.from({ length: n }, (_, i) => ({ box: { x: i * 100, y: 0, w: 50, h: 50 }, score: 0.9, classId: 0, className: 'c0' })) });

describe('shadow agreement per frame', () => {
  it('detections: matched one-to-one at IoU >= 0.5', () => {
    expect(agreement(boxes(3), boxes(2))).toEqual({ active: 3, candidate: 2, matched: 2, sameClass: 2 });
  });

  it('classification: one whole-frame answer each, the same class when the top classes are', () => {
    expect(agreement(classes(2, 1), classes(2, 0))).toEqual({ active: 1, candidate: 1, matched: 1, sameClass: 1 });
    expect(agreement(classes(2, 1), classes(1, 2))).toEqual({ active: 1, candidate: 1, matched: 1, sameClass: 0 });
    expect(agreement(classes(), classes(1))).toEqual({ active: 0, candidate: 1, matched: 0, sameClass: 0 });
  });

  it('a classifier against a detector agrees on nothing', () => {
    expect(agreement(classes(1), boxes(2))).toEqual({ active: 1, candidate: 2, matched: 0, sameClass: 0 });
  });
});
