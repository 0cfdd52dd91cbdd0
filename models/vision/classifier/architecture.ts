import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import type { Box } from '../geometry.js';
import { PlaneResampler } from '../resample.js';

/**
 * The repo's defect classifier: looks at one part, on a grey crop aligned to the part's box
 * (square, with a margin), 32 x 32, values 0..1, and says part or defective part. Aligning the
 * crop to the part is what makes a tiny MLP enough: the hole, a scratch or a dent is always
 * at about the same place and scale.
 * ONNX: `crop` [N, 1, 32, 32] -> Flatten -> Gemm/Tanh x2 -> Gemm -> Softmax -> `probabilities` [N, 3].
 */
export const CROP = 32;
export const CROP_MARGIN = 0.2;
export const CROP_VALUES = CROP * CROP;
export const CLASSIFIER_CLASSES = ['part', 'defective-part', 'background'] as const;
export const DEFECT_CLASS = 1;
/**
 * The classifier's veto on the detector: a box it calls background is dropped. The detector
 * alone fired on belt texture now and then (a ghost part that rode the belt for a second).
 */
export const BACKGROUND_CLASS_NAME = 'background';

/** The square region a part's crop is taken from, in source pixels (not clipped). */
export function cropRegion(box: Box, margin = CROP_MARGIN): Box {
  const side = Math.max(box.w, box.h) * (1 + margin);
  return { x: box.x + box.w / 2 - side / 2, y: box.y + box.h / 2 - side / 2, w: side, h: side };
}

/** The crop before scaling to 0..1 (filled and read within one `cropInput` call). */
const CROP_SCRATCH = new Float32Array(CROP_VALUES);
/** Resamplers by region size, most recently used last: a part's region keeps its size from frame to frame, and each costs weight tables. */
const RESAMPLERS = new Map<string, PlaneResampler>();
const MAX_RESAMPLERS = 32;

function cropResampler(w: number, h: number): PlaneResampler {
  const key = `${w}x${h}`;
  let r = RESAMPLERS.get(key);
  if (r !== undefined) RESAMPLERS.delete(key);
  else r = new PlaneResampler(w, h, CROP, CROP);
  RESAMPLERS.set(key, r);
  if (RESAMPLERS.size > MAX_RESAMPLERS) RESAMPLERS.delete(RESAMPLERS.keys().next().value as string);
  return r;
}

/**
 * Fills `out` at `offset` with the 32 x 32 crop around `box` from the frame's luma, area
 * resampled, values 0..1; pixels of the region outside the frame are the nearest edge's
 * (the region is clipped to the frame, then stretched). `centre`: minus the crop's own mean
 * (as the network was trained; the exported graph does it itself).
 */
export function cropInput(frame: RawFrame, box: Box, out: Float32Array | Float64Array, offset: number, centre: boolean): void {
  const tmp = CROP_SCRATCH;
  const r = cropRegion(box);
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(frame.width, Math.ceil(r.x + r.w));
  const y1 = Math.min(frame.height, Math.ceil(r.y + r.h));
  const w = Math.max(1, x1 - x0);
  const h = Math.max(1, y1 - y0);
  const plane = frame.layout[0] as { offset: number; stride: number };
  const rgba = frame.format === 'RGBA';
  cropResampler(w, h).run(frame.data, plane.offset + Math.min(y0, frame.height - 1) * plane.stride + Math.min(x0, frame.width - 1) * (rgba ? 4 : 1) + (rgba ? 1 : 0), plane.stride, rgba ? 4 : 1, tmp, 0, CROP);
  let mean = 0;
  for (let i = 0; i < CROP_VALUES; i += 1) mean += tmp[i] as number;
  mean = centre ? mean / CROP_VALUES / 255 : 0;
  for (let i = 0; i < CROP_VALUES; i += 1) out[offset + i] = (tmp[i] as number) / 255 - mean;
}
