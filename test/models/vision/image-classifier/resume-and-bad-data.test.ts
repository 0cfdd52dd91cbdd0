import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassificationDataset, ClassificationSample, RgbImage } from '../../../../models/datasets/types.js';
import type { TrainingProgress } from '../../../../models/model-dir/model-card.js';
import { loadCheckpoint, readModelDir } from '../../../../models/model-dir/model-dir.js';
import { runModelTrainClassify, trainImageClassifier, type ImageClassifierOptions } from '../../../../models/vision/image-classifier/index.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { partPhoto, partPhotoDataset } from './part-photos.js';

/** Small and quick: two of the photo classes, a 32 px input, a few epochs. */
function small(perClass = 12): ClassificationDataset {
  const d = partPhotoDataset({ perClass: [0, perClass, 0, perClass], valPerClass: 2, seed: 3 });
  const keep = (s: ClassificationSample): ClassificationSample => ({ ...s, classId: s.classId === 1 ? 0 : 1 });
  return { ...d, classNames: ['good', 'scratch'], train: d.train.map(keep), val: d.val.filter((s) => s.classId === 1 || s.classId === 3).map(keep) };
}

/** Batches of 8: three steps an epoch, so a stop at the first step of an epoch falls inside it. */
const OPTIONS = { epochs: 4, seed: 5, inputSize: 32, views: 3, batchSize: 8 } as const;

describe('image classifier training: stop and resume', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  /** Trains into `name`, stopping at the first step of `stopAtEpoch` (when given). */
  async function train(name: string, extra: Partial<ImageClassifierOptions> & { stopAtEpoch?: number } = {}, data = small()): Promise<TrainingProgress[]> {
    const seen: TrainingProgress[] = [];
    const stop = new AbortController();
    await trainImageClassifier(data, {
      ...OPTIONS,
      outDir: join(dir.path, name),
      signal: stop.signal,
      ...extra,
      onProgress: (p) => {
        seen.push(p);
        if (p.epoch === extra.stopAtEpoch) stop.abort(new Error('stopped by the test'));
      },
    });
    return seen;
  }

  it('a training stopped in epoch 3 resumes from the checkpoint of epoch 2 and ends with the very model an uninterrupted one makes', async () => {
    await train('through');
    const through = await readModelDir(join(dir.path, 'through'));

    await expect(train('stopped', { stopAtEpoch: 3 })).rejects.toThrow('stopped by the test');
    expect((await loadCheckpoint(join(dir.path, 'stopped')))?.epoch).toBe(2);
    const resumed = await train('stopped', { resume: true });
    // It went on at epoch 3: epochs 1 and 2 were not run again.
    expect(resumed[0]).toMatchObject({ epoch: 3, epochs: 4, step: 1 });
    const after = await readModelDir(join(dir.path, 'stopped'));
    expect(Buffer.from(after.model).equals(Buffer.from(through.model))).toBe(true);
    expect(after.card.training.losses).toEqual(through.card.training.losses);
    expect(await loadCheckpoint(join(dir.path, 'stopped'))).toBeNull();
  }, 120_000);

  it('refuses to resume a checkpoint of another training (other classes), saying so, with E_CHECKPOINT', async () => {
    await expect(train('other', { stopAtEpoch: 2 })).rejects.toThrow('stopped by the test');
    const three = { ...small(), classNames: ['good', 'scratch', 'dent'], train: [...small().train, { file: 'train/dent/1.png', classId: 2, load: async () => partPhoto(0, 1) }] };
    await expect(train('other', { resume: true }, three)).rejects.toMatchObject({ code: 'E_CHECKPOINT', message: expect.stringMatching(/its checkpoint is of another training .*train without resume to start over/) as unknown });
  }, 120_000);
});

describe('image classifier training: a dataset it cannot learn from is refused with E_DATASET, naming the file or class', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  const sample = (file: string, classId: number, load: () => Promise<RgbImage>): ClassificationSample => ({ file, classId, load });
  const fine = (file: string, classId: number): ClassificationSample => sample(file, classId, async () => partPhoto(classId === 0 ? 1 : 3, file.length));
  const dataset = (classNames: string[], train: ClassificationSample[]): ClassificationDataset => ({ task: 'classify', root: '/data/parts', classNames, train, val: [] });
  const run = (d: ClassificationDataset): Promise<unknown> => trainImageClassifier(d, { ...OPTIONS, epochs: 1, outDir: join(dir.path, 'm') });

  it.each([
    ['only one class', dataset(['good'], [fine('train/good/a.png', 0)]), /^\/data\/parts: a classifier needs at least two classes \(one folder each\), found 1 \(good\)$/],
    ['an empty train split', dataset(['good', 'bad'], []), /^\/data\/parts: the train split has no images$/],
    ['a class without training images', dataset(['good', 'bad', 'ugly'], [fine('train/good/a.png', 0), fine('train/bad/b.png', 1)]), /^\/data\/parts: class "ugly" has no training images$/],
    ['a class id beyond the names', dataset(['good', 'bad'], [fine('train/good/a.png', 0), fine('train/bad/b.png', 1), fine('train/odd/c.png', 2)]), /^train\/odd\/c\.png: class id 2 is beyond the 2 classes \(good, bad\)$/],
    ['an image that does not decode', dataset(['good', 'bad'], [fine('train/good/a.png', 0), sample('train/bad/broken.jpg', 1, () => Promise.reject(new Error('SOI not found')))]), /^train\/bad\/broken\.jpg: the image could not be read \(SOI not found\)$/],
    ['an image file gone since the folder was read', dataset(['good', 'bad'], [fine('train/good/a.png', 0), sample('train/bad/gone.png', 1, () => Promise.reject(Object.assign(new Error("ENOENT: no such file or directory, open 'train/bad/gone.png'"), { code: 'ENOENT' })))]), /^train\/bad\/gone\.png: the image could not be read \(ENOENT: no such file or directory, open 'train\/bad\/gone\.png'\)$/],
    ['an image whose pixels do not fit its size', dataset(['good', 'bad'], [fine('train/good/a.png', 0), sample('train/bad/short.png', 1, async () => ({ width: 10, height: 10, data: new Uint8Array(30) }))]), /^train\/bad\/short\.png: expected 10 x 10 RGB pixels \(300 bytes\), got 30 bytes$/],
  ])('%s', async (_what, d, message) => {
    await expect(run(d)).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(message) as unknown });
  });
});

describe('runModelTrainClassify: what `edgewise model train vision --task classify` exits with', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  async function run(dataset: ClassificationDataset, extra: { resume?: boolean; signal?: AbortSignal } = {}): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runModelTrainClassify({ dataset, outDir: join(dir.path, 'm'), epochs: 2, seed: 1, inputSize: 32, say: (l) => out.push(l), sayError: (l) => err.push(l), ...extra });
    return { code, out, err };
  }

  it('0 and a summary when it trained; 2 and the file named for a bad dataset; 1 and how to go on when stopped', async () => {
    const done = await run(small(6));
    expect(done).toMatchObject({ code: 0, err: [] });
    expect(done.out[0]).toMatch(/^classifier of 2 classes \(good, scratch\) written to .*\/m: 12 training images, 2 epochs in \d+ s, last loss \d\.\d{4}; suggested confidence 0\.75$/);

    const broken = { ...small(6), train: [...small(6).train, { file: 'train/good/broken.png', classId: 0, load: () => Promise.reject(new Error('not a PNG')) }] };
    expect(await run(broken)).toEqual({ code: 2, out: [], err: ['train/good/broken.png: the image could not be read (not a PNG) (E_DATASET)'] });

    const stop = new AbortController();
    stop.abort(new Error('SIGINT'));
    expect(await run(small(6), { signal: stop.signal })).toEqual({ code: 1, out: [], err: [expect.stringMatching(/^training stopped; the last finished epoch is kept in .*: run again with --resume to go on$/) as unknown as string] });
  }, 120_000);
});
