import type { AutoencoderMeta } from '../../models/anomaly/autoencoder/model.js';
import { exportAutoencoder } from '../../models/anomaly/autoencoder/onnx-export.js';
import type { Mlp } from '../../models/train/mlp.js';
import type { FederatedDataset } from './dataset.js';
import { CHANNEL_NAMES } from './gateway-data.js';

/**
 * Per gateway, the log reconstruction errors of its local validation windows under the final
 * global model, as sums: the calibration round. The anomaly score's calibration is a log-normal
 * fit of held-out normal errors (models/anomaly/autoencoder/model.ts); pooled sums give the fit
 * over every gateway's held-out windows without any window leaving its gateway.
 */
export interface LogErrorMoments {
  readonly count: number;
  readonly sum: number;
  readonly sumSquares: number;
}

/** The same floor under a window's error as the autoencoder's calibration and scorer (model.ts). */
const ERROR_FLOOR = 1e-12;
/** The same floor under the fitted spread as trainAutoencoderOnWindows. */
const LOG_STD_FLOOR = 1e-3;

export function logErrorMoments(model: Mlp, x: Float64Array, rows: number): LogErrorMoments {
  const dims = model.layers[0]?.inputs ?? 0;
  const out = model.predict(x, rows);
  let sum = 0;
  let sumSquares = 0;
  for (let k = 0; k < rows; k += 1) {
    let s = 0;
    for (let i = k * dims; i < (k + 1) * dims; i += 1) s += ((out[i] as number) - (x[i] as number)) ** 2;
    const l = Math.log(s / dims + ERROR_FLOOR);
    sum += l;
    sumSquares += l * l;
  }
  return { count: rows, sum, sumSquares };
}

export function calibrationOf(parts: readonly LogErrorMoments[]): AutoencoderMeta['calibration'] {
  const count = parts.reduce((n, p) => n + p.count, 0);
  if (count < 2) throw new RangeError('calibration needs at least two held-out windows');
  const logMean = parts.reduce((s, p) => s + p.sum, 0) / count;
  const variance = parts.reduce((s, p) => s + p.sumSquares, 0) / count - logMean * logMean;
  return { logMean, logStd: Math.max(LOG_STD_FLOOR, Math.sqrt(Math.max(0, variance))) };
}

/**
 * The federated global model as the release a gateway installs: the autoencoder's ONNX file
 * with the fleet's normalisation and the pooled calibration in its metadata, the same format
 * a gateway's own trained model has, so the anomaly stage (AutoencoderScorer) scores with it
 * unchanged.
 */
export function federatedModelFile(model: Mlp, data: FederatedDataset, seed: number): { bytes: Uint8Array; meta: AutoencoderMeta } {
  const calibration = calibrationOf(data.gateways.map((g) => logErrorMoments(model, g.localValidation, g.localValidationCount)));
  const meta: AutoencoderMeta = {
    kind: 'edgewise-autoencoder',
    version: 1,
    channels: CHANNEL_NAMES,
    windowSamples: data.dims / CHANNEL_NAMES.length,
    mean: data.normalisation.mean,
    std: data.normalisation.std,
    calibration,
    seed,
    trainingWindows: data.gateways.reduce((n, g) => n + g.trainCount, 0),
    heldOutWindows: data.gateways.reduce((n, g) => n + g.localValidationCount, 0),
  };
  return { bytes: exportAutoencoder(model, { edgewise: JSON.stringify(meta) }), meta };
}
