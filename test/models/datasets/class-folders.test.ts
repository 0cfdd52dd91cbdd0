import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClassFolders } from '../../../models/datasets/class-folders.js';
import { DatasetError, type DatasetWarning } from '../../../models/datasets/dataset-error.js';
import { encodePng } from '../../../models/datasets/encode-image.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-classes-');
});
afterEach(async () => {
  await tmp.remove();
});

const png = (v: number): Uint8Array => encodePng({ width: 8, height: 8, data: new Uint8Array(192).fill(v) });

async function files(names: readonly string[], content: (name: string) => Uint8Array | string = () => png(1)): Promise<void> {
  for (const name of names) {
    await mkdir(dirname(join(tmp.path, name)), { recursive: true });
    await writeFile(join(tmp.path, name), content(name));
  }
}

async function errorOf(p: Promise<unknown>): Promise<DatasetError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DatasetError) return err;
    throw err;
  }
  throw new Error('expected a DatasetError');
}

const rel = (f: string): string => f.slice(tmp.path.length + 1);

describe('readClassFolders', () => {
  it('reads train/<class>/ and val/<class>/: class ids follow the sorted folder names', async () => {
    await files(['train/ok/a.png', 'train/ok/sub/b.png', 'train/scratch/c.PNG', 'val/ok/d.png', 'val/scratch/e.png', 'train/.DS_Store']);
    const d = await readClassFolders(tmp.path);
    expect(d.classNames).toEqual(['ok', 'scratch']);
    expect(d.train.map((s) => [rel(s.file), s.classId])).toEqual([['train/ok/a.png', 0], ['train/ok/sub/b.png', 0], ['train/scratch/c.PNG', 1]]);
    expect(d.val.map((s) => [rel(s.file), s.classId])).toEqual([['val/ok/d.png', 0], ['val/scratch/e.png', 1]]);
    expect((await d.val[1]?.load())?.data[0]).toBe(1);
  });

  it('splits a flat DIR/<class>/ layout by a seeded hash: about the share asked, the same every time, and stable as photos are added', async () => {
    const names = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `${i % 2 === 0 ? 'good' : 'bad'}/img${String(from + i).padStart(4, '0')}.png`);
    await files(names(200));
    const a = await readClassFolders(tmp.path, { seed: 3 });
    const b = await readClassFolders(tmp.path, { seed: 3 });
    expect(a.val.map((s) => s.file)).toEqual(b.val.map((s) => s.file));
    for (const c of [0, 1]) {
      // About 20 of each class's 100 (a hash is no exact count: 3 standard deviations either way).
      const held = a.val.filter((s) => s.classId === c).length;
      expect(held).toBeGreaterThanOrEqual(8);
      expect(held).toBeLessThanOrEqual(32);
    }
    expect(a.train.length + a.val.length).toBe(200);
    const other = await readClassFolders(tmp.path, { seed: 4 });
    expect(other.val.map((s) => s.file)).not.toEqual(a.val.map((s) => s.file));
    // 200 more photos: an old one never moves from train to val (scores stay comparable).
    await files(names(200, 200));
    const grown = await readClassFolders(tmp.path, { seed: 3 });
    const grownVal = new Set(grown.val.map((s) => s.file));
    expect(a.train.map((s) => s.file).filter((f) => grownVal.has(f))).toEqual([]);
    expect(a.val.map((s) => s.file).every((f) => grownVal.has(f))).toBe(true);
  });

  it('keeps a class of one image in train, with a warning', async () => {
    await files(['a/1.png', 'a/2.png', 'a/3.png', 'b/1.png']);
    const warnings: DatasetWarning[] = [];
    const d = await readClassFolders(tmp.path, { onWarning: (w) => warnings.push(w) });
    expect(d.val.map((s) => rel(s.file))).toHaveLength(1);
    expect(d.train.filter((s) => s.classId === 1)).toHaveLength(1);
    expect(warnings.map((w) => w.message)).toEqual(['only one image: class "b" is trained on but not evaluated']);
  });

  it('reports each empty class folder and each image that is not one, together', async () => {
    await files(['train/a/1.png', 'train/a/2.jpg', 'train/b/notes.txt', 'val/a/3.png', 'val/c/4.png']);
    await writeFile(join(tmp.path, 'train/a/2.jpg'), 'text, not a JPEG');
    const err = await errorOf(readClassFolders(tmp.path));
    expect(err.problems.map((p) => `${rel(p.file)}: ${p.message}`)).toEqual([
      'val/c: class "c" is in val/ but not in train/: a model cannot learn it',
      'train/b: class folder with no images (*.jpg, *.jpeg, *.png): its files are of other kinds',
      'train/a/2.jpg: image does not decode: not a PNG or JPEG image (its first bytes are neither signature)',
    ]);
  });

  it('needs two classes and, with train/, a val/', async () => {
    await files(['only/1.png', 'only/2.png']);
    expect((await errorOf(readClassFolders(tmp.path))).message).toMatch(/found one class folder \(only\): a classifier needs a folder per class, at least two/);
    await files(['train/a/1.png', 'train/b/1.png']);
    expect((await errorOf(readClassFolders(tmp.path))).message).toMatch(/a train\/ folder but no val\/ folder/);
    await files(['valid/a/1.png', 'valid/b/2.png']); // Roboflow's name for it
    const d = await readClassFolders(tmp.path);
    expect(d.val).toHaveLength(2);
  });
});
