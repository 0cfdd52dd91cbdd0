import { isAbsolute, relative } from 'node:path';
import { packedLayout, type RawFrame } from '../../runtime/pipeline/frame.js';
import type { ClassificationSample, DetectionSample, RgbImage, VisionDataset } from '../datasets/types.js';
import { OnnxBackend } from '../engine/backends/onnxruntime/onnx-backend.js';
import type { InferenceBackend } from '../engine/engine.js';
import type { ModelCard } from '../model-dir/model-card.js';
import { VISION_DEFAULTS } from '../vision/defaults.js';
import { iou, type Box } from '../vision/geometry.js';
import { VisionModel } from '../vision/vision-model.js';
import { ClassificationAccumulator } from './classification-metrics.js';
import { DetectionAccumulator, REPORT_IOU, type EvalDetection, type EvalTruth } from './detection-metrics.js';
import { EvalError } from './eval-error.js';
import type { ClassificationEvaluation, DetectionEvaluation, EvalContext, GalleryItem, VisionEvaluation } from './evaluation.js';
import { regionAround, thumbnail, type MarkedBox } from './thumbnail.js';
import { WorstList } from './worst-list.js';

export interface EvalProgress {
  readonly done: number;
  readonly total: number;
  readonly file: string;
}

export interface VisionEvalOptions {
  /** The operating point (detection confidence); default: the card's `threshold`. */
  readonly threshold?: number;
  /** Default `val`: the images training held out. */
  readonly split?: 'train' | 'val';
  /** Mistakes shown per gallery list; default GALLERY_SIZE. */
  readonly gallerySize?: number;
  readonly onProgress?: (p: EvalProgress) => void;
  /** Default: ONNX Runtime on the CPU, as `inference: { backend: onnxruntime }` on a gateway. */
  readonly backend?: InferenceBackend;
  /** Threads per inference; default: the backend's. */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  /** For the report's header. */
  readonly modelDir?: string;
}

export const GALLERY_SIZE = 12;
/**
 * Detections are kept down to this score, as Ultralytics' `val` does (conf 0.001): AP
 * integrates the whole ranking, and a detector's operating threshold is chosen from it.
 */
export const EVAL_CONFIDENCE = 0.001;
/** Detections per image after NMS: COCO's maxDets (and the vision stage's default). */
export const EVAL_MAX_DETECTIONS = 100;

/**
 * Runs a trained model on a dataset's images exactly as a gateway's vision stage would:
 * VisionModel (the card's input size, channels and mean/std through the gateway's
 * Preprocessor, the engine, the decoder of the card's layout, class-wise NMS at the stage's
 * IoU, boxes mapped back through the letterbox to image pixels), one image decoded at a time;
 * then the mistakes worth looking at are read again for their thumbnails.
 */
export async function evaluateVision(card: ModelCard, modelBytes: Uint8Array, dataset: VisionDataset, o: VisionEvalOptions = {}): Promise<VisionEvaluation> {
  if (card.task !== dataset.task) throw new EvalError(`the model (${card.architecture}) is a ${card.task} model, the dataset at ${dataset.root} is a ${dataset.task} dataset (${dataset.task === 'detect' ? 'YOLO layout' : 'folder per class'})`);
  const input = card.input;
  if (input === undefined) throw new EvalError(`the model card has no input: a ${card.task} model needs one`);
  const threshold = o.threshold ?? card.threshold;
  if (!(threshold >= 0 && threshold <= 1)) throw new EvalError(`threshold: expected a score from 0 to 1, got ${threshold}`);
  const toModel = classMapping(card, dataset);
  const started = Date.now();
  const backend = o.backend ?? new OnnxBackend();
  const vm = await VisionModel.load(modelBytes, backend, { providers: ['cpu'], ...(o.threads === undefined ? {} : { threads: o.threads }) }, {
    task: card.task === 'detect' ? 'detection' : 'classification',
    layout: card.output.layout === 'autoencoder' ? 'auto' : card.output.layout,
    mean: input.mean,
    std: input.std,
    confidence: Math.min(EVAL_CONFIDENCE, threshold),
    iouThreshold: VISION_DEFAULTS.iouThreshold,
    maxDetections: EVAL_MAX_DETECTIONS,
    topK: card.classNames.length,
  });
  try {
    const notes = checkModel(card, vm);
    const split = o.split ?? 'val';
    if (dataset[split].length === 0) throw new EvalError(`the dataset at ${dataset.root} has no ${split} images to evaluate on`);
    const context = (): EvalContext => ({
      ...(o.modelDir === undefined ? {} : { modelDir: o.modelDir }),
      architecture: card.architecture,
      sha256: vm.model.sha256,
      classNames: card.classNames,
      datasetRoot: dataset.root,
      split,
      inferenceMsMean: vm.model.stats().meanMs,
      seconds: (Date.now() - started) / 1000,
      notes,
      finishedAt: new Date().toISOString(),
    });
    const gallerySize = o.gallerySize ?? GALLERY_SIZE;
    const fileOf = (file: string): string => {
      const r = relative(dataset.root, file);
      return r.startsWith('..') || isAbsolute(r) ? file : r;
    };
    if (dataset.task === 'detect') return await runDetection(vm, card, dataset[split], toModel, threshold, gallerySize, fileOf, context, o);
    return await runClassification(vm, card, dataset[split], toModel, gallerySize, fileOf, context, o);
  } finally {
    await vm.close();
  }
}

/** Dataset class ids to the model's, by name: a dataset class the model does not have cannot be evaluated. */
function classMapping(card: ModelCard, dataset: VisionDataset): Int32Array {
  const byName = new Map(card.classNames.map((n, i) => [n, i]));
  const unknown = dataset.classNames.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    throw new EvalError(`the dataset at ${dataset.root} has classes the model does not know: ${unknown.map((n) => JSON.stringify(n)).join(', ')} (the model's: ${card.classNames.map((n) => JSON.stringify(n)).join(', ')})`);
  }
  return Int32Array.from(dataset.classNames, (n) => byName.get(n) as number);
}

/** The card must describe the model it sits beside: its input, and the class names the gateway will read from its metadata. */
function checkModel(card: ModelCard, vm: VisionModel): string[] {
  const input = card.input as NonNullable<ModelCard['input']>;
  const got = vm.inputSize;
  if (got.width !== input.width || got.height !== input.height || got.channels !== input.channels) {
    throw new EvalError(`model.onnx takes ${got.channels}x${got.height}x${got.width}, its card says ${input.channels}x${input.height}x${input.width}: the card does not describe this model`);
  }
  if (vm.classNames === undefined) return [`model.onnx has no class names in its metadata: a gateway would call its classes class0, class1, ...; the card's names are used here`];
  if (vm.classNames.join('\n') !== card.classNames.join('\n')) {
    throw new EvalError(`model.onnx names its classes ${vm.classNames.map((n) => JSON.stringify(n)).join(', ')} in its metadata, its card ${card.classNames.map((n) => JSON.stringify(n)).join(', ')}: the card does not describe this model`);
  }
  return [];
}

/** An RgbImage as the RGBA frame a camera source hands over; the buffer is reused while the size stays. */
class FrameMaker {
  private buffer: Uint8Array | undefined;

  frame(image: RgbImage): RawFrame {
    const { layout, size } = packedLayout('RGBA', image.width, image.height);
    if (this.buffer?.length !== size) this.buffer = new Uint8Array(size);
    const out = this.buffer;
    const src = image.data;
    for (let i = 0, j = 0; j < size; i += 3, j += 4) {
      out[j] = src[i] as number;
      out[j + 1] = src[i + 1] as number;
      out[j + 2] = src[i + 2] as number;
      out[j + 3] = 255;
    }
    return { format: 'RGBA', width: image.width, height: image.height, data: out, layout, timestampUs: 0 };
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new Error('evaluation aborted');
}

/** A mistake found in the pass: where, what to draw, and its caption; the picture is made after the pass. */
interface Mistake {
  readonly index: number;
  readonly rank: number;
  readonly focus: Box | undefined;
  readonly boxes: readonly MarkedBox[];
  readonly caption: string;
}

async function runDetection(
  vm: VisionModel,
  card: ModelCard,
  samples: readonly DetectionSample[],
  toModel: Int32Array,
  threshold: number,
  gallerySize: number,
  fileOf: (f: string) => string,
  context: () => EvalContext,
  o: VisionEvalOptions,
): Promise<DetectionEvaluation> {
  const names = card.classNames;
  const acc = new DetectionAccumulator(names, threshold);
  const falsePositives = new WorstList<Mistake>(gallerySize, (a, b) => b.rank - a.rank || a.index - b.index);
  const missed = new WorstList<Mistake>(gallerySize, (a, b) => a.rank - b.rank || a.index - b.index);
  const frames = new FrameMaker();
  for (let index = 0; index < samples.length; index += 1) {
    throwIfAborted(o.signal);
    const sample = samples[index] as DetectionSample;
    const image = await sample.load();
    const truth: EvalTruth[] = sample.boxes.map((b) => ({
      classId: toModel[b.classId] as number,
      box: { x: (b.cx - b.w / 2) * image.width, y: (b.cy - b.h / 2) * image.height, w: b.w * image.width, h: b.h * image.height },
    }));
    const detections: EvalDetection[] = await vm.detect(frames.frame(image));
    const outcome = acc.add(truth, detections);
    const file = fileOf(sample.file);
    const shown = (focus: Box, kind: 'truth' | 'prediction'): MarkedBox[] => [
      ...truth.map((t) => ({ box: t.box, kind: 'truth' as const, strong: kind === 'truth' && t.box === focus, label: names[t.classId] as string })),
      ...detections.filter((d) => d.score >= threshold || d.box === focus).map((d) => ({ box: d.box, kind: 'prediction' as const, strong: kind === 'prediction' && d.box === focus, label: `${names[d.classId] as string} ${d.score.toFixed(2)}` })),
    ];
    detections.forEach((d, k) => {
      if (outcome.detectionTrue[k] !== false) return;
      const under = truth.map((t) => ({ t, v: iou(d.box, t.box) })).filter((x) => x.v >= REPORT_IOU).sort((a, b) => b.v - a.v)[0];
      const on = under === undefined ? 'on background' : `on a ${names[under.t.classId] as string} (IoU ${under.v.toFixed(2)})`;
      falsePositives.add({ index, rank: d.score, focus: d.box, boxes: shown(d.box, 'prediction'), caption: `${file}: ${names[d.classId] as string} ${d.score.toFixed(2)}${d.score < threshold ? ' (below the threshold)' : ''} ${on}` });
    });
    truth.forEach((t, k) => {
      if (outcome.truthFound[k] === true) return;
      const c = outcome.truthConfidence[k] as number;
      missed.add({ index, rank: c, focus: t.box, boxes: shown(t.box, 'truth'), caption: `${file}: ${names[t.classId] as string} ${Math.round(t.box.w)}x${Math.round(t.box.h)} px missed (${c === 0 ? 'no detection of its class on it' : `best score on it ${c.toFixed(3)}`})` });
    });
    o.onProgress?.({ done: index + 1, total: samples.length, file });
  }
  const fp = falsePositives.list();
  const fn = missed.list();
  const pictures = await pictureMistakes(samples, [...fp, ...fn], true, o.signal);
  return {
    task: 'detect',
    context: context(),
    metrics: acc.result(),
    falsePositives: fp.map((m) => galleryItem(m, samples, fileOf, pictures)),
    missed: fn.map((m) => galleryItem(m, samples, fileOf, pictures)),
  };
}

async function runClassification(
  vm: VisionModel,
  card: ModelCard,
  samples: readonly ClassificationSample[],
  toModel: Int32Array,
  gallerySize: number,
  fileOf: (f: string) => string,
  context: () => EvalContext,
  o: VisionEvalOptions,
): Promise<ClassificationEvaluation> {
  const names = card.classNames;
  const acc = new ClassificationAccumulator(names);
  const confident = new WorstList<Mistake>(gallerySize, (a, b) => b.rank - a.rank || a.index - b.index);
  const unsure = new WorstList<Mistake>(gallerySize, (a, b) => a.rank - b.rank || a.index - b.index);
  const frames = new FrameMaker();
  const probabilities = new Float64Array(names.length);
  for (let index = 0; index < samples.length; index += 1) {
    throwIfAborted(o.signal);
    const sample = samples[index] as ClassificationSample;
    const image = await sample.load();
    probabilities.fill(0);
    for (const c of await vm.classify(frames.frame(image))) probabilities[c.classId] = c.score;
    const truth = toModel[sample.classId] as number;
    const r = acc.add(truth, probabilities);
    const file = fileOf(sample.file);
    if (r.predicted !== truth) {
      const caption = `${file}: a ${names[truth] as string} called ${names[r.predicted] as string} (${r.confidence.toFixed(2)}; ${names[truth] as string} ${r.trueConfidence.toFixed(2)})`;
      confident.add({ index, rank: r.confidence, focus: undefined, boxes: [], caption });
      unsure.add({ index, rank: r.trueConfidence, focus: undefined, boxes: [], caption });
    }
    o.onProgress?.({ done: index + 1, total: samples.length, file });
  }
  const a = confident.list();
  const b = unsure.list();
  const pictures = await pictureMistakes(samples, [...a, ...b], false, o.signal);
  return {
    task: 'classify',
    context: context(),
    metrics: acc.result(),
    confidentWrong: a.map((m) => galleryItem(m, samples, fileOf, pictures)),
    leastSure: b.map((m) => galleryItem(m, samples, fileOf, pictures)),
  };
}

/**
 * Thumbnails of the mistakes, each image read once more (only the gallery's: a few dozen at
 * most, one decoded at a time). An image that no longer reads gets no picture, not a failure:
 * the metrics are already done.
 */
async function pictureMistakes(samples: readonly (DetectionSample | ClassificationSample)[], mistakes: readonly Mistake[], aroundFocus: boolean, signal: AbortSignal | undefined): Promise<Map<Mistake, GalleryItem['thumbnail']>> {
  const byImage = new Map<number, Mistake[]>();
  for (const m of mistakes) byImage.set(m.index, [...(byImage.get(m.index) ?? []), m]);
  const out = new Map<Mistake, GalleryItem['thumbnail']>();
  for (const [index, ms] of [...byImage].sort((x, y) => x[0] - y[0])) {
    throwIfAborted(signal);
    let image: RgbImage;
    try {
      image = await (samples[index] as DetectionSample | ClassificationSample).load();
    } catch {
      for (const m of ms) out.set(m, null);
      continue;
    }
    for (const m of ms) out.set(m, thumbnail(image, m.boxes, regionAround(image, aroundFocus ? m.focus : undefined)));
  }
  return out;
}

function galleryItem(m: Mistake, samples: readonly { readonly file: string }[], fileOf: (f: string) => string, pictures: Map<Mistake, GalleryItem['thumbnail']>): GalleryItem {
  return { file: fileOf((samples[m.index] as { file: string }).file), caption: m.caption, thumbnail: pictures.get(m) ?? null };
}
