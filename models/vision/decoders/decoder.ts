import type { Tensor, TensorSpec } from '../../engine/engine.js';
import type { Detection } from '../nms.js';

/** The output layouts the vision stage decodes; each is one file in this folder. */
export const LAYOUTS = ['yolov8', 'yolov5', 'ssd', 'classification'] as const;
export type Layout = (typeof LAYOUTS)[number];
export type VisionTask = 'detection' | 'classification';

/** What a decoder gets besides the outputs. */
export interface DecodeContext {
  /** Candidates below it are dropped (detection); classification returns every class. */
  readonly confidence: number;
  /** The model's input size in pixels (boxes of normalised layouts are scaled to it). */
  readonly input: { readonly width: number; readonly height: number };
}

/**
 * A frame's decoded output: detection candidates in model-input pixels (before NMS and the
 * letterbox), or the probability of each class.
 */
export type Decoded = { readonly kind: 'boxes'; readonly candidates: Detection[] } | { readonly kind: 'classes'; readonly probabilities: Float64Array };

/** A layout fitted to one model's outputs: it knows which output is which and how many classes there are. */
export interface FittedDecoder {
  readonly layout: Layout;
  readonly task: VisionTask;
  /** Classes the model has (for SSD, without its background class); undefined while a dimension is symbolic (at `--check`). */
  readonly classes: number | undefined;
  /**
   * False when the shapes fit only by a reading no real export has (a YOLOv8 `[1, 4 + C, N]`
   * with fewer anchors than values per anchor): auto-detection then prefers another layout.
   */
  readonly plausible: boolean;
  /** Decodes one inference's outputs (by name); throws a ModelError when they are not what was fitted. */
  decode(outputs: Readonly<Record<string, Tensor>>, ctx: DecodeContext): Decoded;
}

/**
 * One output layout. `fit` looks at the model's declared outputs only (names and shapes; a
 * string dimension is symbolic and fits any size), so it runs at `--check` without a runtime
 * and when the model loads; it says why the outputs are not this layout, or returns the
 * decoder for them.
 */
export interface LayoutDecoder {
  readonly layout: Layout;
  readonly task: VisionTask;
  fit(outputs: readonly TensorSpec[]): { readonly ok: true; readonly decoder: FittedDecoder } | { readonly ok: false; readonly reason: string };
}

export type Fit = ReturnType<LayoutDecoder['fit']>;

/** `name [1, 84, 8400]`, for messages. */
export function describeOutput(o: TensorSpec): string {
  return `${o.name} [${o.shape.join(', ')}]`;
}

/** The output of one inference named `name`, or a ModelError-worthy message. */
export function outputOf(outputs: Readonly<Record<string, Tensor>>, name: string): Tensor | string {
  return outputs[name] ?? `no output "${name}" (the model gave ${Object.keys(outputs).join(', ') || 'none'})`;
}
