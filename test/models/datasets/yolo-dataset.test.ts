import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError, type DatasetWarning } from '../../../models/datasets/dataset-error.js';
import { encodeJpeg, encodePng } from '../../../models/datasets/encode-image.js';
import type { RgbImage } from '../../../models/datasets/types.js';
import { readVisionDataset } from '../../../models/datasets/vision-dataset.js';
import { labelPathOf, readYoloDataset } from '../../../models/datasets/yolo-dataset.js';
import { makeTempDir } from '../../support/temp-dir.js';

let tmp: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  tmp = await makeTempDir('edgewise-yolo-');
});
afterEach(async () => {
  await tmp.remove();
});

const image = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });

/** Writes files under the temp dir: bytes as given, strings as text. */
async function files(entries: Record<string, Uint8Array | string>): Promise<void> {
  for (const [name, content] of Object.entries(entries)) {
    const path = join(tmp.path, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

const png = encodePng(image(32, 24, 100));

async function errorOf(p: Promise<unknown>): Promise<DatasetError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DatasetError) return err;
    throw err;
  }
  throw new Error('expected a DatasetError');
}

describe('readYoloDataset', () => {
  it('reads the Ultralytics layout: names from data.yaml, boxes from the label files, pixels on load', async () => {
    await files({
      'data.yaml': 'path: .\ntrain: images/train\nval: images/val\nnames:\n  0: scratch\n  1: dent\n',
      'images/train/a.png': png,
      'images/train/b.jpg': encodeJpeg(image(40, 30, 200)),
      'labels/train/a.txt': '0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.1 0.1\n',
      'labels/train/b.txt': '',
      'images/val/c.png': png,
      'labels/val/c.txt': '1 0.3 0.3 0.2 0.2',
    });
    const d = await readYoloDataset(tmp.path);
    expect(d.task).toBe('detect');
    expect(d.classNames).toEqual(['scratch', 'dent']);
    expect(d.train.map((s) => s.file)).toEqual([join(tmp.path, 'images/train/a.png'), join(tmp.path, 'images/train/b.jpg')]);
    expect(d.train[0]?.boxes).toEqual([{ classId: 0, cx: 0.5, cy: 0.5, w: 0.25, h: 0.5 }, { classId: 1, cx: 0.1, cy: 0.1, w: 0.1, h: 0.1 }]);
    expect(d.train[1]?.boxes).toEqual([]);
    expect(d.val[0]?.boxes).toEqual([{ classId: 1, cx: 0.3, cy: 0.3, w: 0.2, h: 0.2 }]);
    expect(await d.train[0]?.load()).toEqual(image(32, 24, 100));
    const jpg = await d.train[1]?.load();
    expect([jpg?.width, jpg?.height, jpg?.data[0]]).toEqual([40, 30, 200]);
  });

  it('takes names as a list, and images/train and images/val when data.yaml does not say', async () => {
    await files({ 'data.yaml': 'names: [good, bad]\n', 'images/train/x.png': png, 'images/val/y.png': png });
    const d = await readYoloDataset(join(tmp.path, 'data.yaml'));
    expect(d.classNames).toEqual(['good', 'bad']);
    expect([d.train.length, d.val.length]).toEqual([1, 1]);
    expect(d.train[0]?.boxes).toEqual([]); // no label file: an image without objects
  });

  it('takes train as a list of folders and val as a .txt list of images, relative to `path`', async () => {
    await files({
      'cfg/set.yaml': 'path: ../ds\ntrain: [batch1/images, batch2/images]\nval: val.txt\nnames: [part]\n',
      'ds/batch1/images/a.png': png,
      'ds/batch1/labels/a.txt': '0 0.5 0.5 0.1 0.1\n',
      'ds/batch2/images/deeper/b.png': png,
      'ds/batch2/labels/deeper/b.txt': '0 0.4 0.4 0.1 0.1\n',
      'ds/val.txt': './holdout/images/c.png\n\nholdout/images/d.png\n',
      'ds/holdout/images/c.png': png,
      'ds/holdout/images/d.png': png,
    });
    const d = await readYoloDataset(join(tmp.path, 'cfg'));
    expect(d.root).toBe(join(tmp.path, 'ds'));
    expect(d.train.map((s) => s.boxes[0]?.cx)).toEqual([0.5, 0.4]);
    expect(d.val.map((s) => s.file)).toEqual([join(tmp.path, 'ds/holdout/images/c.png'), join(tmp.path, 'ds/holdout/images/d.png')]);
  });

  it('warns about a label file without its image, and ignores classes.txt', async () => {
    await files({ 'data.yaml': 'names: [a]\n', 'images/train/x.png': png, 'labels/train/x.txt': '', 'labels/train/gone.txt': '0 0.5 0.5 0.1 0.1', 'labels/train/classes.txt': 'a', 'images/val/y.png': png });
    const warnings: DatasetWarning[] = [];
    await readYoloDataset(tmp.path, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([{ file: join(tmp.path, 'labels/train/gone.txt'), message: 'label file without an image: its objects are not used' }]);
  });

  it('reports every bad label, image and split together, each with its file and line', async () => {
    await files({
      'data.yaml': 'names: [scratch, dent]\ntrain: images/train\nval: images/val\n',
      'images/train/a.png': png,
      'labels/train/a.txt': '0 0.5 0.5 0.2 0.2\n0 1.5 0.5 0.2 0.2\n',
      'images/train/b.png': png,
      'labels/train/b.txt': '\n2 0.5 0.5 0.2 0.2\n',
      'images/train/c.png': png,
      'labels/train/c.txt': '0 0.5 0.5 0.2\n0 0.5 x 0.2 0.2\n',
      'images/train/broken.jpg': 'not a picture at all',
      'images/val/readme.md': 'no images here',
    });
    const err = await errorOf(readYoloDataset(tmp.path));
    expect(err.code).toBe('E_DATASET');
    const at = (p: { file: string; line?: number }): string => `${p.file.slice(tmp.path.length + 1)}${p.line === undefined ? '' : `:${p.line}`}`;
    expect(err.problems.map((p) => `${at(p)}: ${p.message}`)).toEqual([
      'data.yaml: val: no images (*.jpg, *.jpeg, *.png) in images/val: every split needs at least one',
      'labels/train/a.txt:2: cx 1.5 is outside [0, 1]: YOLO labels are shares of the image\'s width and height, not pixels',
      'labels/train/b.txt:2: class 2 is beyond the 2 class names (ids 0..1): add its name to data.yaml or fix the id',
      'labels/train/c.txt:1: expected 5 fields "class cx cy w h" (or a polygon "class x1 y1 x2 y2 x3 y3 ..."), got 4: 0 0.5 0.5 0.2',
      'labels/train/c.txt:2: field 3 (cy) is not a number: "x"',
      'images/train/broken.jpg: image does not decode: not a PNG or JPEG image (its first bytes are neither signature)',
    ]);
    expect(err.message).toMatch(/^the dataset has 6 problems:\n {2}\S+data\.yaml: val: no images/);
  });

  it('lists the first 20 problems and counts the rest', async () => {
    const many: Record<string, string | Uint8Array> = { 'data.yaml': 'names: [a]\n', 'images/val/v.png': png };
    for (let i = 0; i < 30; i += 1) {
      many[`images/train/${i}.png`] = png;
      many[`labels/train/${i}.txt`] = '1 0.5 0.5 0.1 0.1\n';
    }
    await files(many);
    const err = await errorOf(readYoloDataset(tmp.path));
    expect(err.problems).toHaveLength(20);
    expect(err.more).toBe(10);
    expect(err.message).toMatch(/^the dataset has 30 problems:[\s\S]*\.\.\. and 10 more$/);
  });

  it('says what is missing: data.yaml, its names, a split folder', async () => {
    await files({ 'images/train/a.png': png });
    expect((await errorOf(readYoloDataset(tmp.path))).message).toBe(`${tmp.path}: no data.yaml: a YOLO dataset needs one with the class names (names: [scratch, dent]) beside images/ and labels/`);
    await files({ 'data.yaml': 'train: images/train\nval: images/val\n' });
    expect((await errorOf(readYoloDataset(tmp.path))).message).toBe(`${join(tmp.path, 'data.yaml')}: no \`names\`: list the class names, as \`names: [scratch, dent]\` or \`names: {0: scratch, 1: dent}\``);
    await files({ 'data.yaml': 'names: [a]\nnc: 2\n' });
    expect((await errorOf(readYoloDataset(tmp.path))).problems.map((p) => [p.line, p.message])).toEqual([
      [2, 'nc is 2 but names lists 1 classes'],
      [undefined, `val: ${join(tmp.path, 'images/val')} does not exist (data.yaml has no \`val\`, so the default images/val was tried)`],
    ]);
    await files({ 'data.yaml': 'names: [a, b\ntrain: x\n' });
    const yamlError = await errorOf(readYoloDataset(tmp.path));
    expect(yamlError.problems[0]?.line).toBe(2);
    expect(yamlError.message).toMatch(/data\.yaml:2: not valid YAML/);
  });

  it('names the image when one decodes badly only on load (its header was fine)', async () => {
    const jpg = encodeJpeg(image(64, 48, 50));
    await files({ 'data.yaml': 'names: [a]\n', 'images/train/cut.jpg': jpg.subarray(0, Math.floor(jpg.length * 0.7)), 'images/val/v.png': png });
    const d = await readYoloDataset(tmp.path);
    const err = await errorOf((d.train[0] as { load: () => Promise<unknown> }).load());
    expect(err.message).toMatch(new RegExp(`^${join(tmp.path, 'images/train/cut.jpg')}: image does not decode: JPEG`));
  });

  it('finds labels where Ultralytics does', () => {
    expect(labelPathOf('/d/images/train/a.b.jpg')).toBe('/d/labels/train/a.b.txt');
    expect(labelPathOf('/images/x/images/train/a.PNG')).toBe('/images/x/labels/train/a.txt');
    expect(labelPathOf('/d/photos/a.jpg')).toBe('/d/photos/a.txt');
  });

  it('readVisionDataset: a data.yaml means detection, class folders mean classification', async () => {
    await files({ 'det/data.yaml': 'names: [a]\n', 'det/images/train/a.png': png, 'det/images/val/b.png': png, 'cls/ok/a.png': png, 'cls/ok/b.png': png, 'cls/nok/c.png': png, 'cls/nok/d.png': png });
    expect((await readVisionDataset(join(tmp.path, 'det'))).task).toBe('detect');
    expect((await readVisionDataset(join(tmp.path, 'cls'))).task).toBe('classify');
    expect((await errorOf(readVisionDataset(join(tmp.path, 'cls'), 'detect'))).message).toMatch(/no data\.yaml/);
  });
});
