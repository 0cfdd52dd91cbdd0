import type { RawFrame } from '../../../runtime/pipeline/frame.js';
import type { InferenceBackend } from '../../engine/engine.js';
import { CropClassifier, type CropClass } from '../classifier/crop-classifier.js';
import type { Layout, VisionTask } from '../decoders/decoder.js';
import type { Letterbox } from '../letterbox.js';
import { VisionModel, type FrameResult, type VisionModelOptions } from '../vision-model.js';

/** What the stage knows of a loaded model, wherever it runs (plain data: it crosses threads). */
export interface FrameModelInfo {
  readonly provider: string;
  readonly requested: readonly string[];
  readonly degraded: boolean;
  readonly fallbacks: readonly { provider: string; reason: string }[];
  readonly inputSize: { readonly width: number; readonly height: number; readonly channels: number };
  readonly task: VisionTask;
  readonly layout: Layout;
  readonly classes: number | undefined;
  /** The model's class names (the config's, else its metadata's); undefined: `class<N>`. */
  readonly classNames: readonly string[] | undefined;
  /** Worth a warning, not a refusal (metadata names that do not fit the outputs). */
  readonly notes: readonly string[];
}

/** One frame through preprocessing, the model, its decoder and the cascade classifier. */
export interface FrameOutput {
  readonly result: FrameResult;
  /** The cascade classifier's class of each detection, in order (undefined: no classifier, or a classification model). */
  readonly crops: readonly CropClass[] | undefined;
  readonly letterbox: Letterbox;
  readonly preprocessMs: number;
  readonly inferenceMs: number;
  /** The model's input tensor, when asked for (a candidate in shadow runs on the same input). */
  readonly tensor: Float32Array | undefined;
}

/** A frame that failed; `inferenceMs` is set when the model's run itself failed (the updater counts those). */
export class FrameRunError extends Error {
  constructor(
    message: string,
    readonly inferenceMs: number | undefined,
  ) {
    super(message);
  }
}

/** What a vision stage loads: the model, and the cascade classifier when it has one. */
export interface FrameModelSpec {
  readonly bytes: Uint8Array;
  readonly classifierBytes: Uint8Array | undefined;
  /** The stage's `providers` and `threads`; undefined: the backend's. */
  readonly providers: readonly string[] | undefined;
  readonly threads: number | undefined;
  readonly options: VisionModelOptions;
}

/**
 * A loaded model that turns frames into results: on the stage's own thread (`LocalFrameRunner`)
 * or in a worker thread (`ThreadFrameRunner`, inference-thread.ts). Up to two frames may be in
 * `run` at once; results come back in the order the frames went in.
 */
export interface FrameRunner {
  readonly info: FrameModelInfo;
  run(frame: RawFrame, o: { readonly tensor: boolean }): Promise<FrameOutput>;
  close(): Promise<void>;
}

export function infoOf(model: VisionModel): FrameModelInfo {
  const m = model.model;
  return {
    provider: m.provider,
    requested: [...m.requested],
    degraded: m.degraded,
    fallbacks: m.fallbacks.map((f) => ({ ...f })),
    inputSize: model.inputSize,
    task: model.task,
    layout: model.decoder.layout,
    classes: model.decoder.classes,
    classNames: model.classNames === undefined ? undefined : [...model.classNames],
    notes: [...model.notes],
  };
}

/**
 * The model and its classifier on the calling thread. Preprocessing alternates between the
 * model's two input buffers, so a tensor stays valid while the next frame is preprocessed.
 */
export class LocalFrameRunner implements FrameRunner {
  private slot: 0 | 1 = 0;

  private constructor(
    private readonly model: VisionModel,
    private readonly classifier: CropClassifier | undefined,
    readonly info: FrameModelInfo,
  ) {}

  static async load(spec: FrameModelSpec, backend: InferenceBackend): Promise<LocalFrameRunner> {
    const load = { providers: spec.providers, threads: spec.threads };
    const model = await VisionModel.load(spec.bytes, backend, load, spec.options);
    let classifier: CropClassifier | undefined;
    try {
      if (spec.classifierBytes !== undefined && model.task === 'detection') classifier = await CropClassifier.load(spec.classifierBytes, backend, load);
    } catch (err) {
      await model.close();
      throw err;
    }
    return new LocalFrameRunner(model, classifier, infoOf(model));
  }

  async run(frame: RawFrame, o: { readonly tensor: boolean }): Promise<FrameOutput> {
    const slot = this.slot;
    this.slot = slot === 0 ? 1 : 0;
    const t0 = performance.now();
    const { tensor, letterbox } = this.model.preprocess(frame, slot);
    const t1 = performance.now();
    let raw;
    try {
      raw = await this.model.infer(tensor);
    } catch (err) {
      throw new FrameRunError((err as Error).message, performance.now() - t1);
    }
    const inferenceMs = performance.now() - t1;
    const result = this.model.decode(raw, letterbox);
    const crops = this.classifier === undefined || result.kind !== 'detections' ? undefined : await this.classifier.classify(frame, result.detections.map((d) => d.box));
    return { result, crops, letterbox, preprocessMs: t1 - t0, inferenceMs, tensor: o.tensor ? tensor : undefined };
  }

  async close(): Promise<void> {
    await this.model.close();
    await this.classifier?.close();
  }
}
