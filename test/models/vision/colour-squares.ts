import { buildModel } from '../../../models/onnx/builder.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';

/**
 * A detector and frames for tests of the whole vision stage (RGBA frames, the preprocessing,
 * ONNX Runtime, YOLOv8 decoding and NMS, the tracker, the events) whose answers are known.
 *
 * The detector is built by code: a red square is class 0 ("red"), a blue one class 1 ("blue").
 * Each output cell (stride 4 in a [1, 3, 96, 160] input) averages the red and the blue channel
 * over the 20 x 20 window it sits on (one Conv); a class scores sigmoid(40 (mean - 0.75)), so a
 * cell fires only where its window is at least about 80% covered by that colour, and its box is
 * that window (so a square on the 8-px grid is found exactly where it is). A square hidden by
 * more than a quarter is not detected at all.
 */
export const W = 320; // frames are twice the model input: 8 source px per output cell
export const H = 192;
export const SIDE = 40; // source px: the 20-px window
export const FPS = 10;
export const FRAME_US = 1_000_000 / FPS;
export const T0_US = Date.UTC(2026, 10, 30) * 1000;
const GRID_W = 36; // (160 - 20) / 4 + 1
const GRID_H = 20; // (96 - 20) / 4 + 1
const CELLS = GRID_W * GRID_H;

export function colourDetector(): Uint8Array {
  const weights = new Float32Array(2 * 3 * 20 * 20);
  for (let k = 0; k < 400; k += 1) {
    weights[0 * 1200 + 0 * 400 + k] = 1 / 400; // out 0 <- red
    weights[1 * 1200 + 2 * 400 + k] = 1 / 400; // out 1 <- blue
  }
  const boxes = new Float32Array(4 * CELLS);
  for (let i = 0; i < GRID_H; i += 1) {
    for (let j = 0; j < GRID_W; j += 1) {
      const n = i * GRID_W + j;
      boxes[n] = 4 * j + 10;
      boxes[CELLS + n] = 4 * i + 10;
      boxes[2 * CELLS + n] = 20;
      boxes[3 * CELLS + n] = 20;
    }
  }
  return buildModel({
    name: 'colour-squares',
    inputs: [{ name: 'images', dims: [1, 3, 96, 160] }],
    outputs: [{ name: 'output0', dims: [1, 6, CELLS] }],
    initializers: [
      { name: 'w', dims: [2, 3, 20, 20], data: weights },
      { name: 'gain', dims: [1], data: [40] },
      { name: 'offset', dims: [1], data: [-30] },
      { name: 'shape', dims: [3], data: [1, 2, CELLS], type: 'int64' },
      { name: 'boxes', dims: [1, 4, CELLS], data: boxes },
    ],
    nodes: [
      { op: 'Conv', inputs: ['images', 'w'], outputs: ['mean'], attributes: { kernel_shape: [20, 20], strides: [4, 4] } },
      { op: 'Mul', inputs: ['mean', 'gain'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['scaled', 'offset'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['score'] },
      { op: 'Reshape', inputs: ['score', 'shape'], outputs: ['scores'] },
      { op: 'Concat', inputs: ['boxes', 'scores'], outputs: ['output0'], attributes: { axis: 1 } },
    ],
    metadata: { name: 'colour-squares', version: '1' },
  });
}

export interface Square {
  readonly x: number;
  readonly y: number;
  readonly rgb: readonly [number, number, number];
}

export function frame(index: number, squares: readonly Square[]): RawFrame {
  const { layout, size } = packedLayout('RGBA', W, H);
  const data = new Uint8Array(size);
  for (let p = 3; p < size; p += 4) data[p] = 255;
  // Later squares are drawn over earlier ones.
  for (const s of squares) {
    for (let y = s.y; y < s.y + SIDE; y += 1) {
      for (let x = s.x; x < s.x + SIDE; x += 1) data.set(s.rgb, (y * W + x) * 4);
    }
  }
  return { format: 'RGBA', width: W, height: H, data, layout, timestampUs: T0_US + index * FRAME_US };
}

