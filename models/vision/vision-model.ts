import type { InferenceBackend, LoadedModel } from '../engine/engine.js';
import { ModelError } from '../engine/errors.js';
import { topK, type ClassScore } from './classify.js';
import type { RawFrame } from '../../runtime/pipeline/frame.js';
import type { Box } from './geometry.js';
import { toSource, type Letterbox } from './letterbox.js';
import { nms } from './nms.js';
import { Preprocessor } from './preprocess.js';
import { decodeYolo, type YoloLayout } from './yolo.js';

export interface VisionModelOptions {
  readonly task: 'detection' | 'classification';
  /** Class names, index = class id; default `class<N>`. */
  readonly classNames?: readonly string[];
  /** Grey (1) or RGB (3) input; default: from the model's input shape. */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  readonly layout?: YoloLayout | 'auto';
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

/**
 * A detector or classifier on frames: preprocessing to the model's input (its shape read from
 * the model), inference through the engine, and decoding (YOLOv5/v8 with class-wise NMS and
 * boxes mapped back through the letterbox, or softmax top-k).
 */
export class VisionModel {
  private constructor(
    readonly model: LoadedModel,
    private readonly pre: Preprocessor,
    /** A second input buffer, so one frame can be preprocessed while the previous one is in inference. */
    private readonly pre2: Preprocessor,
    private readonly o: VisionModelOptions,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  static async load(bytes: Uint8Array, backend: InferenceBackend, providers: readonly string[], o: VisionModelOptions): Promise<VisionModel> {
    const model = await backend.load(bytes, providers);
    try {
      const input = model.inputs[0];
      const output = model.outputs[0];
      const shape = input?.shape ?? [];
      const [, c, h, w] = shape;
      if (input === undefined || output === undefined || shape.length !== 4 || (c !== 1 && c !== 3) || typeof h !== 'number' || typeof w !== 'number') {
        throw new ModelError('E_MODEL_INVALID', `vision model: expected one input [1, 1|3, H, W] with fixed H and W, got [${shape.join(', ')}]`);
      }
      const channels = c as 1 | 3;
      const mean = o.mean ?? new Array<number>(channels).fill(0);
      const std = o.std ?? new Array<number>(channels).fill(1);
      const p = { width: w, height: h, channels, mean, std };
      return new VisionModel(model, new Preprocessor(p), new Preprocessor(p), o, input.name, output.name);
    } catch (err) {
      await model.close();
      throw err;
    }
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

  /** Inference alone on an already preprocessed tensor: the raw output. */
  async infer(tensor: Float32Array): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const out = (await this.model.run({ [this.inputName]: { data: tensor, dims: this.pre.dims } }))[this.outputName];
    if (out === undefined) throw new ModelError('E_MODEL_RUN', `vision model: no output "${this.outputName}"`);
    return out;
  }

  private name(classId: number): string {
    return this.o.classNames?.[classId] ?? `class${classId}`;
  }

  /** Decodes a detector's raw output into detections in source-frame pixels. */
  decode(out: { data: Float32Array; dims: readonly number[] }, l: Letterbox): SourceDetection[] {
    const candidates = decodeYolo(out.data, out.dims, { layout: this.o.layout ?? 'auto', confidence: this.o.confidence ?? 0.25, ...(this.o.classNames === undefined ? {} : { numClasses: this.o.classNames.length }) });
    return nms(candidates, this.o.iouThreshold ?? 0.45, this.o.maxDetections ?? 100)
      .map((d) => ({ box: toSource(l, d.box), score: d.score, classId: d.classId, className: this.name(d.classId) }))
      .filter((d) => d.box.w > 0 && d.box.h > 0);
  }

  async detect(frame: RawFrame): Promise<SourceDetection[]> {
    const { tensor, letterbox } = this.preprocess(frame);
    return this.decode(await this.infer(tensor), letterbox);
  }

  async classify(frame: RawFrame): Promise<(ClassScore & { className: string })[]> {
    const { tensor } = this.preprocess(frame);
    const out = await this.infer(tensor);
    return topK(out.data, this.o.topK ?? 5).map((c) => ({ ...c, className: this.name(c.classId) }));
  }

  close(): Promise<void> {
    return this.model.close();
  }
}
