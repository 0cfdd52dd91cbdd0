import { describe, expect, it } from 'vitest';
import { ModelError } from '../../../models/engine/errors.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import { VisionModel } from '../../../models/vision/vision-model.js';
import type { KnownBox } from './layout-models.js';

/**
 * ONNX graphs made here with exactly the output layouts of off-the-shelf exports (YOLOv8:
 * `images` [1, 3, 640, 640] -> `output0` [1, 84, 8400]; YOLOv5: [1, 25200, 85]) and known
 * boxes, so the pipeline's decoding is tested against the real layouts through ONNX Runtime.
 */
const ANCHORS_V8 = 8400;
const ANCHORS_V5 = 25200;
const CLASSES = 80;

// In 640x640 input pixels. The second overlaps the first (same class, lower score): NMS drops it.
const KNOWN: KnownBox[] = [
  { anchor: 100, cx: 320, cy: 320, w: 100, h: 50, classId: 7, score: 0.9 },
  { anchor: 101, cx: 325, cy: 322, w: 100, h: 50, classId: 7, score: 0.8 },
  { anchor: 5000, cx: 100, cy: 200, w: 40, h: 40, classId: 2, score: 0.6 },
  { anchor: 7000, cx: 500, cy: 400, w: 40, h: 40, classId: 3, score: 0.1 }, // below confidence
];

function constantModel(output: Float32Array, dims: number[]): Uint8Array {
  // output0 = known + 0 * mean(images): depends on the input, so no runtime folds it away.
  return buildModel({
    name: 'yolo-layout',
    inputs: [{ name: 'images', dims: [1, 3, 640, 640] }],
    outputs: [{ name: 'output0', dims }],
    initializers: [
      { name: 'known', dims, data: output },
      { name: 'zero', dims: [1], data: [0] },
    ],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['m'], attributes: { keepdims: 0 } },
      { op: 'Mul', inputs: ['m', 'zero'], outputs: ['z'] },
      { op: 'Add', inputs: ['known', 'z'], outputs: ['output0'] },
    ],
  });
}

function yolov8(): Uint8Array {
  const out = new Float32Array((4 + CLASSES) * ANCHORS_V8);
  for (const b of KNOWN) {
    [b.cx, b.cy, b.w, b.h].forEach((v, k) => (out[k * ANCHORS_V8 + b.anchor] = v));
    out[(4 + b.classId) * ANCHORS_V8 + b.anchor] = b.score;
  }
  return constantModel(out, [1, 4 + CLASSES, ANCHORS_V8]);
}

function yolov5(): Uint8Array {
  const out = new Float32Array(ANCHORS_V5 * (5 + CLASSES));
  for (const b of KNOWN) {
    const row = b.anchor * (5 + CLASSES);
    [b.cx, b.cy, b.w, b.h, 1].forEach((v, k) => (out[row + k] = v));
    out[row + 5 + b.classId] = b.score;
  }
  return constantModel(out, [1, ANCHORS_V5, 5 + CLASSES]);
}

function frame1280x720(): RawFrame {
  const { layout, size } = packedLayout('I420', 1280, 720);
  return { format: 'I420', width: 1280, height: 720, data: new Uint8Array(size).fill(100), layout, timestampUs: 0 };
}

describe('YOLO outputs from ONNX Runtime', () => {
  const backend = new OnnxBackend();
  for (const [name, bytes] of [
    ['YOLOv8 [1, 84, 8400]', yolov8],
    ['YOLOv5 [1, 25200, 85]', yolov5],
  ] as const) {
    it(`decodes ${name}: confidence filter, class-wise NMS, boxes back in 1280x720 source pixels`, async () => {
      const m = await VisionModel.load(bytes(), backend, { providers: ['cpu'] }, { task: 'detection', confidence: 0.25, iouThreshold: 0.45 });
      try {
        expect(m.inputSize).toEqual({ width: 640, height: 640, channels: 3 });
        const dets = await m.detect(frame1280x720());
        // 1280x720 -> 640x640: scale 0.5, 140 px of padding above. Source = (input - pad) * 2.
        expect(dets).toEqual([
          { box: { x: 540, y: 310, w: 200, h: 100 }, score: expect.closeTo(0.9, 5) as unknown as number, classId: 7, className: 'class7' },
          { box: { x: 160, y: 80, w: 80, h: 80 }, score: expect.closeTo(0.6, 5) as unknown as number, classId: 2, className: 'class2' },
        ]);
      } finally {
        await m.close();
      }
    });
  }

  it('refuses, when it loads, a model whose output fits no layout, naming its shape', async () => {
    const bad = constantModel(new Float32Array(2 * 3 * 4), [2, 3, 4]);
    const load = VisionModel.load(bad, backend, { providers: ['cpu'] }, { task: 'detection' });
    await expect(load).rejects.toThrow(ModelError);
    await expect(load).rejects.toThrow(/vision model: outputs output0 \[2, 3, 4\] fit no detection layout \(yolov8 is \[1, 4 \+ C, N\] with a batch of 1/);
  });
});
