import { firstNonFinite } from './aggregation-input.js';
import { taskError, updateError } from './errors.js';
import { l2Norm } from './flat.js';
import type { ModelUpdate } from './strategy.js';

/** The smallest clip bound accepted: far below any useful one, and it keeps float32 rounding inside the margin below. */
export const MIN_CLIP_BOUND = 1e-9;

/**
 * The scale of a clipped update stays 2^-22 (2.4e-7) below bound / norm. Rounding each scaled
 * value to float32 can grow it by 2^-24, and the float64 norm of up to 2^23 values is off by
 * less than 2^-29, so the clipped update's norm, as l2Norm computes it, is never above the bound:
 * differential privacy's noise is calibrated to that bound, so "about the bound" would not do.
 */
const MARGIN = 1 - 2 ** -22;

export interface ClipResult {
  /** The update scaled to norm at most `bound`; the very same object when it was already within it. */
  readonly update: ModelUpdate;
  readonly clipped: boolean;
  /** The L2 norm of the update as it came (over all tensors together). */
  readonly norm: number;
}

/**
 * L2 norm clipping (as in DP-FedAvg, McMahan et al. 2018): an update whose norm over all its
 * tensors exceeds `bound` is scaled down to it; one within the bound is returned unchanged.
 * Clipping never increases any value's magnitude. Non-finite values are refused.
 */
export function clipUpdate(update: ModelUpdate, bound: number): ClipResult {
  if (!(Number.isFinite(bound) && bound >= MIN_CLIP_BOUND)) throw taskError(`clip: the clip norm must be a finite number of at least ${MIN_CLIP_BOUND}, got ${bound}`);
  update.tensors.forEach((t, k) => {
    const bad = firstNonFinite(t);
    if (bad >= 0) throw updateError(`clip: tensor ${k}, value ${bad} is ${String(t[bad])}: an update must be finite to have a norm`);
  });
  const norm = l2Norm(update.tensors);
  if (norm <= bound) return { update, clipped: false, norm };
  const scale = (bound / norm) * MARGIN;
  const tensors = update.tensors.map((t) => {
    const out = new Float32Array(t.length);
    for (let j = 0; j < t.length; j += 1) out[j] = (t[j] as number) * scale;
    return out;
  });
  return { update: { tensors, samples: update.samples }, clipped: true, norm };
}
