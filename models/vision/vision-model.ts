import type { InferenceBackend, LoadOptions, LoadedModel, Tensor, TensorSpec } from '../engine/engine.js';
import { ModelError } from '../engine/errors.js';
import { readModelMetadata } from '../onnx/builder.js';
import { topK, type ClassScore } from './classify.js';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { FittedDecoder, VisionTask } from './decoders/decoder.js';
import type { Box } from './geometry.js';
import { toSource, type Letterbox } from './letterbox.js';
import { readingOf, visionInput, type ReadingOptions } from './model-plan.js';
import { nms } from './nms.js';
import { Preprocessor } from './preprocess.js';

export interface VisionModelOptions extends ReadingOptions {
  /** Normalisation per channel; default: none (0..1 inputs). The channel count comes from the model's input shape. */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  readonly confidence?: number;
  readonly iouThreshold?: number;
  readonly maxDetections?: number;
  readonly topK?: number;
}

export interface SourceDetection {
  /** In source-frame pixels. */
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
  readonly className: string;
}

export type SourceClass = ClassScore & { readonly className: string };

/** One frame's result: detections in source-frame pixels, or the most probable classes of the whole frame (top-k, most probable first). */
export type FrameResult = { readonly kind: 'detections'; readonly detections: SourceDetection[] } | { readonly kind: 'classes'; readonly classes: SourceClass[] };

/** True when ONNX Runtime could not say a dimension (dynamic axes): the real shapes need a run. */
const unknownShape = (o: TensorSpec): boolean => o.shape.length === 0 || o.shape.some((d) => typeof d !== 'number' || d < 0);

/**
 * A detector or classifier on frames: preprocessing to the model's input (its shape read from
 * the model), inference through the engine, and decoding by the decoder fitted to the model's
 * outputs when it loads (decoders/: YOLOv8, YOLOv5, SSD, classification), then for detections
 * class-wise NMS and boxes mapped back through the letterbox, for classification top-k.
 */
export class VisionModel {
  private constructor(
    readonly model: LoadedModel,
    private readonly pre: Preprocessor,
    /** A second input buffer, so one frame can be preprocessed while the previous one is in inference. */
    private readonly pre2: Preprocessor,
    private readonly o: VisionModelOptions,
    private readonly inputName: string,
    readonly decoder: FittedDecoder,
    /** Class names by class id: the config's, else the model's own metadata's; undefined: `class<N>`. */
    readonly classNames: readonly string[] | undefined,
    /** Worth a warning, not a refusal (metadata names that do not fit the outputs). */
    readonly notes: readonly string[],
  ) {}

  /**
   * Loads the model and fits its decoder to its outputs: a model whose outputs fit no layout
   * (or the configured one), or fit more than one, or have another class count than
   * classNames, is refused here with a ModelError saying which.
   */
  static async load(bytes: Uint8Array, backend: InferenceBackend, loadOptions: LoadOptions, o: VisionModelOptions): Promise<VisionModel> {
    const model = await backend.load(bytes, loadOptions);
    try {
      const input = visionInput(model.inputs);
      if ('expected' in input) throw new ModelError('E_MODEL_INVALID', `vision model: expected ${input.expected}, got ${input.got}`);
      const { channels, width, height } = input;
      let outputs = model.outputs;
      if (outputs.some(unknownShape)) {
        // Dynamic output axes: one run on a blank input says what they are for this input size.
        const out = await model.run({ [input.name]: { data: new Float32Array(channels * width * height), dims: [1, channels, height, width] } });
        outputs = outputs.map((s) => ({ ...s, shape: out[s.name]?.dims ?? s.shape }));
      }
      let metadata: Record<string, string> = {};
      try {
        metadata = readModelMetadata(bytes);
      } catch {
        // ONNX Runtime read it; metadata it cannot give is only a nicety.
      }
      const reading = readingOf(outputs, metadata, o);
      if (reading.ok !== true) throw new ModelError('E_MODEL_OUTPUT', `vision model: ${reading.ok === false ? reading.reason : `cannot tell how to read outputs ${outputs.map((s) => `${s.name} [${s.shape.join(', ')}]`).join(', ')}: set layout`}`);
      const mean = o.mean ?? new Array<number>(channels).fill(0);
      const std = o.std ?? new Array<number>(channels).fill(1);
      const p = { width, height, channels, mean, std };
      return new VisionModel(model, new Preprocessor(p), new Preprocessor(p), o, input.name, reading.decoder, reading.classNames, reading.notes);
    } catch (err) {
      await model.close();
      throw err;
    }
  }

  get task(): VisionTask {
    return this.decoder.task;
  }

  get inputSize(): { width: number; height: number; channels: number } {
    return { width: this.pre.o.width, height: this.pre.o.height, channels: this.pre.o.channels };
  }

  /** Preprocessing alone (the benchmark times it apart from inference). */
  /** The tensor stays valid until the next call with the same `slot` (0 or 1). */
  preprocess(frame: RawFrame, slot: 0 | 1 = 0): { tensor: Float32Array; letterbox: Letterbox } {
    const pre = slot === 0 ? this.pre : this.pre2;
    const tensor = pre.run(frame);
    return { tensor, letterbox: pre.letterbox as Letterbox };
  }

  /** Inference alone on an already preprocessed tensor: the raw outputs, by name. */
  infer(tensor: Float32Array): Promise<Record<string, Tensor>> {
    return this.model.run({ [this.inputName]: { data: tensor, dims: this.pre.dims } });
  }

  className(classId: number): string {
    return this.classNames?.[classId] ?? `class${classId}`;
  }

  /** Decodes raw outputs: detections in source-frame pixels, or the top classes. */
  decode(outputs: Readonly<Record<string, Tensor>>, l: Letterbox): FrameResult {
    const decoded = this.decoder.decode(outputs, { confidence: this.o.confidence ?? 0.25, input: { width: this.pre.o.width, height: this.pre.o.height } });
    if (decoded.kind === 'classes') {
      return { kind: 'classes', classes: topK(decoded.probabilities, this.o.topK ?? 5, true).map((c) => ({ ...c, className: this.className(c.classId) })) };
    }
    const detections = nms(decoded.candidates, this.o.iouThreshold ?? 0.45, this.o.maxDetections ?? 100)
      .map((d) => ({ box: toSource(l, d.box), score: d.score, classId: d.classId, className: this.className(d.classId) }))
      .filter((d) => d.box.w > 0 && d.box.h > 0);
    return { kind: 'detections', detections };
  }

  async run(frame: RawFrame): Promise<FrameResult> {
    const { tensor, letterbox } = this.preprocess(frame);
    return this.decode(await this.infer(tensor), letterbox);
  }

  async detect(frame: RawFrame): Promise<SourceDetection[]> {
    const r = await this.run(frame);
    if (r.kind !== 'detections') throw new ModelError('E_MODEL_OUTPUT', `vision model: a ${this.decoder.layout} model classifies frames, it does not detect`);
    return r.detections;
  }

  async classify(frame: RawFrame): Promise<SourceClass[]> {
    const r = await this.run(frame);
    if (r.kind !== 'classes') throw new ModelError('E_MODEL_OUTPUT', `vision model: a ${this.decoder.layout} model detects, it does not classify frames`);
    return r.classes;
  }

  close(): Promise<void> {
    return this.model.close();
  }
}
