import { describe, expect, it } from 'vitest';
import { classMetrics } from '../../../models/vision/metrics.js';

const box = (x: number): { x: number; y: number; w: number; h: number } => ({ x, y: 0, w: 10, h: 10 });

describe('detection metrics', () => {
  it('computes precision, recall and AP50 as worked out by hand', () => {
    const m = classMetrics(
      [
        {
          truth: [
            { box: box(0), classId: 1, ignore: false },
            { box: box(100), classId: 1, ignore: false },
            { box: box(200), classId: 1, ignore: true },
            { box: box(300), classId: 0, ignore: false },
          ],
          detections: [
            { box: box(0), score: 0.9, classId: 1 }, // TP
            { box: box(50), score: 0.8, classId: 1 }, // FP: nothing there
            { box: box(101), score: 0.7, classId: 1 }, // TP (IoU 0.82)
            { box: box(200), score: 0.95, classId: 1 }, // on an ignored part: neither
            { box: box(300), score: 0.99, classId: 1 }, // wrong class: FP
          ],
        },
      ],
      1,
      0.75,
    );
    // Ranked: 0.99 FP (p 0), 0.9 TP (1/2, r .5), 0.8 FP (1/3), 0.7 TP (2/4, r 1).
    // Interpolated precision: r .5 -> max(1/2, 1/3, 2/4) = .5; r 1 -> .5. AP = .5*.5 + .5*.5 = .5.
    expect(m.ap50).toBeCloseTo(0.5, 9);
    expect(m).toMatchObject({ truePositives: 1, falsePositives: 2, falseNegatives: 1 });
    expect(m.precision).toBeCloseTo(1 / 3, 9);
    expect(m.recall).toBeCloseTo(0.5, 9);
  });

  it('is perfect for perfect detections and zero for none', () => {
    const truth = [{ box: box(0), classId: 1, ignore: false }];
    expect(classMetrics([{ truth, detections: [{ box: box(0), score: 0.9, classId: 1 }] }], 1, 0.5)).toMatchObject({ ap50: 1, precision: 1, recall: 1 });
    expect(classMetrics([{ truth, detections: [] }], 1, 0.5)).toMatchObject({ ap50: 0, recall: 0 });
  });
});
