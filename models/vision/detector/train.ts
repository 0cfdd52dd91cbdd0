import { trainMlp } from '../../train/adam.js';
import { Mlp } from '../../train/mlp.js';
import { seededRandom } from '../../train/random.js';
import type { Box } from '../geometry.js';
import { DETECTOR_INPUT, GRID, OUTPUTS, PATCH, SIZE_UNIT, STRIDE, extractPatch } from './architecture.js';

/** One training image: the preprocessed grey input (0..255, [192, 320]) and its objects in input pixels. */
export interface LabelledImage {
  readonly input: Uint8Array;
  readonly objects: readonly { readonly box: Box; readonly classId: number; readonly ignore: boolean }[];
}

export interface DetectorTrainOptions {
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Random background cells per image, besides the eight neighbours of every object. */
  readonly negativesPerImage: number;
  readonly onEpoch?: (epoch: number, loss: number) => void;
}

/** Per example: image index, cell, and targets (4 box values, 2 class labels) with masks. */
interface Examples {
  readonly image: Int32Array;
  readonly cell: Int32Array;
  readonly target: Float32Array;
  /** 1: box is trained (an object's centre cell). */
  readonly boxMask: Uint8Array;
  /** 1: classes are trained (0 for cells of objects marked ignore). */
  readonly classMask: Uint8Array;
  readonly count: number;
}

function buildExamples(images: readonly LabelledImage[], o: DetectorTrainOptions): Examples {
  const random = seededRandom(o.seed ^ 0x5bd1e995);
  const image: number[] = [];
  const cell: number[] = [];
  const target: number[] = [];
  const boxMask: number[] = [];
  const classMask: number[] = [];
  images.forEach((img, k) => {
    const label = new Map<number, { t: number[]; box: boolean; cls: boolean }>();
    for (const obj of img.objects) {
      const cx = obj.box.x + obj.box.w / 2;
      const cy = obj.box.y + obj.box.h / 2;
      const gx = Math.min(GRID.width - 1, Math.max(0, Math.floor(cx / STRIDE)));
      const gy = Math.min(GRID.height - 1, Math.max(0, Math.floor(cy / STRIDE)));
      const c = gy * GRID.width + gx;
      if (obj.ignore) {
        label.set(c, { t: new Array<number>(OUTPUTS).fill(0), box: false, cls: false });
        continue;
      }
      const t = [cx / STRIDE - gx, cy / STRIDE - gy, obj.box.w / SIZE_UNIT, obj.box.h / SIZE_UNIT, ...Array.from({ length: OUTPUTS - 4 }, (_, c) => (obj.classId === c ? 1 : 0))];
      label.set(c, { t, box: true, cls: true });
    }
    const cells = new Set<number>(label.keys());
    // The neighbours of every object see most of it: they must learn to stay quiet.
    for (const c of label.keys()) {
      const gx = c % GRID.width;
      const gy = Math.floor(c / GRID.width);
      for (let dy = -1; dy <= 1; dy += 1) for (let dx = -1; dx <= 1; dx += 1) if (gx + dx >= 0 && gx + dx < GRID.width && gy + dy >= 0 && gy + dy < GRID.height) cells.add((gy + dy) * GRID.width + gx + dx);
    }
    for (let n = 0; n < o.negativesPerImage; n += 1) cells.add(Math.floor(random() * GRID.width * GRID.height));
    for (const c of cells) {
      const l = label.get(c) ?? { t: new Array<number>(OUTPUTS).fill(0), box: false, cls: true };
      image.push(k);
      cell.push(c);
      target.push(...l.t);
      boxMask.push(l.box ? 1 : 0);
      classMask.push(l.cls ? 1 : 0);
    }
  });
  return { image: Int32Array.from(image), cell: Int32Array.from(cell), target: Float32Array.from(target), boxMask: Uint8Array.from(boxMask), classMask: Uint8Array.from(classMask), count: image.length };
}

const BOX_WEIGHT = 4;

/**
 * Trains the per-cell detector MLP: box regression (squared error) on object centre cells,
 * binary cross-entropy on the class logits everywhere else that is not ignored.
 * Deterministic from the seed (example choice, initial weights, batch order).
 */
export async function trainDetector(images: readonly LabelledImage[], o: DetectorTrainOptions): Promise<{ model: Mlp; losses: number[]; examples: number }> {
  if (images.some((i) => i.input.length !== DETECTOR_INPUT.width * DETECTOR_INPUT.height)) throw new RangeError('trainDetector: every input must be 192 x 320');
  const ex = buildExamples(images, o);
  const model = new Mlp([PATCH, ...o.hidden, OUTPUTS], o.seed);
  const losses = await trainMlp(model, ex.count, o, (indices) => {
    const rows = indices.length;
    const x = new Float64Array(rows * PATCH);
    indices.forEach((e, r) => {
      const c = ex.cell[e] as number;
      extractPatch((images[ex.image[e] as number] as LabelledImage).input, Math.floor(c / GRID.width), c % GRID.width, x, r * PATCH, 1 / 255);
    });
    return {
      x,
      loss: (out) => {
        const delta = new Float64Array(out.length);
        let value = 0;
        indices.forEach((e, r) => {
          const o6 = r * OUTPUTS;
          if (ex.boxMask[e] === 1) {
            for (let k = 0; k < 4; k += 1) {
              const d = (out[o6 + k] as number) - (ex.target[e * OUTPUTS + k] as number);
              value += (BOX_WEIGHT * d * d) / rows;
              delta[o6 + k] = (2 * BOX_WEIGHT * d) / rows;
            }
          }
          if (ex.classMask[e] === 1) {
            for (let k = 4; k < OUTPUTS; k += 1) {
              const z = out[o6 + k] as number;
              const y = ex.target[e * OUTPUTS + k] as number;
              const p = 1 / (1 + Math.exp(-z));
              // BCE with logits, stable form: max(z, 0) - z*y + log(1 + exp(-|z|)).
              value += (Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)))) / rows;
              delta[o6 + k] = (p - y) / rows;
            }
          }
        });
        return { value, delta };
      },
    };
  });
  return { model, losses, examples: ex.count };
}
