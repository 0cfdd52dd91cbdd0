import { readFile } from 'node:fs/promises';
import type { ClassificationDataset, ClassificationSample, DetectionDataset, DetectionSample, LabelledBox, RgbImage } from '../../../models/datasets/types.js';
import type { ModelCard } from '../../../models/model-dir/model-card.js';
import { CROP, cropRegion } from '../../../models/vision/classifier/architecture.js';
import { DETECTOR_INPUT } from '../../../models/vision/detector/architecture.js';
import { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH } from '../../../models/vision/index.js';
import { renderLabelledImage, type LabelledStill } from '../../../sim/camera/dataset.js';
import { EVAL_SEED_BASE } from '../../../sim/vision/labelled-frames.js';

/**
 * Datasets of the conveyor simulator's stills, in memory as a dataset reader would hand them
 * over (lazy `load()` of an RgbImage), for the repo's two real models: the part detector and
 * the crop classifier. Seeds are the held-out range neither model was trained on.
 */

/** Luma as a photo's RGB: the detector sees video luma through BT.601 limited range, so a still saved as a picture is expanded the same way. */
function lumaToRgb(y: Uint8Array, width: number, height: number, expand: boolean): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    const v = y[i] as number;
    const rgb = expand ? Math.min(255, Math.max(0, Math.round(1.164 * (v - 16)))) : v;
    data[3 * i] = rgb;
    data[3 * i + 1] = rgb;
    data[3 * i + 2] = rgb;
  }
  return { width, height, data };
}

export interface DetectionSetOptions {
  readonly images: number;
  readonly width?: number;
  readonly height?: number;
  /** Moves every label (normalised units), to make a wrong labelling. */
  readonly shift?: number;
  /** Counts the images decoded. */
  readonly loads?: { count: number };
}

/** Stills with every part labelled `part` (the detector's one class), boxes YOLO-normalised. */
export function conveyorDetectionSet(o: DetectionSetOptions): DetectionDataset {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const samples: DetectionSample[] = Array.from({ length: o.images }, (_, i) => {
    const seed = EVAL_SEED_BASE + i;
    const still: LabelledStill = renderLabelledImage(seed, width, height);
    const boxes: LabelledBox[] = still.parts.map((p) => ({ classId: 0, cx: Math.min(1, (p.box.x + p.box.w / 2) / width + (o.shift ?? 0)), cy: (p.box.y + p.box.h / 2) / height, w: p.box.w / width, h: p.box.h / height }));
    return {
      file: `/data/conveyor/images/val/still-${seed}.png`,
      boxes,
      load: async () => {
        if (o.loads !== undefined) o.loads.count += 1;
        const s = renderLabelledImage(seed, width, height);
        return lumaToRgb(s.y, width, height, true);
      },
    };
  });
  return { task: 'detect', root: '/data/conveyor', classNames: ['part'], train: [], val: samples };
}

export async function detectorCard(classNames: readonly string[] = ['part']): Promise<{ card: ModelCard; model: Uint8Array }> {
  const model = new Uint8Array(await readFile(BUILTIN_DETECTOR_PATH()));
  const card: ModelCard = {
    format: 'edgewise-model',
    version: 1,
    task: 'detect',
    architecture: 'builtin-part-detector',
    classNames,
    input: { name: 'images', width: DETECTOR_INPUT.width, height: DETECTOR_INPUT.height, channels: 1, mean: [0], std: [1] },
    output: { name: 'output0', layout: 'yolov8' },
    threshold: 0.5,
    training: { dataset: 'sim', trainSamples: 1600, valSamples: 0, epochs: 10, seed: 1, losses: [], seconds: 0, finishedAt: '2026-01-01T00:00:00.000Z' },
  };
  return { card, model };
}

/**
 * Square crops around parts (part or defective-part by the truth) and of bare belt
 * (background), as the crop classifier sees them: raw luma (it was trained on it), its own
 * margin. The class folders' names sorted, as a folder-per-class reader lists them, so the
 * dataset's class ids differ from the model's.
 */
export function conveyorCropSet(stills: number): ClassificationDataset {
  const classNames = ['background', 'defective-part', 'part'];
  const samples: ClassificationSample[] = [];
  for (let i = 0; i < stills; i += 1) {
    const seed = EVAL_SEED_BASE + 10_000 + i;
    const still = renderLabelledImage(seed, 640, 360);
    still.parts.forEach((p, k) => {
      if (p.visible < 1) return;
      const r = cropRegion(p.box);
      samples.push(cropSample(seed, still, r, p.defect === 'none' ? 2 : 1, `${p.defect === 'none' ? 'part' : 'defective-part'}/still-${seed}-${k}.png`));
    });
    // One bare-belt square per still where no part is: the classifier's veto class.
    const side = 48;
    for (let x = 0; x + side <= 640; x += side) {
      const r = { x, y: 150, w: side, h: side };
      const clear = still.parts.every((p) => p.box.x + p.box.w + 8 < r.x || r.x + r.w + 8 < p.box.x || p.box.y + p.box.h + 8 < r.y || r.y + r.h + 8 < p.box.y);
      if (clear) {
        samples.push(cropSample(seed, still, r, 0, `background/still-${seed}-${x}.png`));
        break;
      }
    }
  }
  return { task: 'classify', root: '/data/crops', classNames, train: [], val: samples };
}

function cropSample(seed: number, still: LabelledStill, r: { x: number; y: number; w: number; h: number }, classId: number, file: string): ClassificationSample {
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(still.width, Math.ceil(r.x + r.w));
  const y1 = Math.min(still.height, Math.ceil(r.y + r.h));
  return {
    file: `/data/crops/val/${file}`,
    classId,
    load: async () => {
      const s = renderLabelledImage(seed, still.width, still.height);
      const w = x1 - x0;
      const h = y1 - y0;
      const y = new Uint8Array(w * h);
      for (let j = 0; j < h; j += 1) y.set(s.y.subarray((y0 + j) * s.width + x0, (y0 + j) * s.width + x1), j * w);
      return lumaToRgb(y, w, h, false);
    },
  };
}

export async function classifierCard(): Promise<{ card: ModelCard; model: Uint8Array }> {
  const model = new Uint8Array(await readFile(BUILTIN_CLASSIFIER_PATH()));
  const card: ModelCard = {
    format: 'edgewise-model',
    version: 1,
    task: 'classify',
    architecture: 'builtin-crop-classifier',
    classNames: ['part', 'defective-part', 'background'],
    input: { name: 'crop', width: CROP, height: CROP, channels: 1, mean: [0], std: [1] },
    output: { name: 'probabilities', layout: 'classification' },
    threshold: 0.5,
    training: { dataset: 'sim', trainSamples: 14886, valSamples: 0, epochs: 25, seed: 1, losses: [], seconds: 0, finishedAt: '2026-01-01T00:00:00.000Z' },
  };
  return { card, model };
}
