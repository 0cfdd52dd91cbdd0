import { STRATEGY_LIMITS } from '../strategies/limits.js';

/**
 * Bounds of the round logic. Everything a round holds is bounded by them: the sampled gateways
 * (at most the eligible ones), one dequantised update per sampled gateway, the late buffer
 * (late-policy.ts), and the remembered rosters of recent rounds.
 */
export const ROUND_LIMITS = {
  /** Eligible gateways of one round: the most updates an aggregation rule takes at once, so every sample fits. */
  maxEligibleGateways: STRATEGY_LIMITS.maxUpdates,
  /**
   * (Eligible gateways + the late buffer's capacity) x model parameters: the float32 values a
   * round may have to hold if every eligible gateway is drawn and answers and the buffer is full
   * (2^27 values: 512 MiB). The autoencoder (6,824 parameters) fits with all 10,000 eligible
   * gateways and a full buffer of 1,000 (300 MB).
   */
  maxHeldValues: 2 ** 27,
  /** A round's deadline: at least a second (an upload over MQTT takes that), at most a week. */
  minDeadlineMs: 1000,
  maxDeadlineMs: 7 * 24 * 3600 * 1000,
  maxLocalEpochs: 1000,
  maxLearningRate: 10,
  maxClipNorm: 1e9,
} as const;
