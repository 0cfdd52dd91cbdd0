import { updateError } from './errors.js';
import type { RandomSource } from './random-source.js';
import { checkLayout, type FloatTensor, type ModelUpdate, type QuantizedTensor } from './tensor.js';

/** Symmetric int8: -127..127, so that 0 is exact and q and -q both exist; -128 is never sent. */
export const Q_MAX = 127;

export interface QuantizeOptions {
  /**
   * A scale fixed by the round instead of one per tensor from its largest value: clients
   * that share a scale can have their integer updates summed (secure aggregation adds masked
   * integers). A value beyond 127 x scale is then an error: the round's clip bound should
   * have made it impossible.
   */
  readonly scale?: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The next float32 above a non-negative float32 (one unit in the last place). */
function nextUpFloat32(x: number): number {
  f32[0] = x;
  u32[0] = (u32[0] as number) + 1;
  return f32[0] as number;
}

function nextDownFloat32(x: number): number {
  f32[0] = x;
  u32[0] = (u32[0] as number) - 1;
  return f32[0] as number;
}

/**
 * The largest scale whose 127 x scale is still a finite float32, so that every dequantised
 * value is finite (an aggregator can rely on it). It leaves out only the two largest float32
 * magnitudes (beyond 3.40282325e38), which no weight delta reaches.
 */
export const MAX_SCALE = ((): number => {
  let s = Math.fround(3.4028234663852886e38 / Q_MAX);
  while (!Number.isFinite(Math.fround(s * Q_MAX))) s = nextDownFloat32(s);
  return s;
})();

/**
 * The smallest float32 scale with 127 x scale >= maxAbs (max-abs / 127, rounded up where
 * float32 rounding went down), so that every value maps into -127..127. 0 for an all-zero
 * tensor; MAX_SCALE at most (a larger value is then refused when it is rounded).
 */
export function scaleFor(maxAbs: number): number {
  if (maxAbs === 0) return 0;
  if (maxAbs > MAX_SCALE * Q_MAX) return MAX_SCALE;
  let s = Math.fround(maxAbs / Q_MAX);
  // 127 x s is exact in float64 (24 + 7 bits), so this comparison has no rounding of its own.
  while (s * Q_MAX < maxAbs) s = nextUpFloat32(s);
  return s;
}

/**
 * Stochastic rounding of value / scale: up with probability equal to the fraction, down
 * otherwise, so E[q] x scale = value (unbiased: rounding errors average out over clients and
 * rounds instead of adding up, which nearest rounding would do for small updates) and
 * |q x scale - value| < scale. One draw of `random` per value, in order.
 */
export function stochasticRound(values: ArrayLike<number>, scale: number, random: RandomSource, where: (i: number) => string): Int8Array {
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const x = values[i] as number;
    if (!Number.isFinite(x)) throw updateError(where(i), `value ${x} is not finite; an update must be finite (a diverged local training?)`);
    if (scale === 0) {
      if (x !== 0) throw updateError(where(i), `value ${x} with scale 0`);
      continue;
    }
    const v = x / scale;
    if (v > Q_MAX || v < -Q_MAX) throw updateError(where(i), scale === MAX_SCALE ? `value ${x} is beyond the largest magnitude int8 with a float32 scale carries (${MAX_SCALE * Q_MAX})` : `value ${x} beyond ${Q_MAX} x scale ${scale}`);
    const lo = Math.floor(v);
    q[i] = random() < v - lo ? lo + 1 : lo;
  }
  return q;
}

export function maxAbs(values: ArrayLike<number>, where: (i: number) => string): number {
  let m = 0;
  for (let i = 0; i < values.length; i += 1) {
    const x = values[i] as number;
    if (!Number.isFinite(x)) throw updateError(where(i), `value ${x} is not finite; an update must be finite (a diverged local training?)`);
    const a = Math.abs(x);
    if (a > m) m = a;
  }
  return m;
}

/** Checks one tensor's values against its shape and returns the element count. */
export function checkFloatTensor(t: FloatTensor, where: string): number {
  const [n] = checkLayout([t], undefined, () => where);
  if (!(t.values instanceof Float32Array)) throw updateError(`${where}.values`, 'expected a Float32Array');
  if (t.values.length !== n) throw updateError(`${where}.values`, `${t.values.length} values for shape [${t.shape.join(', ')}] (${n as number})`);
  return n as number;
}

function checkScale(scale: number): number {
  if (!(scale >= 0 && scale <= MAX_SCALE) || Math.fround(scale) !== scale) throw updateError('scale', `expected a float32 from 0 to ${MAX_SCALE}, got ${scale}`);
  return scale;
}

/** Dense int8 of every value of one tensor. Non-finite values are an error naming the tensor and index. */
export function quantizeTensor(t: FloatTensor, random: RandomSource, options: QuantizeOptions = {}): QuantizedTensor {
  checkFloatTensor(t, t.name);
  const where = (i: number): string => `${t.name}[${i}]`;
  const scale = options.scale === undefined ? scaleFor(maxAbs(t.values, where)) : checkScale(options.scale);
  return { name: t.name, shape: [...t.shape], scale, q: stochasticRound(t.values, scale, random, where) };
}

export function quantizeUpdate(update: ModelUpdate, random: RandomSource, options: QuantizeOptions = {}): QuantizedTensor[] {
  checkLayout(update);
  return update.map((t) => quantizeTensor(t, random, options));
}

/**
 * The float32 values a quantised tensor stands for: q x scale rounded once to float32 (exact
 * in float64 first, so every implementation gets the same bits), 0 where a sparse tensor sent nothing.
 */
export function dequantizeTensor(t: QuantizedTensor): FloatTensor {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  const { q, indices, scale } = t;
  if (indices === undefined) for (let i = 0; i < q.length; i += 1) values[i] = (q[i] as number) * scale;
  else for (let j = 0; j < q.length; j += 1) values[indices[j] as number] = (q[j] as number) * scale;
  return { name: t.name, shape: [...t.shape], values };
}

export function dequantizeUpdate(tensors: readonly QuantizedTensor[]): FloatTensor[] {
  return tensors.map(dequantizeTensor);
}
