import type { DetectionSample } from '../../datasets/types.js';
import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import { classMetrics, type EvalImage } from '../metrics.js';
import { VisionModel } from '../vision-model.js';
import { rgbaFrame } from './training-images.js';

/** Confidences tried for the operating point. */
const CANDIDATES = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1));
/** Below this confidence a detection is not worth counting (the curve's tail). */
const FLOOR = 0.05;

/**
 * The confidence a plant should start from: the one of 0.05, 0.10, ... 0.95 with the best F1 over
 * all classes (true positives, false positives and misses summed) on the validation split, run
 * through the gateway's own path (VisionModel: preprocessing, ONNX Runtime, decoding, NMS).
 * A trained detector's scores are not calibrated probabilities, so YOLO's usual 0.25 can be far
 * off (on the boards: precision 0.4 at 0.25). Undefined when the split has no objects.
 */
export async function chooseOperatingPoint(model: Uint8Array, samples: readonly DetectionSample[], classes: number, mean: readonly number[], std: readonly number[]): Promise<{ threshold: number; f1: number } | undefined> {
  if (!samples.some((s) => s.boxes.length > 0)) return undefined;
  const detector = await VisionModel.load(model, new OnnxBackend(), { providers: ['cpu'], threads: 1 }, { task: 'detection', mean, std, confidence: FLOOR, iouThreshold: 0.45, maxDetections: 300 });
  const images: EvalImage[] = [];
  try {
    for (const s of samples) {
      const img = await s.load();
      const found = await detector.detect(rgbaFrame(img));
      images.push({
        detections: found.map((d) => ({ box: d.box, score: d.score, classId: d.classId })),
        truth: s.boxes.map((b) => ({ box: { x: (b.cx - b.w / 2) * img.width, y: (b.cy - b.h / 2) * img.height, w: b.w * img.width, h: b.h * img.height }, classId: b.classId, ignore: false })),
      });
    }
  } finally {
    await detector.close();
  }
  let best = { threshold: 0.25, f1: -1 };
  for (const threshold of CANDIDATES) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let c = 0; c < classes; c += 1) {
      const m = classMetrics(images, c, threshold);
      tp += m.truePositives;
      fp += m.falsePositives;
      fn += m.falseNegatives;
    }
    const f1 = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
    if (f1 > best.f1) best = { threshold: Math.round(threshold * 100) / 100, f1 };
  }
  return best;
}
