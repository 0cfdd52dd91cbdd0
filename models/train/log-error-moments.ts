import type { Mlp } from './mlp.js';

/**
 * The log reconstruction errors of some windows as sums: what a gateway can share of its
 * held-out windows without any window leaving it. The anomaly score's calibration is a
 * log-normal fit of held-out normal errors (models/anomaly/autoencoder/model.ts); pooled sums
 * give the fit over every gateway's held-out windows. Here (models/train) so that the fleet,
 * which pools them, and the anomaly stage, which measures them, share one definition.
 */
export interface LogErrorMoments {
  readonly count: number;
  readonly sum: number;
  readonly sumSquares: number;
}

/** A log-normal fit: the mean and spread of ln(error). */
export interface LogNormalCalibration {
  readonly logMean: number;
  readonly logStd: number;
}

/** The floor under a window's error, as the autoencoder's calibration and scorer use it (ln(mse + floor)). */
export const ERROR_FLOOR = 1e-12;
/** The floor under the fitted spread, as trainAutoencoderOnWindows uses it: a spread of 0 would make every error infinitely surprising. */
export const LOG_STD_FLOOR = 1e-3;
/** A spread needs two windows. */
export const MIN_CALIBRATION_WINDOWS = 2;

/** ln(mse + ERROR_FLOOR) of a window's mean squared reconstruction error: the scorer's quantity. */
export function logError(meanSquaredError: number): number {
  return Math.log(meanSquaredError + ERROR_FLOOR);
}

/** The moments of ln(error) of `rows` windows of `x` (standardised, row-major) under `model`. */
export function logErrorMoments(model: Mlp, x: Float64Array, rows: number): LogErrorMoments {
  const dims = model.layers[0]?.inputs ?? 0;
  const out = model.predict(x, rows);
  let sum = 0;
  let sumSquares = 0;
  for (let k = 0; k < rows; k += 1) {
    let s = 0;
    for (let i = k * dims; i < (k + 1) * dims; i += 1) s += ((out[i] as number) - (x[i] as number)) ** 2;
    const l = logError(s / dims);
    sum += l;
    sumSquares += l * l;
  }
  return { count: rows, sum, sumSquares };
}

/**
 * The log-normal fit of pooled moments (population variance, as trainAutoencoderOnWindows
 * computes it; spread floored at LOG_STD_FLOOR). RangeError below MIN_CALIBRATION_WINDOWS.
 */
export function calibrationOf(parts: readonly LogErrorMoments[]): LogNormalCalibration {
  const count = parts.reduce((n, p) => n + p.count, 0);
  if (count < MIN_CALIBRATION_WINDOWS) throw new RangeError(`calibration needs at least ${MIN_CALIBRATION_WINDOWS} held-out windows, got ${count}`);
  const logMean = parts.reduce((s, p) => s + p.sum, 0) / count;
  const variance = parts.reduce((s, p) => s + p.sumSquares, 0) / count - logMean * logMean;
  return { logMean, logStd: Math.max(LOG_STD_FLOOR, Math.sqrt(Math.max(0, variance))) };
}
