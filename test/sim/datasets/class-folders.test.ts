import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClassFolders } from '../../../models/datasets/class-folders.js';
import { writeClassFolderDataset } from '../../../sim/datasets/class-folders.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-class-folders-');
});
afterEach(async () => {
  await tmp.remove();
});

describe('writeClassFolderDataset', () => {
  it('writes part crops in train/<class>/ and val/<class>/ that the reader counts back, all classes present', async () => {
    const w = await writeClassFolderDataset(tmp.path, { train: 30, val: 12, seed: 2, task: 'shape', size: 48 });
    expect(w.classNames).toEqual(['disc', 'hexagon', 'square']);
    const d = await readClassFolders(tmp.path);
    expect(d.classNames).toEqual(['disc', 'hexagon', 'square']);
    expect([d.train.length, d.val.length]).toEqual([30, 12]);
    for (const c of [0, 1, 2]) expect(d.train.filter((s) => s.classId === c).length).toBe(w.counts[w.classNames[c] as string]?.train);
    expect(d.train.filter((s) => s.classId === 0).length).toBeGreaterThan(3);
    const img = await (d.val[0] as { load: () => Promise<{ width: number; height: number }> }).load();
    expect([img.width, img.height]).toEqual([48, 48]);
  });

  it('writes the defect task flat (DIR/<class>/), for the reader to split', async () => {
    await writeClassFolderDataset(tmp.path, { train: 20, val: 5, seed: 3, task: 'defect', layout: 'flat', format: 'jpg' });
    expect((await readdir(tmp.path)).sort()).toEqual(['defective', 'good']);
    const d = await readClassFolders(tmp.path);
    expect(d.train.length + d.val.length).toBe(25);
    expect(d.val.length).toBeGreaterThan(0);
    expect((await readdir(join(tmp.path, 'good')))[0]).toMatch(/\.jpg$/);
  });
});
