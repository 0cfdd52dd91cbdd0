import type { TensorSpec } from '../engine/engine.js';
import { modelClassNames } from './class-names.js';
import { selectDecoder, type Selection } from './decoders/select.js';
import type { Layout, VisionTask } from './decoders/decoder.js';

/** What the stage's config says about how to read a model. */
export interface ReadingOptions {
  readonly task?: VisionTask | undefined;
  readonly layout?: Layout | 'auto' | undefined;
  readonly classNames?: readonly string[] | undefined;
}

export interface VisionInput {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/** The model's one image input `[1, 1|3, H, W]` with fixed H and W, or what it is instead. */
export function visionInput(inputs: readonly TensorSpec[]): VisionInput | { readonly expected: string; readonly got: string } {
  const input = inputs[0];
  const shape = input?.shape ?? [];
  const [, c, h, w] = shape;
  if (input === undefined || inputs.length !== 1 || shape.length !== 4 || (c !== 1 && c !== 3) || typeof h !== 'number' || typeof w !== 'number') {
    return { expected: 'one input [1, 1|3, H, W] with fixed H and W', got: inputs.length === 0 ? 'no input' : inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ') };
  }
  return { name: input.name, width: w, height: h, channels: c };
}

/**
 * How a model is read: its decoder (checked against its outputs), its class names (the
 * config's, else its metadata's when their count fits), and notes worth a warning. The same
 * function serves `--check` (declared shapes, read without a runtime) and the load (shapes
 * from ONNX Runtime), so both say the same.
 */
export function readingOf(outputs: readonly TensorSpec[], metadata: Readonly<Record<string, string>>, o: ReadingOptions): Selection {
  const fromModel = o.classNames === undefined ? modelClassNames(metadata) : undefined;
  const metadataNames = fromModel !== undefined && 'names' in fromModel ? fromModel.names : undefined;
  const s = selectDecoder(outputs, { task: o.task, layout: o.layout, classNames: o.classNames, metadataNames });
  if (s.ok !== true || fromModel === undefined || !('error' in fromModel)) return s;
  return { ...s, notes: [...s.notes, `the model's metadata "${fromModel.key}" could not be read (${fromModel.error}): names not used (class<N>)`] };
}
