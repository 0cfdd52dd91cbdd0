import { describe, expect, it } from 'vitest';
import { formatVisionSummary, summarizeSensorLog, summarizeVisionDataset } from '../../../models/datasets/dataset-summary.js';
import type { DetectionDataset, RgbImage } from '../../../models/datasets/types.js';

const load = (): Promise<RgbImage> => Promise.resolve({ width: 1, height: 1, data: new Uint8Array(3) });
const box = (classId: number): { classId: number; cx: number; cy: number; w: number; h: number } => ({ classId, cx: 0.5, cy: 0.5, w: 0.1, h: 0.1 });

describe('dataset summaries', () => {
  it('count images, background images and objects per class, and warn of a class missing from train', () => {
    const d: DetectionDataset = {
      task: 'detect',
      root: '/d',
      classNames: ['scratch', 'dent', 'hole'],
      train: [
        { file: 'a', boxes: [box(0), box(0), box(1)], load },
        { file: 'b', boxes: [], load },
      ],
      val: [{ file: 'c', boxes: [box(2)], load }],
    };
    const s = summarizeVisionDataset(d);
    expect(s.train).toEqual({ images: 2, background: 1, perClass: [2, 1, 0] });
    expect(formatVisionSummary(s)).toEqual([
      'train: 2 images (1 without objects); objects per class: scratch 2, dent 1, hole 0',
      'val: 1 image (0 without objects); objects per class: scratch 0, dent 0, hole 1',
      'warning: class "hole" has no objects in train: the model cannot learn it',
    ]);
  });

  it('give a log its length, rate and abnormal rows', () => {
    const rows = 501;
    const timestampsMs = Float64Array.from({ length: rows }, (_, i) => 1_000_000 + i * 20);
    const labels = Uint8Array.from({ length: rows }, (_, i) => (i >= 400 ? 1 : 0));
    expect(summarizeSensorLog({ file: 'm.csv', channels: ['a'], units: [''], timestampsMs, values: new Float64Array(rows), rows, labels })).toEqual({ file: 'm.csv', rows, seconds: 10, rateHz: 50, abnormalRows: 101 });
  });
});
