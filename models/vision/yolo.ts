import { ModelError } from '../engine/errors.js';
import type { Detection } from './nms.js';

/**
 * Decoding of YOLO-style detector outputs, so an off-the-shelf export works unchanged:
 * - YOLOv8 (and v9/v11, Ultralytics `export format=onnx`): `[1, 4 + C, N]`, rows cx, cy, w, h
 *   then C class scores (already sigmoid), no objectness.
 * - YOLOv5 (and v7): `[1, N, 5 + C]`, columns cx, cy, w, h, objectness, C class scores;
 *   the score is objectness x class score.
 * Boxes are in model-input pixels (map them back with the letterbox).
 */
export type YoloLayout = 'yolov8' | 'yolov5';

export interface YoloDecodeOptions {
  readonly layout: YoloLayout | 'auto';
  /** Number of classes; from the model's metadata or config. Needed to tell layouts apart when both fit. */
  readonly numClasses?: number;
  readonly confidence: number;
}

/** Which layout a `[1, a, b]` output has (throws a ModelError when it fits neither). */
export function yoloLayout(dims: readonly number[], o: YoloDecodeOptions): { layout: YoloLayout; classes: number; anchors: number } {
  if (dims.length !== 3 || dims[0] !== 1) throw new ModelError('E_MODEL_OUTPUT', `YOLO output must be [1, a, b], got [${dims.join(', ')}]`);
  const a = dims[1] as number;
  const b = dims[2] as number;
  const v8 = { layout: 'yolov8' as const, classes: a - 4, anchors: b };
  const v5 = { layout: 'yolov5' as const, classes: b - 5, anchors: a };
  const fits = (x: { classes: number }): boolean => x.classes >= 1 && (o.numClasses === undefined || x.classes === o.numClasses);
  if (o.layout === 'yolov8' || o.layout === 'yolov5') {
    const chosen = o.layout === 'yolov8' ? v8 : v5;
    if (!fits(chosen)) throw new ModelError('E_MODEL_OUTPUT', `output [${dims.join(', ')}] is not ${o.layout} with ${o.numClasses ?? 'at least 1'} classes`);
    return chosen;
  }
  if (fits(v8) && !fits(v5)) return v8;
  if (fits(v5) && !fits(v8)) return v5;
  // Both fit: anchors far outnumber the values per anchor in every real export.
  if (fits(v8) && fits(v5)) return a < b ? v8 : v5;
  throw new ModelError('E_MODEL_OUTPUT', `output [${dims.join(', ')}] fits neither YOLOv8 [1, 4+C, N] nor YOLOv5 [1, N, 5+C]${o.numClasses === undefined ? '' : ` with ${o.numClasses} classes`}`);
}

/** Candidates above the confidence threshold, one per anchor (its best class), before NMS. */
export function decodeYolo(data: Float32Array, dims: readonly number[], o: YoloDecodeOptions): Detection[] {
  const { layout, classes, anchors } = yoloLayout(dims, o);
  if (data.length < anchors * (classes + (layout === 'yolov8' ? 4 : 5))) throw new ModelError('E_MODEL_OUTPUT', `YOLO output has ${data.length} values, [${dims.join(', ')}] needs more`);
  const out: Detection[] = [];
  for (let n = 0; n < anchors; n += 1) {
    let best = -1;
    let score = -Infinity;
    let cx: number;
    let cy: number;
    let w: number;
    let h: number;
    if (layout === 'yolov8') {
      // Channels first: value k of anchor n is at k * anchors + n.
      for (let c = 0; c < classes; c += 1) {
        const s = data[(4 + c) * anchors + n] as number;
        if (s > score) {
          score = s;
          best = c;
        }
      }
      if (!(score >= o.confidence)) continue;
      cx = data[n] as number;
      cy = data[anchors + n] as number;
      w = data[2 * anchors + n] as number;
      h = data[3 * anchors + n] as number;
    } else {
      const row = n * (5 + classes);
      const obj = data[row + 4] as number;
      if (!(obj >= o.confidence)) continue;
      for (let c = 0; c < classes; c += 1) {
        const s = obj * (data[row + 5 + c] as number);
        if (s > score) {
          score = s;
          best = c;
        }
      }
      if (!(score >= o.confidence)) continue;
      cx = data[row] as number;
      cy = data[row + 1] as number;
      w = data[row + 2] as number;
      h = data[row + 3] as number;
    }
    if (!(w > 0 && h > 0)) continue;
    out.push({ box: { x: cx - w / 2, y: cy - h / 2, w, h }, score, classId: best });
  }
  return out;
}
