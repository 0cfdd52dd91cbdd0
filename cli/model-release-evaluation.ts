import { encodeAnomalyEvaluationSet, encodeVisionEvaluationSet, packedFrameBytes, type LabelledBox as PixelBox, type VisionEvaluationFrame } from '../fleet/protocol/evaluation-set.js';
import { parseMeta } from '../models/anomaly/autoencoder/model.js';
import type { DetectionDataset, DetectionSample, LabelledBox, RgbImage, SensorLog } from '../models/datasets/types.js';
import { resizeRgb } from '../models/datasets/rgb-image.js';
import { rgbaFrame } from './model-release-golden.js';

/** An evaluation set made from the dataset, encoded, and what it holds (for people). */
export interface MadeEvaluationSet {
  readonly bytes: Uint8Array;
  readonly summary: string;
}

export interface EvaluationLimits {
  /** Frames (vision) at most; gateways score every one in shadow, with both models. */
  readonly maxFrames: number;
  /** Windows (anomaly) at most. */
  readonly maxWindows: number;
  /** Pixel bytes (RGBA) at most: gateways download the set and hold it in memory while they score it. */
  readonly maxPixelBytes: number;
}

/**
 * 48 frames give a detection F1 a standard error of a few points with a few boxes each, enough
 * for a gate that asks "no worse than the active model"; 32 MiB of pixels (about 20 photos of
 * 1280x320 or 13 of 1080p) keeps the download small next to the model's and well under the
 * protocol's 88 MiB. 2000 windows: a ROC AUC to about +-0.01.
 */
export const DEFAULT_EVALUATION_LIMITS: EvaluationLimits = { maxFrames: 48, maxWindows: 2000, maxPixelBytes: 32 * 1024 * 1024 };

/**
 * An image scaled down (area filter, as the vision stage's Preprocessor resamples) so its
 * longest side is at most `maxSide`; as it is when it already fits. YOLO boxes are normalised,
 * so they fit the scaled image as they are.
 */
export function fitImage(image: RgbImage, maxSide: number): RgbImage {
  const side = Math.max(image.width, image.height);
  if (side <= maxSide) return image;
  return resizeRgb(image, Math.max(1, Math.round((image.width * maxSide) / side)), Math.max(1, Math.round((image.height * maxSide) / side)));
}

/** `count` indices spread evenly over 0..n-1 (all of them when n <= count), in order. */
function spread(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
}

/** Pixels to 1/1024 px, so that x + w is exactly the box's right edge (dyadic fractions add exactly). */
const px = (v: number): number => Math.floor(v * 1024) / 1024;

/** A YOLO box (normalised centre and size) in a frame's pixels (top-left and size), clipped to the frame; undefined when nothing is left of it. */
export function pixelBox(b: LabelledBox, width: number, height: number): PixelBox | undefined {
  const x0 = px(Math.min(width, Math.max(0, (b.cx - b.w / 2) * width)));
  const x1 = px(Math.min(width, Math.max(0, (b.cx + b.w / 2) * width)));
  const y0 = px(Math.min(height, Math.max(0, (b.cy - b.h / 2) * height)));
  const y1 = px(Math.min(height, Math.max(0, (b.cy + b.h / 2) * height)));
  if (!(x1 > x0 && y1 > y0)) return undefined;
  return { classId: b.classId, x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/**
 * The `vision-frames` evaluation set of a detector, from the dataset's val split (the train
 * split when it has no val): frames spread evenly over the split, up to the limits, each the
 * image as an RGBA frame (no colour conversion) with its labelled boxes in pixels. A photo
 * larger than twice the model's input on its longest side is scaled down to that first: the
 * gateway letterboxes every frame to the input anyway, so the pixels beyond only cost download
 * and memory (a 12-megapixel photo is 48 MB as RGBA) while a detector's score on the frame
 * stays what it was. Frames without boxes stay in (finding nothing there is part of the score).
 * Undefined when the frames chosen hold no box at all (the protocol refuses a set with nothing
 * to find).
 */
export async function visionEvaluationSet(dataset: DetectionDataset, inputSide: number, limits: EvaluationLimits = DEFAULT_EVALUATION_LIMITS): Promise<MadeEvaluationSet | { readonly why: string }> {
  const split: readonly DetectionSample[] = dataset.val.length > 0 ? dataset.val : dataset.train;
  const frames: VisionEvaluationFrame[] = [];
  let pixelBytes = 0;
  let skipped = 0;
  let scaled = 0;
  for (const i of spread(split.length, limits.maxFrames)) {
    const sample = split[i] as DetectionSample;
    const original = await sample.load();
    const image = fitImage(original, 2 * inputSide);
    if (image !== original) scaled += 1;
    const size = packedFrameBytes('RGBA', image.width, image.height);
    if (pixelBytes + size > limits.maxPixelBytes) {
      skipped += 1;
      continue;
    }
    pixelBytes += size;
    const frame = rgbaFrame(image);
    const boxes = sample.boxes.map((b) => pixelBox(b, image.width, image.height)).filter((b): b is PixelBox => b !== undefined);
    frames.push({ format: 'RGBA', width: image.width, height: image.height, pixels: frame.data, boxes });
  }
  const boxes = frames.reduce((n, f) => n + f.boxes.length, 0);
  const bound = skipped > 0 ? `; ${skipped} left out over the ${limits.maxPixelBytes / 1048576} MiB bound` : '';
  if (frames.length === 0 || boxes === 0) return { why: `the ${frames.length} frames chosen of ${split.length} hold no labelled box${bound}` };
  const from = dataset.val.length > 0 ? 'val' : 'train';
  return {
    bytes: encodeVisionEvaluationSet({ classNames: dataset.classNames, frames }),
    summary: `${frames.length} frames of the ${from} split (${split.length} images${scaled > 0 ? `, ${scaled} scaled down to ${2 * inputSide} px` : ''}), ${boxes} labelled boxes, ${(pixelBytes / 1048576).toFixed(1)} MiB${bound}`,
  };
}

/**
 * The `anomaly-windows` evaluation set of an autoencoder, from labelled logs: consecutive,
 * non-overlapping windows of the model's window length and channels (raw values, as the stage
 * receives them), each anomalous (1) when any of its rows is labelled abnormal; windows
 * spread evenly over all the logs up to the limit. Without labels, or without both kinds of
 * window, no set (the protocol refuses a set that cannot rank anything), and why.
 */
export function anomalyEvaluationSet(modelBytes: Uint8Array, logs: readonly SensorLog[], limits: EvaluationLimits = DEFAULT_EVALUATION_LIMITS): MadeEvaluationSet | { readonly why: string } {
  const meta = parseMeta(modelBytes);
  const w = meta.windowSamples;
  const c = meta.channels.length;
  const all: { log: SensorLog; columns: number[]; first: number }[] = [];
  for (const log of logs) {
    if (log.labels === null) continue;
    const columns = meta.channels.map((name) => log.channels.indexOf(name));
    if (columns.some((k) => k === -1)) continue;
    for (let first = 0; first + w <= log.rows; first += w) all.push({ log, columns, first });
  }
  const chosen = spread(all.length, limits.maxWindows).map((i) => all[i] as (typeof all)[number]);
  const windows = new Float32Array(chosen.length * w * c);
  const labels = new Uint8Array(chosen.length);
  chosen.forEach(({ log, columns, first }, n) => {
    for (let t = 0; t < w; t += 1) {
      const row = first + t;
      if ((log.labels as Uint8Array)[row] === 1) labels[n] = 1;
      for (let k = 0; k < c; k += 1) windows[(n * w + t) * c + k] = log.values[row * log.channels.length + (columns[k] as number)] as number;
    }
  });
  const anomalous = labels.reduce((a, b) => a + b, 0);
  if (chosen.length === 0 || anomalous === 0 || anomalous === chosen.length) return { why: `the logs have ${chosen.length === 0 ? 'no labelled window with the model\'s channels' : `${anomalous} anomalous of ${chosen.length} labelled windows; a set needs both kinds`}` };
  return {
    bytes: encodeAnomalyEvaluationSet({ channels: meta.channels, windowSamples: w, count: chosen.length, windows, labels }),
    summary: `${chosen.length} windows of ${w} samples (${anomalous} anomalous) from ${logs.length} log(s)`,
  };
}
