import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { defaultBackend } from '../../support/inference-backend.js';
import { readModelMetadata } from '../../../models/onnx/builder.js';
import { parseClassNames } from '../../../models/vision/class-names.js';
import { visionStagePlugin } from '../../../models/vision/index.js';
import { Preprocessor } from '../../../models/vision/preprocess.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import { packedLayout, type RawFrame } from '../../../runtime/pipeline/frame.js';
import { ConveyorScene } from '../../../sim/camera/index.js';
import { buildYolov8, type Yolov8Model } from '../../../sim/vision/yolov8/architecture.js';
import { COCO_NAMES } from '../../../sim/vision/yolov8/coco-names.js';
import { makeTempDir } from '../../support/temp-dir.js';

const SIZE = 640;
const ANCHORS = 80 * 80 + 40 * 40 + 20 * 20;

/** A 640x640 frame of the simulated conveyor: it fills the model's input (no letterbox padding). */
function conveyorFrame(): RawFrame {
  const f = new ConveyorScene({ width: SIZE, height: SIZE, fps: 10, seed: 3, stillShare: 0 }).next();
  const { layout, size } = packedLayout('I420', SIZE, SIZE);
  const data = new Uint8Array(size);
  data.set(f.y, 0);
  data.set(f.u, (layout[1] as { offset: number }).offset);
  data.set(f.v, (layout[2] as { offset: number }).offset);
  return { format: 'I420', width: SIZE, height: SIZE, data, layout, timestampUs: Date.UTC(2026, 11, 1) * 1000 };
}

describe('YOLOv8 built by code (sim/vision/yolov8): the real architecture with random weights', () => {
  let model: Yolov8Model;
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    model = buildYolov8();
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("has Ultralytics' parameter counts of the fused models (YOLOv8n 3,151,904; YOLOv8s 11,156,544) and is the same bytes for the same seed", () => {
    expect(model.parameters).toBe(3_151_904);
    expect(buildYolov8({ scale: 's' }).parameters).toBe(11_156_544);
    expect(Buffer.from(buildYolov8({ seed: 1 }).bytes).equals(Buffer.from(model.bytes))).toBe(true);
    expect(Buffer.from(buildYolov8({ seed: 2 }).bytes).equals(Buffer.from(model.bytes))).toBe(false);
    // Fused weights and biases are float32: the file is the parameters and a little graph.
    expect(model.bytes.length).toBeGreaterThan(4 * model.parameters);
    expect(model.bytes.length).toBeLessThan(4 * model.parameters + 200_000);
  });

  it('carries the 80 COCO names as Ultralytics writes them (a Python dict) and refuses a name it cannot write', () => {
    const meta = readModelMetadata(model.bytes);
    expect(meta['names']?.startsWith("{0: 'person', 1: 'bicycle', 2: 'car',")).toBe(true);
    expect(parseClassNames(meta['names'] as string)).toEqual(COCO_NAMES);
    expect(meta).toMatchObject({ task: 'detect', stride: '32', imgsz: '[640, 640]' });
    expect(() => buildYolov8({ classNames: ["people's car"] })).toThrow(/only names without quotes/);
    expect(() => buildYolov8({ width: 600 })).toThrow(/multiples of 32/);
  });

  it('ONNX Runtime (one thread) runs it: images [1, 3, 640, 640] -> output0 [1, 84, 8400], boxes in input pixels and scores in (0, 1)', async () => {
    const loaded = await new OnnxBackend({ threads: 1 }).load(model.bytes, { providers: ['cpu'] });
    try {
      expect(loaded.inputs).toEqual([{ name: 'images', type: 'float32', shape: [1, 3, SIZE, SIZE] }]);
      expect(loaded.outputs).toEqual([{ name: 'output0', type: 'float32', shape: [1, 84, ANCHORS] }]);
      const pre = new Preprocessor({ width: SIZE, height: SIZE, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
      const out = (await loaded.run({ images: { data: pre.run(conveyorFrame()), dims: pre.dims } }))['output0'];
      expect(out?.dims).toEqual([1, 84, ANCHORS]);
      const d = out?.data as Float32Array;
      let boxesOk = 0;
      for (let a = 0; a < ANCHORS; a += 1) {
        const [cx, cy, w, h] = [0, 1, 2, 3].map((k) => d[k * ANCHORS + a] as number) as [number, number, number, number];
        // DFL distances are 0..15 cells to each side of the anchor (a cell centre).
        if (cx > 0 && cx < SIZE && cy > 0 && cy < SIZE && w > 0 && h > 0 && w <= 30 * 32 && h <= 30 * 32) boxesOk += 1;
      }
      expect(boxesOk).toBe(ANCHORS);
      const scores = d.subarray(4 * ANCHORS);
      expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
    } finally {
      await loaded.close();
    }
  });

  it('goes through the vision stage: read as yolov8 with 80 classes, names from its metadata, its best box an `entered` event named by COCO', async () => {
    // Seed 3: its best box on this frame lies well inside it (16 px from the edge; seed 1's, 3 px).
    const seeded = buildYolov8({ seed: 3 });
    // Which box the random weights score highest on this frame, from the raw output.
    const loaded = await new OnnxBackend({ threads: 1 }).load(seeded.bytes, { providers: ['cpu'] });
    const pre = new Preprocessor({ width: SIZE, height: SIZE, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
    const frame = conveyorFrame();
    const d = (await loaded.run({ images: { data: pre.run(frame), dims: pre.dims } }))['output0']?.data as Float32Array;
    await loaded.close();
    let top = { anchor: -1, classId: -1, score: -1 };
    for (let c = 0; c < 80; c += 1) {
      for (let a = 0; a < ANCHORS; a += 1) {
        const s = d[(4 + c) * ANCHORS + a] as number;
        if (s > top.score) top = { anchor: a, classId: c, score: s };
      }
    }
    const [cx, cy, w, h] = [0, 1, 2, 3].map((k) => d[k * ANCHORS + top.anchor] as number) as [number, number, number, number];
    // The tracker names a track by its sightings whole in the frame (checked here, so a change of the weights says so).
    expect(cx - w / 2 > 2 && cy - h / 2 > 2 && cx + w / 2 < SIZE - 2 && cy + h / 2 < SIZE - 2).toBe(true);

    await writeFile(`${dir.path}/yolov8n.onnx`, seeded.bytes);
    const logged: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    const stage = (await visionStagePlugin.create(
      // Only the best box passes (the random weights score every box near 0, as a trained model an empty scene).
      { type: 'vision', model: { path: `${dir.path}/yolov8n.onnx` }, threads: 1, motion: { enabled: false }, confidence: top.score },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir.path, decisions: { append: async () => undefined }, events: new EventLog(log, new Registry()).for('vision') },
    )) as VisionStage;
    const out = [];
    for (let i = 0; i < 3; i += 1) out.push(...(await stage.process([{ stream: 'cam', class: 'telemetry', ts: 0, data: { frame: { ...frame, timestampUs: frame.timestampUs + i * 100_000 } } }])));
    out.push(...(await stage.flush()));
    const stats = stage.stats();
    await stage.stop();

    expect(stats).toMatchObject({ frames: 3, inferred: 3, frameErrors: 0, degraded: false });
    expect(logged.find((l) => l['event'] === 'vision.model_loaded')).toMatchObject({ layout: 'yolov8', classes: 80, classNames: 80, input: { width: SIZE, height: SIZE, channels: 3 } });
    const events = out.map((r) => r.data as { event: string; className: string; box: { x: number; y: number; w: number; h: number } });
    // The stage's stop ends the track: its `left` event carries the same label.
    expect(events.map((e) => [e.event, e.className])).toEqual([
      ['entered', COCO_NAMES[top.classId]],
      ['left', COCO_NAMES[top.classId]],
    ]);
    const box = events[0]?.box;
    expect(box?.x).toBeCloseTo(cx - w / 2, 2);
    expect(box?.y).toBeCloseTo(cy - h / 2, 2);
    expect(box?.w).toBeCloseTo(w, 2);
    expect(box?.h).toBeCloseTo(h, 2);
  });
});
