import type { DetectionSample, RgbImage } from '../../datasets/types.js';
import type { Box } from '../geometry.js';
import { toInput, type Letterbox } from '../letterbox.js';
import { Preprocessor } from '../preprocess.js';

/** A training image as the model sees it: letterboxed to the input size by the gateway's own preprocessing, RGB planes 0..255, and its objects in input pixels. */
export interface PreparedImage {
  readonly size: number;
  /** 3 planes of size * size bytes (R, G, B). */
  readonly planes: Uint8Array;
  readonly objects: readonly { readonly box: Box; readonly classId: number }[];
}

/** An RGB image as the RGBA frame a camera source would hand the vision stage. */
export function rgbaFrame(image: RgbImage): { format: 'RGBA'; width: number; height: number; data: Uint8Array; layout: { offset: number; stride: number }[]; timestampUs: number } {
  const data = new Uint8Array(image.width * image.height * 4);
  for (let i = 0, j = 0; i < image.data.length; i += 3, j += 4) {
    data[j] = image.data[i] as number;
    data[j + 1] = image.data[i + 1] as number;
    data[j + 2] = image.data[i + 2] as number;
    data[j + 3] = 255;
  }
  return { format: 'RGBA', width: image.width, height: image.height, data, layout: [{ offset: 0, stride: image.width * 4 }], timestampUs: 0 };
}

/**
 * Runs `image` through the Preprocessor the vision stage uses (letterbox with its area filter,
 * YOLO's grey padding), so the detector trains on exactly what it will be given; values are kept
 * as bytes (a quarter of the memory of floats; the rounding is below the camera's noise).
 */
export function prepareImage(image: RgbImage, boxes: DetectionSample['boxes'], size: number): PreparedImage {
  const pre = new Preprocessor({ width: size, height: size, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
  const t = pre.run(rgbaFrame(image));
  const planes = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i += 1) planes[i] = Math.round((t[i] as number) * 255);
  const l = pre.letterbox as Letterbox;
  const objects = boxes.map((b) => ({ classId: b.classId, box: toInput(l, { x: (b.cx - b.w / 2) * image.width, y: (b.cy - b.h / 2) * image.height, w: b.w * image.width, h: b.h * image.height }) }));
  return { size, planes, objects };
}

/**
 * Prepared training images, decoded on first use and kept up to `capacity` (least recently used
 * goes first): a dataset that fits is decoded once for the whole training, a larger one costs
 * a decode per image per epoch and never more memory than the bound (1.2 MB an image at 640).
 */
export class PreparedImageCache {
  private readonly kept = new Map<number, PreparedImage>();

  constructor(
    private readonly samples: readonly DetectionSample[],
    private readonly size: number,
    readonly capacity: number,
  ) {
    if (!(capacity >= 1)) throw new RangeError('prepared image cache: capacity must be >= 1');
  }

  async get(index: number): Promise<PreparedImage> {
    const hit = this.kept.get(index);
    if (hit !== undefined) {
      this.kept.delete(index);
      this.kept.set(index, hit);
      return hit;
    }
    const sample = this.samples[index];
    if (sample === undefined) throw new RangeError(`prepared image cache: no sample ${index}`);
    const image = prepareImage(await sample.load(), sample.boxes, this.size);
    if (this.kept.size >= this.capacity) this.kept.delete(this.kept.keys().next().value as number);
    this.kept.set(index, image);
    return image;
  }
}
