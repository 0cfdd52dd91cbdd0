import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { EvalError } from '../../../models/eval/eval-error.js';
import { evaluateVision, type EvalProgress } from '../../../models/eval/evaluate-vision.js';
import type { GalleryItem } from '../../../models/eval/evaluation.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { VisionModel } from '../../../models/vision/vision-model.js';
import { classMetrics, type EvalImage } from '../../../models/vision/metrics.js';
import { VISION_DEFAULTS } from '../../../models/vision/defaults.js';
import { renderFrame } from '../../../sim/vision/labelled-frames.js';
import { EVAL_SEED_BASE } from '../../../sim/vision/labelled-frames.js';
import { classifierCard, conveyorCropSet, conveyorDetectionSet, detectorCard } from './conveyor-sets.js';

const IMAGES = 40;
const backend = new OnnxBackend();

function expectPngThumbnails(items: readonly GalleryItem[]): void {
  for (const item of items) {
    const t = item.thumbnail;
    expect(t, item.caption).not.toBeNull();
    const png = pngjs.PNG.sync.read(Buffer.from((t as NonNullable<typeof t>).png));
    expect([png.width, png.height]).toEqual([t?.width, t?.height]);
    expect(Math.max(png.width, png.height)).toBeLessThanOrEqual(240);
  }
}

describe('evaluateVision on real models', () => {
  it('scores the built-in part detector on conveyor pictures as a gateway scores it on video, one image decoded at a time', async () => {
    const { card, model } = await detectorCard();
    const loads = { count: 0 };
    const progress: EvalProgress[] = [];
    const e = await evaluateVision(card, model, conveyorDetectionSet({ images: IMAGES, loads }), { backend, onProgress: (p) => progress.push(p), gallerySize: 4 });
    if (e.task !== 'detect') throw new Error('expected a detection evaluation');
    const part = e.metrics.classes[0];
    // The detector finds the parts: boxes come back through the letterbox onto the labels.
    expect(e.metrics.mAP50).toBeGreaterThanOrEqual(0.85);
    expect(e.metrics.mAP50_95).toBeLessThan(e.metrics.mAP50);
    expect(part?.truths).toBeGreaterThan(50);
    expect(e.context.notes).toEqual([]);
    expect(e.context.inferenceMsMean).toBeGreaterThan(0);

    // The same stills as the decoder hands them to the stage (I420 video frames), scored by
    // the simulator's own evaluation: the picture path gives the same answer within rounding.
    const vm = await VisionModel.load(model, backend, { providers: ['cpu'] }, { task: 'detection', layout: 'yolov8', confidence: 0.001, iouThreshold: VISION_DEFAULTS.iouThreshold, maxDetections: 100 });
    const video: EvalImage[] = [];
    for (let i = 0; i < IMAGES; i += 1) {
      const { frame, parts } = renderFrame(EVAL_SEED_BASE + i, 640, 360);
      video.push({ detections: await vm.detect(frame), truth: parts.map((p) => ({ box: p.box, classId: 0, ignore: false })) });
    }
    await vm.close();
    const onVideo = classMetrics(video, 0, card.threshold);
    expect(Math.abs((part?.ap50 as number) - onVideo.ap50)).toBeLessThan(0.03);
    expect(Math.abs((part?.recall as number) - onVideo.recall)).toBeLessThan(0.05);

    // Progress per image, and each image decoded once plus once more for the gallery's pictures.
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: IMAGES }, (_, i) => i + 1));
    expect(progress[0]).toMatchObject({ total: IMAGES, file: `images/val/still-${EVAL_SEED_BASE}.png` });
    expect(loads.count).toBeGreaterThan(IMAGES);
    expect(loads.count).toBeLessThanOrEqual(IMAGES + 8);

    // The gallery: the worst first, each a PNG of the region around the mistake.
    expect(e.falsePositives.length).toBeGreaterThan(0);
    expect(e.falsePositives.length).toBeLessThanOrEqual(4);
    const scores = e.falsePositives.map((f) => Number(/part (\d\.\d\d)/.exec(f.caption)?.[1]));
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(e.missed.length).toBe(Math.min(4, part?.falseNegatives as number));
    expectPngThumbnails([...e.falsePositives, ...e.missed]);
  });

  it('gives labels that miss the parts an mAP50 near zero', async () => {
    const { card, model } = await detectorCard();
    const e = await evaluateVision(card, model, conveyorDetectionSet({ images: 12, shift: 0.5 }), { backend, gallerySize: 0 });
    expect(e.task === 'detect' && e.metrics.mAP50).toBeLessThan(0.05);
  });

  it('scores the crop classifier on a folder-per-class set, matching class folders to the model by name', async () => {
    const { card, model } = await classifierCard();
    const set = conveyorCropSet(30);
    // Folders sorted: background, defective-part, part; the model: part, defective-part, background.
    expect(set.classNames).not.toEqual(card.classNames);
    const e = await evaluateVision(card, model, set, { backend, gallerySize: 3 });
    if (e.task !== 'classify') throw new Error('expected a classification evaluation');
    const m = e.metrics;
    expect(m.images).toBe(set.val.length);
    expect(m.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(m.classes.map((c) => c.name)).toEqual(card.classNames);
    // Rows are the truth in the model's class order: each row adds up to that class's images.
    const perModelClass = card.classNames.map((n) => set.val.filter((s) => set.classNames[s.classId] === n).length);
    expect(m.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(perModelClass);
    expect(m.confusion.reduce((s, row, k) => s + (row[k] as number), 0)).toBe(Math.round(m.accuracy * m.images));
    const wrong = m.images - Math.round(m.accuracy * m.images);
    expect(e.confidentWrong.length).toBe(Math.min(3, wrong));
    expectPngThumbnails(e.confidentWrong);
  });

  it('refuses a model and a dataset that do not go together, naming both sides', async () => {
    const { card, model } = await detectorCard();
    const set = conveyorDetectionSet({ images: 2 });
    const refused = async (p: Promise<unknown>, message: RegExp): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(err).toBeInstanceOf(EvalError);
      expect((err as EvalError).code).toBe('E_EVAL_MISMATCH');
      expect((err as Error).message).toMatch(message);
    };
    // The card says widget, the model's metadata (what a gateway shows in events) says part.
    await refused(evaluateVision({ ...card, classNames: ['widget'] }, model, { ...set, classNames: ['widget'] }, { backend }), /"part" in its metadata, its card "widget"/);
    await refused(evaluateVision(card, model, { ...set, classNames: ['bolt'] }, { backend }), /classes the model does not know: "bolt"/);
    await refused(evaluateVision(card, model, conveyorCropSet(1), { backend }), /detect model.*classify dataset/);
    await refused(evaluateVision({ ...card, input: { ...(card.input as NonNullable<typeof card.input>), width: 640 } }, model, set, { backend }), /takes 1x192x320, its card says 1x192x640/);
    await refused(evaluateVision(card, model, { ...set, val: [] }, { backend }), /no val images/);
  });
});
