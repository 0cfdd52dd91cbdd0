import type { ModelUpdate } from './strategy.js';

/**
 * Coordinates gathered per block: the updates' values of 64 coordinates at a time are copied
 * into one scratch buffer (n x 64 values) so each reduction reads one contiguous column, and
 * each update is read in runs of 64 rather than one value per cache line (16, 64 and 256
 * timed the same for 1,000 updates of the autoencoder).
 */
const BLOCK = 64;

/**
 * Applies `reduce` to every coordinate's column of values (one per update, in update order; the
 * column may be reordered by `reduce`) and returns the results in the updates' tensor shapes.
 * Inputs must have been checked (aggregation-input.ts).
 */
export function reduceCoordinates(updates: readonly ModelUpdate[], reduce: (column: Float32Array) => number): Float32Array[] {
  const n = updates.length;
  // Float32 like the updates: half the memory traffic of float64, and no value changes.
  const scratch = new Float32Array(BLOCK * n);
  const columns = Array.from({ length: BLOCK }, (_, j) => scratch.subarray(j * n, (j + 1) * n));
  const first = updates[0] as ModelUpdate;
  return first.tensors.map((t0, k) => {
    const length = t0.length;
    const sources = updates.map((u) => u.tensors[k] as Float32Array);
    const out = new Float32Array(length);
    for (let start = 0; start < length; start += BLOCK) {
      const width = Math.min(BLOCK, length - start);
      for (let i = 0; i < n; i += 1) {
        const src = sources[i] as Float32Array;
        for (let j = 0; j < width; j += 1) scratch[j * n + i] = src[start + j] as number;
      }
      for (let j = 0; j < width; j += 1) out[start + j] = reduce(columns[j] as Float32Array);
    }
    return out;
  });
}
