import type { AutoencoderMeta } from '../../models/anomaly/autoencoder/model.js';
import { exportAutoencoder } from '../../models/anomaly/autoencoder/onnx-export.js';
import { calibrationOf, logErrorMoments } from '../../models/train/log-error-moments.js';
import type { Mlp } from '../../models/train/mlp.js';
import type { FederatedDataset } from './dataset.js';
import { CHANNEL_NAMES } from './gateway-data.js';

// The calibration round's math (per gateway, the log errors of its local validation windows
// under the final global model, as sums; pooled) lives in models/train, shared with the fleet.
export { calibrationOf, logErrorMoments, type LogErrorMoments } from '../../models/train/log-error-moments.js';

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
