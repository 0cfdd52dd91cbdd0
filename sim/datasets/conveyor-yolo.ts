import { rgbFromLuma } from '../../models/datasets/rgb-image.js';
import type { LabelledBox } from '../../models/datasets/types.js';
import { renderLabelledImage } from '../camera/dataset.js';
import type { PartTruth } from '../camera/types.js';
import { writeYoloDataset, type ImageFileFormat, type WrittenYoloDataset, type YoloSample } from './yolo-writer.js';

/** The conveyor's classes, as a plant would name them: a part, good or not. */
export const CONVEYOR_CLASSES = ['part', 'defective-part'] as const;

export interface ConveyorYoloOptions {
  readonly train: number;
  readonly val: number;
  /** Picks the stills: the same seed, the same dataset. */
  readonly seed: number;
  readonly format?: ImageFileFormat;
  /** Still size. Default 640 x 360. */
  readonly width?: number;
  readonly height?: number;
}

/** Stills per seed block: train takes the first half of a block, val the second, so the splits never share a still. */
const SEED_BLOCK = 1_000_000;

/**
 * A YOLO dataset of the conveyor simulator's labelled stills (sim/camera/dataset.ts), as a user
 * with photos of their line would have it: grey stills written as RGB PNG or JPEG files, one
 * box per visible part, class `part` or `defective-part` (any defect).
 * The stills are the camera's luma in video range (16..235); a photo is full range, and so is
 * what the gateway's preprocessing makes of the camera's video (BT.601: 1.164 (Y - 16)), so the
 * stills are stretched the same way: a model trained on these files sees on the gateway the
 * contrast it was trained on.
 */
export async function writeConveyorYoloDataset(dir: string, o: ConveyorYoloOptions): Promise<WrittenYoloDataset> {
  if (o.train >= SEED_BLOCK / 2 || o.val >= SEED_BLOCK / 2) throw new RangeError(`at most ${SEED_BLOCK / 2} stills a split`);
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const base = 1 + o.seed * SEED_BLOCK;
  function* split(first: number, n: number): Generator<YoloSample> {
    for (let i = 0; i < n; i += 1) {
      const still = renderLabelledImage(first + i, width, height);
      yield { image: rgbFromLuma(fullRange(still.y), width, height), boxes: still.parts.map((p) => boxOf(p, width, height)) };
    }
  }
  return writeYoloDataset(dir, CONVEYOR_CLASSES, { train: split(base, o.train), val: split(base + SEED_BLOCK / 2, o.val) }, { format: o.format ?? 'png' });
}

/** Video-range luma (16..235) to full range (0..255), as the gateway converts I420 to RGB. */
export function fullRange(y: Uint8Array): Uint8Array {
  const out = new Uint8Array(y.length);
  for (let i = 0; i < y.length; i += 1) out[i] = Math.min(255, Math.max(0, Math.round(1.164 * ((y[i] as number) - 16))));
  return out;
}

export function boxOf(p: PartTruth, width: number, height: number): LabelledBox {
  const { x, y, w, h } = p.box;
  return { classId: p.defect === 'none' ? 0 : 1, cx: (x + w / 2) / width, cy: (y + h / 2) / height, w: w / width, h: h / height };
}
