import { updateError } from './errors.js';
import { checkFloatTensor, dequantizeTensor, maxAbs, quantizeTensor, scaleFor, stochasticRound } from './quantize.js';
import type { RandomSource } from './random-source.js';
import { checkLayout, checkMatchesLayout, type FloatTensor, type ModelUpdate, type QuantizedTensor, type TensorLayout } from './tensor.js';

/**
 * Top-k sparsification, PER TENSOR: each tensor sends ceil(density x its elements) values, its
 * largest in magnitude (at least one). Per tensor rather than over the whole update because
 * - each tensor has its own int8 scale, set by its own largest kept value; a global top-k
 *   would let the layers whose deltas are largest (here the 96 x 32 input and output layers)
 *   take the whole budget and leave small tensors (the 8-unit bottleneck, the biases) unsent
 *   for many rounds, so that they arrive later in bursts from the error-feedback residual;
 * - the message size is then known before training (the sum over tensors does not depend on
 *   the data), which the fleet bounds and the chunker plans with.
 * Ties in magnitude go to the lower index, so the selection is deterministic.
 */
export function keepCount(elements: number, density: number): number {
  if (!(density > 0 && density <= 1)) throw updateError('density', `expected a share in (0, 1], got ${density}`);
  return Math.min(elements, Math.max(1, Math.ceil(density * elements)));
}

/** Ascending indices of the k values largest in magnitude (ties: lower index first). */
export function topKIndices(values: Float32Array, k: number, where: (i: number) => string): Uint32Array {
  const n = values.length;
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  maxAbs(values, where);
  const magnitudes = new Float32Array(n);
  for (let i = 0; i < n; i += 1) magnitudes[i] = Math.abs(values[i] as number);
  const threshold = magnitudes.slice().sort()[n - k] as number;
  let above = 0;
  for (let i = 0; i < n; i += 1) if ((magnitudes[i] as number) > threshold) above += 1;
  let atThreshold = k - above;
  const out = new Uint32Array(k);
  let j = 0;
  for (let i = 0; i < n; i += 1) {
    const m = magnitudes[i] as number;
    if (m > threshold || (m === threshold && atThreshold > 0)) {
      if (m === threshold) atThreshold -= 1;
      out[j] = i;
      j += 1;
    }
  }
  return out;
}

/**
 * The k largest values of one tensor, int8 with a scale from the largest of them (stochastic
 * rounding as in quantize.ts). When k covers the whole tensor the result is dense.
 */
export function sparsifyTensor(t: FloatTensor, density: number, random: RandomSource): QuantizedTensor {
  const n = checkFloatTensor(t, t.name);
  const where = (i: number): string => `${t.name}[${i}]`;
  const k = keepCount(n, density);
  if (k === n) return quantizeTensor(t, random);
  const indices = topKIndices(t.values, k, where);
  const kept = new Float32Array(k);
  for (let j = 0; j < k; j += 1) kept[j] = t.values[indices[j] as number] as number;
  const keptWhere = (j: number): string => where(indices[j] as number);
  const scale = scaleFor(maxAbs(kept, keptWhere));
  return { name: t.name, shape: [...t.shape], scale, q: stochasticRound(kept, scale, random, keptWhere), indices };
}

export interface CompressOptions {
  /** Share of each tensor's elements to send, in (0, 1]; 1 (the default) sends every value. */
  readonly density?: number;
  /**
   * The round's clip norm C: the update plus the residual is scaled down to L2 norm <= C (over
   * all tensors together) before it is sparsified and quantised, and what the scaling took off
   * stays in the residual. Clipping the delta alone is not enough: the residual added to it can
   * carry the sent values past C (top-k keeps up to sqrt(1 - density) of a vector's norm behind
   * in every round), and the fleet refuses updates whose norm is beyond what rounding a
   * C-bounded vector can produce.
   */
  readonly clipNorm?: number;
}

/** Keeps a clipped vector's norm below C under float32 rounding of the scaled values (as the fleet's clip does). */
const CLIP_MARGIN = 1 - 2 ** -22;

function l2(tensors: readonly FloatTensor[]): number {
  let s = 0;
  for (const t of tensors) for (let j = 0; j < t.values.length; j += 1) s += (t.values[j] as number) ** 2;
  return Math.sqrt(s);
}

/**
 * Error feedback (Seide et al. 2014; Stich et al. 2018, "Sparsified SGD with memory"): what a
 * client did not send in one round (the values top-k dropped, and the rounding error of the
 * ones it sent) is added to its next update, so that over rounds everything is sent and
 * sparsification costs little accuracy. Invariant: the sum of what was sent plus the residual
 * equals the sum of the updates (up to float32 rounding).
 *
 * Memory is bounded by the model: one float32 residual per parameter, fixed at construction
 * by the model's layout; an update of another layout is refused.
 */
export class ErrorFeedback {
  readonly layout: readonly TensorLayout[];
  private readonly residuals: Float32Array[];

  constructor(layout: readonly TensorLayout[]) {
    const counts = checkLayout(layout);
    this.layout = layout.map((t) => ({ name: t.name, shape: [...t.shape] }));
    this.residuals = counts.map((n) => new Float32Array(n));
  }

  /**
   * Adds the residual to `update`, clips the sum to `clipNorm` when one is given, sparsifies
   * and quantises it, and keeps as the new residual what that message does not carry (the
   * part clipping took off included). Throws (and changes nothing) on an update
   * that does not match the layout or holds a non-finite value.
   */
  compress(update: ModelUpdate, random: RandomSource, options: CompressOptions = {}): QuantizedTensor[] {
    checkMatchesLayout(update, this.layout);
    const density = options.density ?? 1;
    const { clipNorm } = options;
    if (clipNorm !== undefined && !(Number.isFinite(clipNorm) && clipNorm > 0)) throw updateError('clipNorm', `expected a finite number > 0, got ${clipNorm}`);
    const corrected = update.map((t, i) => {
      checkFloatTensor(t, t.name);
      const r = this.residuals[i] as Float32Array;
      const values = new Float32Array(r.length);
      for (let j = 0; j < r.length; j += 1) values[j] = (t.values[j] as number) + (r[j] as number);
      return { name: t.name, shape: t.shape, values };
    });
    const norm = clipNorm === undefined ? 0 : l2(corrected);
    const clipped =
      clipNorm === undefined || norm <= clipNorm
        ? corrected
        : corrected.map((t) => ({ name: t.name, shape: t.shape, values: t.values.map((v) => v * (clipNorm / norm) * CLIP_MARGIN) }));
    const sent = clipped.map((t) => sparsifyTensor(t, density, random));
    sent.forEach((q, i) => {
      const transmitted = dequantizeTensor(q).values;
      const c = (corrected[i] as FloatTensor).values;
      const r = this.residuals[i] as Float32Array;
      for (let j = 0; j < r.length; j += 1) r[j] = (c[j] as number) - (transmitted[j] as number);
    });
    return sent;
  }

  /** A copy of the residual of tensor `name` (what is owed to the next update). */
  residual(name: string): Float32Array {
    const i = this.layout.findIndex((t) => t.name === name);
    if (i < 0) throw updateError('name', `no tensor "${name}" in the layout`);
    return (this.residuals[i] as Float32Array).slice();
  }

  /** Forgets the residual (a new global model that the old residual no longer fits, for one). */
  reset(): void {
    for (const r of this.residuals) r.fill(0);
  }
}
