import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../../../models/model-dir/model-dir.js';
import { TrainingStopped, trainSmallDetector, type SmallDetectorTrainOptions } from '../../../../models/vision/small-detector/train.js';
import { boardDataset } from '../../../../sim/datasets/board.js';
import { makeTempDir } from '../../../support/temp-dir.js';

describe('small detector training, stopped and resumed', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir('edgewise-small-detector-resume-');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('resumes from the last finished epoch and ends with the same model, to the bit, as a training that never stopped', async () => {
    const dataset = boardDataset({ train: 6, val: 1, size: 256, maxDefects: 3, seed: 40 });
    // A cache of 4 for 6 images: the epochs go through the images in groups that fit (decoded once each).
    const options = (outDir: string): SmallDetectorTrainOptions => ({ outDir, epochs: 4, seed: 3, inputSize: 256, batchSize: 8, cacheImages: 4 });
    const straight = join(dir.path, 'straight');
    const broken = join(dir.path, 'broken');
    const whole = await trainSmallDetector(dataset, options(straight));

    const stop = new AbortController();
    const seen: number[] = [];
    await expect(
      trainSmallDetector(dataset, {
        ...options(broken),
        signal: stop.signal,
        onProgress: (p) => {
          seen.push(p.epoch);
          if (p.epoch === 3) stop.abort();
        },
      }),
    ).rejects.toBeInstanceOf(TrainingStopped);
    expect((await loadCheckpoint(broken))?.epoch).toBe(2);

    const resumed: number[] = [];
    const card = await trainSmallDetector(dataset, { ...options(broken), resume: true, onProgress: (p) => resumed.push(p.epoch) });
    expect(resumed[0]).toBe(3);
    expect(card.training.losses).toEqual(whole.training.losses);
    expect(Buffer.compare(await readFile(join(broken, 'model.onnx')), await readFile(join(straight, 'model.onnx')))).toBe(0);
    expect(await loadCheckpoint(broken)).toBeNull();
  });

  it('refuses to resume a checkpoint made with other options, saying which', async () => {
    const dataset = boardDataset({ train: 3, val: 1, size: 128, maxDefects: 2, seed: 60 });
    const out = join(dir.path, 'other');
    const stop = new AbortController();
    await expect(trainSmallDetector(dataset, { outDir: out, epochs: 3, seed: 1, inputSize: 128, batchSize: 4, signal: stop.signal, onProgress: (p) => p.epoch === 2 && stop.abort() })).rejects.toBeInstanceOf(TrainingStopped);
    await expect(trainSmallDetector(dataset, { outDir: out, epochs: 3, seed: 2, inputSize: 128, batchSize: 4, resume: true })).rejects.toThrow(/other options \(seed: 1 there, 2 now\)/);
  });
});
