import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import { BACKGROUND_CLASS_NAME, CLASSIFIER_CLASSES, DEFECT_CLASS } from '../../models/vision/classifier/architecture.js';
import { CropClassifier } from '../../models/vision/classifier/crop-classifier.js';
import { CLASS_NAMES } from '../../models/vision/detector/architecture.js';
import { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH, VISION_DEFAULTS } from '../../models/vision/index.js';
import { classMetrics, type EvalImage } from '../../models/vision/metrics.js';
import { VisionModel } from '../../models/vision/vision-model.js';
import { EVAL_SEED_BASE, SIZES, renderFrame, truthOf } from './labelled-frames.js';

/**
 * `npm run eval:vision`: the defect detector and crop classifier on held-out simulator images
 * (seeds the training never saw), through the same path as the gateway (preprocessing, ONNX
 * Runtime, YOLO decoding, NMS, letterbox back to source pixels, crops, classification). A
 * detection's score is the detector's times the classifier's. Last line: one JSON object.
 */
const program = new Command('eval-vision')
  .option('--images <n>', 'held-out images', '500')
  .option('--detector <file>', 'detector ONNX model', BUILTIN_DETECTOR_PATH())
  .option('--classifier <file>', 'crop classifier ONNX model', BUILTIN_CLASSIFIER_PATH())
  .option('--confidence <p>', 'operating threshold', String(VISION_DEFAULTS.confidence))
  .parse();
const o = program.opts<{ images: string; detector: string; classifier: string; confidence: string }>();
const n = Number.parseInt(o.images, 10);
const threshold = Number.parseFloat(o.confidence);

const backend = new OnnxBackend();
const detector = await VisionModel.load(await readFile(o.detector), backend, { providers: ['cpu'] }, { task: 'detection', classNames: [...CLASS_NAMES], layout: 'yolov8', confidence: 0.05, iouThreshold: VISION_DEFAULTS.iouThreshold });
const classifier = await CropClassifier.load(await readFile(o.classifier), backend, { providers: ['cpu'] });
const images: EvalImage[] = [];
for (let i = 0; i < n; i += 1) {
  const seed = EVAL_SEED_BASE + i;
  const [w, h] = SIZES[seed % SIZES.length] as readonly [number, number];
  const { frame, parts } = renderFrame(seed, w, h);
  const parts2 = await detector.detect(frame);
  const classes = await classifier.classify(frame, parts2.map((d) => d.box));
  const background = CLASSIFIER_CLASSES.indexOf(BACKGROUND_CLASS_NAME);
  const dets = parts2.map((d, k) => ({ box: d.box, score: d.score * (classes[k]?.score ?? 0), classId: classes[k]?.classId ?? 0 })).filter((d) => d.classId !== background);
  images.push({ detections: dets, truth: truthOf(parts) });
  if ((i + 1) % 100 === 0) process.stderr.write(`evaluated ${i + 1}/${n} images\n`);
}
await detector.close();
await classifier.close();
const defect = classMetrics(images, DEFECT_CLASS, threshold);
const part = classMetrics(images, 0, threshold);
const anyPart = classMetrics(
  images.map((im) => ({ detections: im.detections.map((d) => ({ ...d, classId: 0 })), truth: im.truth.map((t) => ({ ...t, classId: 0 })) })),
  0,
  threshold,
);
const line = (name: string, m: typeof defect): string => `${name.padEnd(22)} precision ${m.precision.toFixed(3)} recall ${m.recall.toFixed(3)} AP50 ${m.ap50.toFixed(3)} (TP ${m.truePositives}, FP ${m.falsePositives}, FN ${m.falseNegatives})\n`;
process.stderr.write(`at confidence ${threshold}, ${n} held-out images:\n`);
process.stderr.write(line(CLASSIFIER_CLASSES[DEFECT_CLASS] as string, defect));
process.stderr.write(line(CLASSIFIER_CLASSES[0] as string, part));
process.stderr.write(line('any part (detector)', anyPart));
const r = (x: number): number => Math.round(x * 1000) / 1000;
process.stdout.write(`${JSON.stringify({ bench: 'vision-eval', precision: r(defect.precision), recall: r(defect.recall), map50: r(defect.ap50), images: n })}\n`);
process.exit(0);
