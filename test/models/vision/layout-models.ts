import { buildModel } from '../../../models/onnx/builder.js';

/**
 * ONNX models made here whose outputs are known values in the layouts off-the-shelf exports
 * have (YOLOv8, YOLOv5, SSD/UltraFace, classification), so decoding is tested through ONNX
 * Runtime on the real layouts. Each output is `known + 0 * mean(input)`: it depends on the
 * input, so no runtime folds the graph away, and it is exactly `known` on every frame.
 */
export interface KnownOutput {
  readonly name: string;
  readonly dims: number[];
  readonly data: Float32Array;
}

export function constantOutputs(inputDims: number[], outputs: readonly KnownOutput[], metadata?: Record<string, string>): Uint8Array {
  return buildModel({
    name: 'known-outputs',
    inputs: [{ name: 'images', dims: inputDims }],
    outputs: outputs.map((o) => ({ name: o.name, dims: o.dims })),
    initializers: [...outputs.map((o) => ({ name: `known_${o.name}`, dims: o.dims, data: o.data })), { name: 'zero', dims: [1], data: [0] }],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['m'], attributes: { keepdims: 0 } },
      { op: 'Mul', inputs: ['m', 'zero'], outputs: ['z'] },
      ...outputs.map((o) => ({ op: 'Add', inputs: [`known_${o.name}`, 'z'], outputs: [o.name] })),
    ],
    ...(metadata === undefined ? {} : { metadata }),
  });
}

/** A box in model-input pixels (centre and size) with its class and score, at one anchor. */
export interface KnownBox {
  readonly anchor: number;
  readonly cx: number;
  readonly cy: number;
  readonly w: number;
  readonly h: number;
  readonly classId: number;
  readonly score: number;
}

/** YOLOv8 `[1, 4 + C, N]`: channels first. */
export function yolov8Output(anchors: number, classes: number, boxes: readonly KnownBox[], name = 'output0'): KnownOutput {
  const data = new Float32Array((4 + classes) * anchors);
  for (const b of boxes) {
    [b.cx, b.cy, b.w, b.h].forEach((v, k) => (data[k * anchors + b.anchor] = v));
    data[(4 + b.classId) * anchors + b.anchor] = b.score;
  }
  return { name, dims: [1, 4 + classes, anchors], data };
}

/** YOLOv5 `[1, N, 5 + C]`: one row per anchor, objectness 1 (so the score is the class score). */
export function yolov5Output(anchors: number, classes: number, boxes: readonly KnownBox[], name = 'output0'): KnownOutput {
  const data = new Float32Array(anchors * (5 + classes));
  for (const b of boxes) {
    const row = b.anchor * (5 + classes);
    [b.cx, b.cy, b.w, b.h, 1].forEach((v, k) => (data[row + k] = v));
    data[row + 5 + b.classId] = b.score;
  }
  return { name, dims: [1, anchors, 5 + classes], data };
}

/** A box as SSD heads give it: x1, y1, x2, y2 normalised to the input, per-class probabilities with the background first. */
export interface KnownSsdBox {
  readonly anchor: number;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  /** One per class, background excluded; the background gets the rest of 1. */
  readonly scores: readonly number[];
}

/** SSD / UltraFace: `scores [1, N, 1 + C]` (background first; an empty anchor is all background) and `boxes [1, N, 4]`. */
export function ssdOutputs(anchors: number, classes: number, boxes: readonly KnownSsdBox[]): KnownOutput[] {
  const scores = new Float32Array(anchors * (1 + classes));
  for (let a = 0; a < anchors; a += 1) scores[a * (1 + classes)] = 1;
  const coords = new Float32Array(anchors * 4);
  for (const b of boxes) {
    const row = b.anchor * (1 + classes);
    scores[row] = 1 - b.scores.reduce((x, y) => x + y, 0);
    b.scores.forEach((s, c) => (scores[row + 1 + c] = s));
    coords.set([b.x1, b.y1, b.x2, b.y2], b.anchor * 4);
  }
  return [
    { name: 'scores', dims: [1, anchors, 1 + classes], data: scores },
    { name: 'boxes', dims: [1, anchors, 4], data: coords },
  ];
}

/** Python's str() of a dict of class names, as Ultralytics writes it into the `names` metadata. */
export function pythonNames(names: readonly string[]): string {
  const repr = (s: string): string => {
    const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = '';
    for (const ch of s) {
      const cp = ch.codePointAt(0) as number;
      if (ch === '\\') out += '\\\\';
      else if (ch === quote) out += `\\${quote}`;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
    return `${quote}${out}${quote}`;
  };
  return `{${names.map((n, i) => `${i}: ${repr(n)}`).join(', ')}}`;
}

/**
 * A whole-frame classifier that says `bright` or `dark` by the frame's mean: logits
 * [20 x mean - 10, 0] over the 0..1 input, so a light frame is class 0 and a dark one class 1.
 */
export function brightness(): Uint8Array {
  return buildModel({
    name: 'brightness',
    inputs: [{ name: 'images', dims: [1, 3, 32, 32] }],
    outputs: [{ name: 'logits', dims: [1, 2] }],
    initializers: [
      { name: 'k', dims: [1], data: [20] },
      { name: 'b', dims: [1], data: [10] },
      { name: 'shape', dims: [2], data: [1, 1], type: 'int64' },
      { name: 'other', dims: [1, 1], data: [0] },
    ],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['m'], attributes: { keepdims: 0 } },
      { op: 'Mul', inputs: ['m', 'k'], outputs: ['mk'] },
      { op: 'Sub', inputs: ['mk', 'b'], outputs: ['l0'] },
      { op: 'Reshape', inputs: ['l0', 'shape'], outputs: ['l0r'] },
      { op: 'Concat', inputs: ['l0r', 'other'], outputs: ['logits'], attributes: { axis: 1 } },
    ],
    metadata: { names: pythonNames(['bright', "operator's hand"]) },
  });
}
