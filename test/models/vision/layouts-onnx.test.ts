import { describe, expect, it } from 'vitest';
import type { InferenceBackend, LoadedModel } from '../../../models/engine/engine.js';
import { ModelError } from '../../../models/engine/errors.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { VisionModel } from '../../../models/vision/vision-model.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import { constantOutputs, pythonNames, ssdOutputs, yolov5Output, yolov8Output, type KnownBox } from './layout-models.js';

/** Every layout through ONNX Runtime, on models built here with known outputs and (some) names in their metadata. */
const backend = new OnnxBackend();
const NAMES = ['person', "people's car", 'say "hi"'];
const close = (v: number): number => expect.closeTo(v, 3) as unknown as number;

function frame(width: number, height: number): RawFrame {
  const { layout, size } = packedLayout('I420', width, height);
  return { format: 'I420', width, height, data: new Uint8Array(size).fill(90), layout, timestampUs: 0 };
}

// In 320x320 input pixels; a 640x360 frame goes in at scale 0.5 with 70 px of padding above and below.
const BOXES: KnownBox[] = [
  { anchor: 10, cx: 160, cy: 160, w: 50, h: 40, classId: 1, score: 0.9 },
  { anchor: 11, cx: 162, cy: 161, w: 50, h: 40, classId: 1, score: 0.8 }, // NMS drops it
  { anchor: 20, cx: 60, cy: 100, w: 20, h: 20, classId: 2, score: 0.7 },
  { anchor: 30, cx: 250, cy: 250, w: 20, h: 20, classId: 0, score: 0.2 }, // below confidence
];
const EXPECTED = [
  { box: { x: 270, y: 140, w: 100, h: 80 }, score: close(0.9), classId: 1, className: "people's car" },
  { box: { x: 100, y: 40, w: 40, h: 40 }, score: close(0.7), classId: 2, className: 'say "hi"' },
];

async function withModel<T>(bytes: Uint8Array, o: Parameters<typeof VisionModel.load>[3], use: (m: VisionModel) => Promise<T>, b: InferenceBackend = backend): Promise<T> {
  const m = await VisionModel.load(bytes, b, { providers: ['cpu'] }, o);
  try {
    return await use(m);
  } finally {
    await m.close();
  }
}

describe('vision model outputs in every layout, through ONNX Runtime', () => {
  it("YOLOv8 with `names` in its metadata: detections carry the model's own names", async () => {
    const bytes = constantOutputs([1, 3, 320, 320], [yolov8Output(2100, 3, BOXES)], { names: pythonNames(NAMES) });
    await withModel(bytes, { confidence: 0.5 }, async (m) => {
      expect(m.decoder).toMatchObject({ layout: 'yolov8', classes: 3 });
      expect(m.classNames).toEqual(NAMES);
      expect(await m.detect(frame(640, 360))).toEqual(EXPECTED);
    });
    // The config's classNames win.
    await withModel(bytes, { confidence: 0.5, classNames: ['a', 'b', 'c'] }, async (m) => {
      expect((await m.detect(frame(640, 360))).map((d) => d.className)).toEqual(['b', 'c']);
    });
  });

  it('YOLOv5 [1, N, 5 + C] with names: the same detections', async () => {
    const bytes = constantOutputs([1, 3, 320, 320], [yolov5Output(2100, 3, BOXES)], { names: pythonNames(NAMES) });
    await withModel(bytes, { confidence: 0.5 }, async (m) => {
      expect(m.decoder).toMatchObject({ layout: 'yolov5', classes: 3 });
      expect(await m.detect(frame(640, 360))).toEqual(EXPECTED);
    });
  });

  it('SSD in the UltraFace layout (scores [1, 4420, 2], boxes [1, 4420, 4] normalised x1y1x2y2): known boxes in source pixels', async () => {
    const outputs = ssdOutputs(4420, 1, [
      { anchor: 100, x1: 0.25, y1: 0.25, x2: 0.5, y2: 0.75, scores: [0.95] },
      { anchor: 101, x1: 0.26, y1: 0.25, x2: 0.51, y2: 0.75, scores: [0.9] }, // NMS drops it
      { anchor: 3000, x1: 0.7, y1: 0.1, x2: 0.8, y2: 0.3, scores: [0.6] },
      { anchor: 4000, x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.2, scores: [0.3] }, // mostly background
    ]);
    const bytes = constantOutputs([1, 3, 240, 320], outputs);
    // 640x480 goes into 320x240 at scale 0.5, no padding: source = normalised x 640 (x 480).
    await withModel(bytes, { confidence: 0.5, classNames: ['face'] }, async (m) => {
      expect(m.decoder).toMatchObject({ layout: 'ssd', classes: 1 });
      expect(await m.detect(frame(640, 480))).toEqual([
        { box: { x: close(160), y: close(120), w: close(160), h: close(240) }, score: close(0.95), classId: 0, className: 'face' },
        { box: { x: close(448), y: close(48), w: close(64), h: close(96) }, score: close(0.6), classId: 0, className: 'face' },
      ]);
    });
    // The background is not a class: two names for UltraFace are one too many.
    await expect(VisionModel.load(bytes, backend, { providers: ['cpu'] }, { classNames: ['background', 'face'] })).rejects.toThrow(
      'vision model: classNames has 2 names, the model (scores [1, 4420, 2], boxes [1, 4420, 4]) has 1 class as ssd',
    );
  });

  it('classification [1, C]: top-k with the metadata names; logits are softmaxed, probabilities kept as they are', async () => {
    const names = { names: pythonNames(['ok', 'jammed belt', "operator's hand", 'empty']) };
    const logits = constantOutputs([1, 3, 32, 32], [{ name: 'logits', dims: [1, 4], data: Float32Array.from([0, 2, 1, -1]) }], names);
    await withModel(logits, { topK: 2 }, async (m) => {
      expect(m.task).toBe('classification');
      const e = [0, 2, 1, -1].map(Math.exp);
      const sum = e.reduce((a, b) => a + b, 0);
      expect(await m.classify(frame(64, 64))).toEqual([
        { classId: 1, score: close((e[1] as number) / sum), className: 'jammed belt' },
        { classId: 2, score: close((e[2] as number) / sum), className: "operator's hand" },
      ]);
      await expect(m.detect(frame(64, 64))).rejects.toThrow(/a classification model classifies frames, it does not detect/);
    });
    const probs = constantOutputs([1, 3, 32, 32], [{ name: 'prob', dims: [1, 4], data: Float32Array.from([0.1, 0.2, 0.6, 0.1]) }], names);
    await withModel(probs, { topK: 1 }, async (m) => {
      expect(await m.classify(frame(64, 64))).toEqual([{ classId: 2, score: close(0.6), className: "operator's hand" }]);
    });
  });

  it('refuses at load classNames of another count than the model has, and a task its outputs are not', async () => {
    const bytes = constantOutputs([1, 3, 320, 320], [yolov8Output(2100, 3, BOXES)]);
    const load = (o: Parameters<typeof VisionModel.load>[3]): Promise<VisionModel> => VisionModel.load(bytes, backend, { providers: ['cpu'] }, o);
    await expect(load({ classNames: ['part', 'defective-part'] })).rejects.toThrow(new ModelError('E_MODEL_OUTPUT', 'vision model: classNames has 2 names, the model (output0 [1, 7, 2100]) has 3 classes as yolov8'));
    await expect(load({ task: 'classification' })).rejects.toThrow(/fit no classification layout .*: is it task detection\?/);
  });

  it("metadata names of another count than the outputs' classes are not used (class<N>), and the model says why", async () => {
    const bytes = constantOutputs([1, 3, 320, 320], [yolov8Output(2100, 3, BOXES)], { names: pythonNames(['only', 'two']) });
    await withModel(bytes, { confidence: 0.5 }, async (m) => {
      expect(m.classNames).toBeUndefined();
      expect(m.notes).toEqual(["the model's metadata names 2 classes, its outputs (output0 [1, 7, 2100]) have 3 classes as yolov8: names not used (class<N>)"]);
      expect((await m.detect(frame(640, 360))).map((d) => d.className)).toEqual(['class1', 'class2']);
    });
  });

  it('outputs whose shapes ONNX Runtime cannot say are fitted on the shapes of one run at load', async () => {
    // ONNX Runtime itself, reporting every output dimension as symbolic (as for dynamic axes it cannot infer).
    const dynamic: InferenceBackend = {
      name: 'onnxruntime-dynamic',
      availableProviders: () => backend.availableProviders(),
      load: async (b, p) => {
        const m = await backend.load(b, p);
        const outputs = m.outputs.map((o) => ({ ...o, shape: o.shape.map((_, i) => `d${i}`) }));
        return new Proxy(m, { get: (t, k) => (k === 'outputs' ? outputs : (Reflect.get(t, k, t) as unknown)) }) as LoadedModel;
      },
    };
    const bytes = constantOutputs([1, 3, 320, 320], [yolov8Output(2100, 3, BOXES)], { names: pythonNames(NAMES) });
    await withModel(
      bytes,
      { confidence: 0.5 },
      async (m) => {
        expect(m.model.outputs[0]?.shape).toEqual(['d0', 'd1', 'd2']);
        expect(m.decoder).toMatchObject({ layout: 'yolov8', classes: 3 });
        expect(await m.detect(frame(640, 360))).toEqual(EXPECTED);
      },
      dynamic,
    );
  });
});
