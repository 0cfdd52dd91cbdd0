import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeJpeg, encodePng } from '../../models/datasets/encode-image.js';
import { resizeRgb, rgbFromLuma } from '../../models/datasets/rgb-image.js';
import type { RgbImage } from '../../models/datasets/types.js';
import { renderLabelledImage } from '../camera/dataset.js';
import type { PartTruth } from '../camera/types.js';
import type { ImageFileFormat } from './yolo-writer.js';

/**
 * A folder-per-class classification dataset of the conveyor's parts, cut out of the
 * simulator's stills as a quality engineer would crop photos of parts into folders:
 * - task `shape`: disc / hexagon / square (an easy task: a small classifier gets well above 0.9);
 * - task `defect`: good / defective (scratches, dents and missing holes of a few pixels: harder).
 * Layout `split`: DIR/train/<class>/ and DIR/val/<class>/; `flat`: DIR/<class>/ with train and
 * val together, for the reader to split.
 */
export interface ClassFolderDatasetOptions {
  readonly train: number;
  readonly val: number;
  readonly seed: number;
  readonly task?: 'shape' | 'defect';
  readonly layout?: 'split' | 'flat';
  readonly format?: ImageFileFormat;
  /** Side of the square crops in pixels. Default 64. */
  readonly size?: number;
}

export const SHAPE_CLASSES = ['disc', 'hexagon', 'square'] as const;
export const DEFECT_CLASSES = ['defective', 'good'] as const;

/** Parts cut by the frame's edge are left out: a crop shows a whole part. */
const WHOLE = 0.999;
/** Room around the part's box, a share of its size on each side. */
const MARGIN = 0.15;
const SEED_BLOCK = 1_000_000;

export interface WrittenClassFolders {
  readonly dir: string;
  readonly classNames: readonly string[];
  /** Crops written per class, train and val. */
  readonly counts: Readonly<Record<string, { train: number; val: number }>>;
}

export async function writeClassFolderDataset(dir: string, o: ClassFolderDatasetOptions): Promise<WrittenClassFolders> {
  const task = o.task ?? 'shape';
  const layout = o.layout ?? 'split';
  const format = o.format ?? 'png';
  const size = o.size ?? 64;
  const classNames: readonly string[] = task === 'shape' ? SHAPE_CLASSES : DEFECT_CLASSES;
  const classOf = (p: PartTruth): string => (task === 'shape' ? p.shape : p.defect === 'none' ? 'good' : 'defective');
  const counts: Record<string, { train: number; val: number }> = Object.fromEntries(classNames.map((c) => [c, { train: 0, val: 0 }]));
  for (const split of ['train', 'val'] as const) {
    let written = 0;
    let still = 1 + o.seed * SEED_BLOCK + (split === 'val' ? SEED_BLOCK / 2 : 0);
    while (written < o[split]) {
      const s = renderLabelledImage(still, 640, 360);
      const frame = rgbFromLuma(s.y, s.width, s.height);
      for (const p of s.parts) {
        if (p.visible < WHOLE || written >= o[split]) continue;
        const name = classOf(p);
        const folder = layout === 'split' ? join(dir, split, name) : join(dir, name);
        await mkdir(folder, { recursive: true });
        const crop = resizeRgb(cropAround(frame, p), size, size);
        await writeFile(join(folder, `${split}-${String(still % SEED_BLOCK).padStart(6, '0')}-${p.id}.${format}`), format === 'png' ? encodePng(crop) : encodeJpeg(crop, 92));
        (counts[name] as { train: number; val: number })[split] += 1;
        written += 1;
      }
      still += 1;
    }
  }
  return { dir, classNames, counts };
}

/** The square region around the part's box with a margin, clipped to the frame. */
function cropAround(frame: RgbImage, p: PartTruth): RgbImage {
  const side = Math.max(p.box.w, p.box.h) * (1 + 2 * MARGIN);
  const x0 = Math.max(0, Math.round(p.box.x + p.box.w / 2 - side / 2));
  const y0 = Math.max(0, Math.round(p.box.y + p.box.h / 2 - side / 2));
  const x1 = Math.min(frame.width, Math.round(p.box.x + p.box.w / 2 + side / 2));
  const y1 = Math.min(frame.height, Math.round(p.box.y + p.box.h / 2 + side / 2));
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) data.set(frame.data.subarray(((y0 + y) * frame.width + x0) * 3, ((y0 + y) * frame.width + x1) * 3), y * width * 3);
  return { width, height, data };
}
