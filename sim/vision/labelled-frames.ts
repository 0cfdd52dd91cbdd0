import { packedLayout, type RawFrame } from '../../runtime/pipeline/frame.js';
import { DEFECT_CLASS } from '../../models/vision/classifier/architecture.js';
import { DETECTOR_INPUT } from '../../models/vision/detector/architecture.js';
import type { LabelledImage } from '../../models/vision/detector/train.js';
import type { Box } from '../../models/vision/geometry.js';
import { toInput, type Letterbox } from '../../models/vision/letterbox.js';
import { Preprocessor } from '../../models/vision/preprocess.js';
import { renderLabelledImage } from '../camera/dataset.js';
import type { PartTruth } from '../camera/types.js';

/** Seeds of the training images start here; held-out images start at EVAL_SEED_BASE (never trained on). */
export const TRAIN_SEED_BASE = 1_000_000;
export const EVAL_SEED_BASE = 2_000_000;
/** Parts less visible than this (at the frame's edges) are neither rewarded nor punished. */
export const MIN_VISIBLE = 0.6;
/** Training and evaluation alternate between these source sizes. */
export const SIZES = [
  [1280, 720],
  [640, 360],
] as const;

export interface LabelledFrame {
  readonly frame: RawFrame;
  readonly parts: readonly PartTruth[];
}

/** A rendered still as the decoder would hand it over: I420 with neutral chroma. */
export function renderFrame(seed: number, width: number, height: number): LabelledFrame {
  const img = renderLabelledImage(seed, width, height);
  const { layout, size } = packedLayout('I420', width, height);
  const data = new Uint8Array(size).fill(128);
  data.set(img.y.subarray(0, width * height), 0);
  return { frame: { format: 'I420', width, height, data, layout, timestampUs: 0 }, parts: img.parts };
}

export function classOf(p: PartTruth): number {
  return p.defect === 'none' ? 0 : DEFECT_CLASS;
}

export function truthOf(parts: readonly PartTruth[], map: (b: Box) => Box = (b) => b): { box: Box; classId: number; ignore: boolean }[] {
  return parts.map((p) => ({ box: map(p.box), classId: classOf(p), ignore: p.visible < MIN_VISIBLE }));
}

/** Training images through the same preprocessing as at run time, quantised to bytes. */
export function labelledImage(seed: number, pre: Preprocessor): LabelledImage {
  const [w, h] = SIZES[seed % SIZES.length] as readonly [number, number];
  const { frame, parts } = renderFrame(seed, w, h);
  const tensor = pre.run(frame);
  const l = pre.letterbox as Letterbox;
  // The detector finds parts, good or not: one class.
  return { input: Uint8Array.from(tensor, (v) => Math.round(v * 255)), objects: truthOf(parts, (b) => toInput(l, b)).map((o) => ({ ...o, classId: 0 })) };
}

export function detectorPreprocessor(): Preprocessor {
  return new Preprocessor({ width: DETECTOR_INPUT.width, height: DETECTOR_INPUT.height, channels: 1, mean: [0], std: [1] });
}
