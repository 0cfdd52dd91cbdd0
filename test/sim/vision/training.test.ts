import { describe, expect, it } from 'vitest';
import { CROP_VALUES, cropInput } from '../../../models/vision/classifier/architecture.js';
import { exportClassifier } from '../../../models/vision/classifier/export.js';
import { trainClassifier } from '../../../models/vision/classifier/train.js';
import { exportDetector } from '../../../models/vision/detector/export.js';
import { trainDetector } from '../../../models/vision/detector/train.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { TRAIN_SEED_BASE, detectorPreprocessor, labelledImage, renderFrame } from '../../../sim/vision/labelled-frames.js';

describe('vision training (small runs of the real trainers)', () => {
  it('trains the part detector deterministically from its seed, and the loss falls', async () => {
    const pre = detectorPreprocessor();
    const images = Array.from({ length: 12 }, (_, i) => labelledImage(TRAIN_SEED_BASE + i, pre));
    const o = { hidden: [8, 4], epochs: 3, batchSize: 32, learningRate: 0.003, seed: 3, negativesPerImage: 8 };
    const a = await trainDetector(images, o);
    const b = await trainDetector(images, o);
    expect(Buffer.from(exportDetector(a.model, {})).equals(Buffer.from(exportDetector(b.model, {})))).toBe(true);
    expect(a.losses[a.losses.length - 1] as number).toBeLessThan(a.losses[0] as number);
  }, 60_000);

  it("trains the crop classifier deterministically, and its ONNX export gives the trainer's probabilities", async () => {
    const crops: number[] = [];
    const labels: number[] = [];
    const frames = [];
    for (let i = 0; i < 20; i += 1) {
      const { frame, parts } = renderFrame(TRAIN_SEED_BASE + i, 640, 360);
      frames.push(frame);
      for (const p of parts) {
        const c = new Float64Array(CROP_VALUES);
        cropInput(frame, p.box, c, 0, true);
        crops.push(...c);
        labels.push(p.defect === 'none' ? 0 : 1);
      }
    }
    const o = { hidden: [8, 4], epochs: 4, batchSize: 16, learningRate: 0.003, seed: 5 };
    const a = await trainClassifier(Float64Array.from(crops), Uint8Array.from(labels), labels.length, o);
    const b = await trainClassifier(Float64Array.from(crops), Uint8Array.from(labels), labels.length, o);
    const bytes = exportClassifier(a.model, {});
    expect(Buffer.from(bytes).equals(Buffer.from(exportClassifier(b.model, {})))).toBe(true);
    // The export folds the crop centring into its first layer: uncentred input, same answer.
    const model = await new OnnxBackend().load(bytes, { providers: ['cpu'] });
    try {
      const raw = new Float32Array(CROP_VALUES);
      const centred = new Float64Array(CROP_VALUES);
      const { frame, parts } = renderFrame(TRAIN_SEED_BASE, 640, 360);
      const box = parts[0]?.box ?? { x: 100, y: 100, w: 60, h: 60 };
      cropInput(frame, box, raw, 0, false);
      cropInput(frame, box, centred, 0, true);
      const onnx = (await model.run({ crop: { data: raw, dims: [1, 1, 32, 32] } }))['probabilities']?.data ?? new Float32Array();
      const logits = a.model.predict(centred, 1);
      const e = Array.from(logits, (z) => Math.exp(z - Math.max(...logits)));
      e.forEach((v, k) => expect(onnx[k]).toBeCloseTo(v / e.reduce((x, y) => x + y, 0), 4));
    } finally {
      await model.close();
    }
  }, 60_000);
});
