import { Q_MAX } from '../../protocol/federated/quantize.js';
import type { QuantizedTensor } from '../../protocol/federated/tensor.js';

/**
 * The largest L2 norm an honest update can have after dequantisation, as a multiple of the
 * clip norm C: tolerance(K) = (1 + sqrt(K) / 127) (1 + 2^-20), where K is the most values any
 * one tensor of the message carries (its element count when dense, its kept count when sparse).
 *
 * Why. An honest gateway clips what it sends to ||x|| <= C, then rounds each tensor t with a
 * scale s_t <= max|x_t| / 127 (rounded up to float32: a factor of at most 1 + 2^-23), moving
 * each of its k_t sent values by less than s_t. So the rounding error e has
 *   ||e||^2 < sum_t k_t s_t^2 <= (1 + 2^-23)^2 / 127^2 x K x sum_t max|x_t|^2 <= (1 + 2^-23)^2 K C^2 / 127^2,
 * since sum_t max|x_t|^2 <= sum_t ||x_t||^2 = ||x||^2 <= C^2; and ||x + e|| <= ||x|| + ||e||.
 * Rounding each q x s to float32 adds a relative 2^-24, the fleet's float64 norm far less;
 * (1 + 2^-20) covers all three. The bound holds for every honest update, whatever its values:
 * no honest gateway is ever refused, and no randomness is involved.
 *
 * It is loose on purpose: the worst case (each tensor's mass in one coordinate, every other
 * value rounded a whole step away) never happens in practice, and typical honest updates land
 * within a few percent of C (the tests measure it). An update beyond it was not made by the
 * protocol (a bug, a gateway skipping its clip, or an attack) and is refused and counted.
 * One within it is still clipped to C by the fleet before aggregation, so the tolerance is never
 * what the aggregate or the privacy noise relies on: the fleet's own clip is.
 *
 * For the anomaly autoencoder (largest tensor 96 x 32 = 3,072 values): 1.436 dense, 1.218 at
 * top-k density 0.25 (768 values).
 */
export function normTolerance(largestSentTensor: number): number {
  return (1 + Math.sqrt(largestSentTensor) / Q_MAX) * (1 + 2 ** -20);
}

/** K of a message: the most values one of its tensors carries. */
export function largestSentTensor(tensors: readonly QuantizedTensor[]): number {
  let k = 0;
  for (const t of tensors) k = Math.max(k, t.q.length);
  return k;
}
