/**
 * Bounds on what a rule takes in, so a round can never make one allocate without limit.
 * The caller holds the updates; the rules add at most scratch of `updates x 64` values
 * (median, trimmed mean), or one flat copy of the updates and `updates^2` distances
 * (multi-Krum), plus the result.
 */
export const STRATEGY_LIMITS = {
  /** Updates in one aggregation: far above any plant's fleet, low enough to bound the scratch. */
  maxUpdates: 10_000,
  /**
   * Multi-Krum keeps all pairwise distances (n^2 float64: 32 MB at 2,000) and does O(n^2 d)
   * work (README: seconds at n = 1,000 for the autoencoder); past this, use the median or
   * the trimmed mean.
   */
  maxKrumUpdates: 2_000,
  /**
   * Parameters of a model (sum of its tensors' lengths). 2^23: clipping's safety margin
   * (clip.ts) covers float64 rounding of a norm over at most this many values. The anomaly
   * autoencoder has 6,824.
   */
  maxParameters: 1 << 23,
  /** Tensors of a model (the autoencoder has 8: a weight and a bias per layer). */
  maxTensors: 1024,
  /** Samples one update may claim: within uint32, as a gateway's counter is. */
  maxSamples: 0xffff_ffff,
} as const;
