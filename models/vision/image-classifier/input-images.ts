import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import type { ClassificationSample, RgbImage } from '../../datasets/types.js';
import { Preprocessor } from '../preprocess.js';
import type { InnerRect } from './augment.js';
import { TrainingDataError } from './errors.js';

/** One training image as the model's input: planar RGB, size x size, 0..255, letterboxed. */
export interface InputImage {
  readonly pixels: Uint8Array;
  readonly inner: InnerRect;
}

/** An RGB image as the RGBA frame a camera source could hand the vision stage. */
export function rgbFrame(image: RgbImage): RawFrame {
  const { width, height, data } = image;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i += 1, j += 4) {
    rgba[j] = data[i * 3] as number;
    rgba[j + 1] = data[i * 3 + 1] as number;
    rgba[j + 2] = data[i * 3 + 2] as number;
    rgba[j + 3] = 255;
  }
  return { format: 'RGBA', width, height, data: rgba, layout: [{ offset: 0, stride: width * 4 }], timestampUs: 0 };
}

/** Decodes a sample, naming its file in any failure (an image that does not decode is the dataset's fault, not ours). */
export async function loadSample(sample: ClassificationSample): Promise<RgbImage> {
  let image: RgbImage;
  try {
    image = await sample.load();
  } catch (err) {
    // The reader's own typed errors (E_...) already name the file; Node's (ENOENT, EACCES) and a decoder's do not.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E_')) throw err;
    throw new TrainingDataError(`${sample.file}: the image could not be read (${(err as Error).message})`);
  }
  if (!(image.width > 0 && image.height > 0 && image.data.length === image.width * image.height * 3)) {
    throw new TrainingDataError(`${sample.file}: expected ${image.width} x ${image.height} RGB pixels (${image.width * image.height * 3} bytes), got ${image.data.length} bytes`);
  }
  return image;
}

/**
 * The training images at the model's input size, made by the gateway's own preprocessing
 * (models/vision/preprocess.ts: letterbox with the area filter, padded with YOLO's grey) from
 * each image as an RGBA frame, so training sees what a camera frame of that picture becomes.
 * Kept in memory up to `budgetBytes` (12 KiB an image at 64 x 64: 256 MiB holds 21,000); the
 * images past the budget are decoded again each time they are needed.
 */
export class InputImages {
  private readonly pre: Preprocessor;
  private readonly kept = new Map<number, InputImage>();
  private keptBytes = 0;

  constructor(
    private readonly samples: readonly ClassificationSample[],
    readonly size: number,
    private readonly budgetBytes: number,
  ) {
    this.pre = new Preprocessor({ width: size, height: size, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
  }

  async get(index: number): Promise<InputImage> {
    const kept = this.kept.get(index);
    if (kept !== undefined) return kept;
    const sample = this.samples[index];
    if (sample === undefined) throw new RangeError(`no training image ${index}`);
    const tensor = this.pre.run(rgbFrame(await loadSample(sample)));
    const pixels = new Uint8Array(tensor.length);
    for (let i = 0; i < tensor.length; i += 1) pixels[i] = Math.round((tensor[i] as number) * 255);
    const box = this.pre.letterbox;
    const inner = box === undefined ? { x: 0, y: 0, w: this.size, h: this.size } : { x: box.padX, y: box.padY, w: box.innerWidth, h: box.innerHeight };
    const image = { pixels, inner };
    if (this.keptBytes + pixels.length <= this.budgetBytes) {
      this.kept.set(index, image);
      this.keptBytes += pixels.length;
    }
    return image;
  }
}
