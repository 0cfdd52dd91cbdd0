import { describe, expect, it } from 'vitest';
import type { DetectionDataset, DetectionSample } from '../../../../models/datasets/types.js';
import { SmallDetectorInputError, trainSmallDetector } from '../../../../models/vision/small-detector/train.js';

const image = async (): Promise<{ width: number; height: number; data: Uint8Array }> => ({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) });
const sample = (file: string, boxes: DetectionSample['boxes']): DetectionSample => ({ file, boxes, load: image });
const dataset = (train: DetectionSample[], classNames = ['scratch', 'spot']): DetectionDataset => ({ task: 'detect', root: '/data/boards', classNames, train, val: [] });

describe('small detector training refuses what it cannot use, before any work, naming the file', () => {
  const options = { outDir: '/nonexistent/never-written', epochs: 1, seed: 1, inputSize: 64 };
  for (const [what, ds, message] of [
    ['an empty training split', dataset([]), /\/data\/boards: the training split is empty/],
    ['a class id beyond the names', dataset([sample('images/train/a.png', [{ classId: 2, cx: 0.5, cy: 0.5, w: 0.1, h: 0.1 }])]), /images\/train\/a\.png: object 1: class id 2 is not one of the dataset's 2 classes \(0\.\.1\)/],
    ['a box outside the image', dataset([sample('images/train/b.png', [{ classId: 0, cx: 1.2, cy: 0.5, w: 0.1, h: 0.1 }])]), /images\/train\/b\.png: object 1: box \[1\.2,0\.5,0\.1,0\.1\] is not a centre and size in 0\.\.1/],
    ['no class names', dataset([sample('a.png', [])], []), /names no classes/],
  ] as const) {
    it(what, async () => {
      const err = await trainSmallDetector(ds, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SmallDetectorInputError);
      expect((err as SmallDetectorInputError).code).toBe('E_TRAIN_INPUT');
      expect((err as Error).message).toMatch(message);
    });
  }

  it('an input size that is not a multiple of the stride', async () => {
    await expect(trainSmallDetector(dataset([sample('a.png', [])]), { ...options, inputSize: 100 })).rejects.toThrow(/input size must be a multiple of 8 of at least 64, got 100/);
  });
});
