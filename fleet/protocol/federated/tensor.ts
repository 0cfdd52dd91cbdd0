import { updateError } from './errors.js';

/**
 * A model update is a list of named tensors: the weight delta of each parameter tensor of the
 * model (for the anomaly autoencoder, each layer's weights and biases). Values are float32,
 * row-major in `shape`.
 */
export interface TensorLayout {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface FloatTensor extends TensorLayout {
  readonly values: Float32Array;
}

export type ModelUpdate = readonly FloatTensor[];

/**
 * One tensor as it travels: int8 values `q` with one float32 `scale`, value = q * scale
 * (rounded to float32). Dense: `q` holds every element in order. Sparse: `indices` (ascending,
 * distinct) say which elements `q` holds; every other element is 0.
 */
export interface QuantizedTensor extends TensorLayout {
  readonly scale: number;
  readonly q: Int8Array;
  readonly indices?: Uint32Array;
}

/**
 * Bounds every receiver enforces before it allocates anything, and every sender stays within.
 * The autoencoder of a gateway has ~7,000 parameters in 8 tensors; these leave room for models
 * a thousand times larger while keeping a decoded update (float32: 4 bytes per element) at
 * 64 MiB at most.
 */
export interface UpdateLimits {
  readonly maxTensors: number;
  /** Elements of all tensors together (what a dense dequantised update allocates). */
  readonly maxElements: number;
  readonly maxRank: number;
  /** Bytes of an encoded update message. */
  readonly maxMessageBytes: number;
}

export const DEFAULT_UPDATE_LIMITS: UpdateLimits = {
  maxTensors: 1024,
  maxElements: 16 * 1024 * 1024,
  maxRank: 8,
  maxMessageBytes: 24 * 1024 * 1024,
};

/** Tensor names: printable, no spaces, so that an error message or a log line can quote them. */
export const TENSOR_NAME_PATTERN = '^[A-Za-z0-9._:/-]{1,128}$';
const tensorNameRe = new RegExp(TENSOR_NAME_PATTERN);

export function isTensorName(value: string): boolean {
  return tensorNameRe.test(value);
}

/**
 * Checks a layout (names unique and well-formed, shapes of positive integers within the
 * bounds) and returns each tensor's element count. `where(i)` names tensor i in errors.
 */
export function checkLayout(tensors: readonly TensorLayout[], limits: UpdateLimits = DEFAULT_UPDATE_LIMITS, where = (i: number): string => `tensors[${i}]`): number[] {
  if (tensors.length > limits.maxTensors) throw updateError('tensors', `${tensors.length} tensors, at most ${limits.maxTensors}`);
  const names = new Set<string>();
  let total = 0;
  return tensors.map((t, i) => {
    if (typeof t.name !== 'string' || !isTensorName(t.name)) throw updateError(`${where(i)}.name`, `expected 1 to 128 of A-Z a-z 0-9 . _ : / -, got ${JSON.stringify(t.name)}`);
    if (names.has(t.name)) throw updateError(`${where(i)}.name`, `"${t.name}" appears twice`);
    names.add(t.name);
    const n = elementCount(t.shape, limits, `${where(i)}.shape`);
    total += n;
    if (total > limits.maxElements) throw updateError(`${where(i)}.shape`, `${total} elements so far, at most ${limits.maxElements} in an update`);
    return n;
  });
}

/** The element count of a shape (1 to maxRank positive integers), checked against the bounds. */
export function elementCount(shape: unknown, limits: UpdateLimits, field: string): number {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > limits.maxRank) throw updateError(field, `expected 1 to ${limits.maxRank} dimensions, got ${Array.isArray(shape) ? shape.length : typeof shape}`);
  let n = 1;
  shape.forEach((d: unknown, k) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > limits.maxElements) throw updateError(`${field}[${k}]`, `expected an integer from 1 to ${limits.maxElements}, got ${String(d)}`);
    n *= d;
    if (n > limits.maxElements) throw updateError(field, `more than ${limits.maxElements} elements`);
  });
  return n;
}

/**
 * Checks that an update has exactly the tensors of a model's layout, in order, with the same
 * shapes (the fleet's "wrong shape" reject; the gateway's check before sending).
 */
export function checkMatchesLayout(update: readonly TensorLayout[], layout: readonly TensorLayout[]): void {
  if (update.length !== layout.length) throw updateError('tensors', `${update.length} tensors, the model has ${layout.length}`);
  layout.forEach((want, i) => {
    const got = update[i] as TensorLayout;
    if (got.name !== want.name) throw updateError(`tensors[${i}].name`, `expected "${want.name}", got "${got.name}"`);
    if (got.shape.length !== want.shape.length || got.shape.some((d, k) => d !== want.shape[k])) throw updateError(`tensors[${i}].shape`, `"${want.name}" is [${want.shape.join(', ')}] in the model, got [${got.shape.join(', ')}]`);
  });
}
