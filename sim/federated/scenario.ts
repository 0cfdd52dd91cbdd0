import { ANOMALY_DEFAULTS } from '../../models/anomaly/index.js';
import type { NewGatewayOptions } from './anomaly-quality.js';
import type { CentralisedOptions } from './centralised.js';
import type { DatasetOptions } from './dataset.js';
import type { FederatedRunOptions } from './simulation.js';

/**
 * The simulation's sizes, in one place (README: "Sizes"). Chosen so that one federated run of
 * 40 rounds takes about 10 to 15 s on this loaded 2-core machine, each test well under a minute.
 */
export const FEDERATED_SIM = {
  /** 20 gateways, each with its own motor (PLANT_MOTOR_RANGES). */
  data: { gateways: 20, seed: 14, rateHz: 200, windowSamples: ANOMALY_DEFAULTS.autoencoder.windowSamples, collectSeconds: 20 * 60, keptWindows: 160 } satisfies DatasetOptions,
  /** The anomaly stage's own recipe (ANOMALY_DEFAULTS: 30 epochs, lr 0.003; the stage's batches of 64) on the pooled windows. */
  central: { hidden: ANOMALY_DEFAULTS.autoencoder.hidden, epochs: ANOMALY_DEFAULTS.autoencoder.epochs, batchSize: 64, learningRate: ANOMALY_DEFAULTS.autoencoder.learningRate, seed: 1 } satisfies CentralisedOptions,
  /** FedAvg: E = 4 local epochs of Adam in batches of 8, lr 0.005 decaying 5% a round, every gateway every round. */
  federated: {
    task: 'anomaly-motor',
    rounds: 40,
    hidden: ANOMALY_DEFAULTS.autoencoder.hidden,
    initSeed: 1,
    local: { epochs: 4, batchSize: 8, learningRate: 0.005, optimiser: 'adam' },
    learningRateDecay: 0.95,
    transport: { type: 'float32' },
    aggregation: { strategy: 'fedavg' },
    minClients: 10,
    seed: 3,
  } satisfies FederatedRunOptions,
  /** The configuration: top-k at half density (dense int8 alone is 3.75x, short of 4). */
  topK: { type: 'top-k', density: 0.5 },
  /** Byzantine rounds: 4 of the 20 gateways attack, one of each kind; 25 rounds (the robust rules' cost is visible by then). */
  byzantine: { rounds: 25, attackers: new Map([[3, 'sign-flip'], [8, 'scale-100'], [13, 'nan'], [18, 'random']] as const), trimShare: 0.2 },
} as const;

/** Within this share of the centralised model's pooled validation loss counts as reached (issue 14, test 1). */
export const WITHIN_CENTRAL = 0.05;

const autoencoder = ANOMALY_DEFAULTS.autoencoder;

/**
 * Issue 14's test 3: a brand-new gateway on a motor none of the fleet trained on, 10 minutes
 * with 12 fault episodes from second 20, scored at the stage's raise threshold; its own model
 * (trained for the stage's training time) is the comparison.
 */
export const NEW_GATEWAY_SCENARIO: NewGatewayOptions = {
  rateHz: FEDERATED_SIM.data.rateHz,
  windowSamples: autoencoder.windowSamples,
  strideSamples: autoencoder.strideSamples,
  seconds: 600,
  episodes: { kinds: ['bearing-wear', 'spikes', 'stuck'], count: 12, firstS: 20, lengthS: 15, gapS: 30 },
  threshold: ANOMALY_DEFAULTS.alert.raiseThreshold,
  local: { rateHz: FEDERATED_SIM.data.rateHz, windowSamples: autoencoder.windowSamples, trainSeconds: autoencoder.trainMs / 1000, trainWindows: autoencoder.trainWindows, hidden: autoencoder.hidden, epochs: autoencoder.epochs, learningRate: autoencoder.learningRate, seed: autoencoder.seed },
};
