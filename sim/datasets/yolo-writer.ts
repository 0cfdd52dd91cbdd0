import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { encodeJpeg, encodePng } from '../../models/datasets/encode-image.js';
import type { LabelledBox, RgbImage } from '../../models/datasets/types.js';
import { formatLabelLine } from '../../models/datasets/yolo-labels.js';

/** One image and its objects, to be written as a user's labelling tool would have. */
export interface YoloSample {
  /** File name without extension; default a zero-padded index. */
  readonly name?: string;
  readonly image: RgbImage;
  readonly boxes: readonly LabelledBox[];
}

export type ImageFileFormat = 'png' | 'jpg';

export interface YoloWriteOptions {
  readonly format?: ImageFileFormat;
  /** JPEG quality 1..100. Default 92. */
  readonly quality?: number;
}

export interface WrittenYoloDataset {
  readonly dir: string;
  readonly train: number;
  readonly val: number;
  readonly objects: number;
}

/**
 * A dataset in the Ultralytics layout: images/{train,val}/NAME.png|jpg, labels/{train,val}/NAME.txt
 * (one `class cx cy w h` line per object; an image without objects gets an empty file, as most
 * labelling tools write), and data.yaml with `path`, `train`, `val` and `names`. Samples may come
 * from generators, so a large dataset is never held in memory.
 */
export async function writeYoloDataset(
  dir: string,
  classNames: readonly string[],
  samples: { readonly train: Iterable<YoloSample>; readonly val: Iterable<YoloSample> },
  options: YoloWriteOptions = {},
): Promise<WrittenYoloDataset> {
  const format = options.format ?? 'png';
  let objects = 0;
  const count = { train: 0, val: 0 };
  for (const split of ['train', 'val'] as const) {
    await mkdir(join(dir, 'images', split), { recursive: true });
    await mkdir(join(dir, 'labels', split), { recursive: true });
    for (const s of samples[split]) {
      const name = s.name ?? String(count[split]).padStart(6, '0');
      const bytes = format === 'png' ? encodePng(s.image) : encodeJpeg(s.image, options.quality ?? 92);
      await writeFile(join(dir, 'images', split, `${name}.${format}`), bytes);
      await writeFile(join(dir, 'labels', split, `${name}.txt`), s.boxes.map((b) => `${formatLabelLine(b)}\n`).join(''));
      count[split] += 1;
      objects += s.boxes.length;
    }
  }
  const yaml = stringify({ path: '.', train: 'images/train', val: 'images/val', names: Object.fromEntries(classNames.map((n, i) => [i, n])) });
  await writeFile(join(dir, 'data.yaml'), yaml);
  return { dir, train: count.train, val: count.val, objects };
}
