import { collectGatewayData, CHANNEL_NAMES, poolWindows, type CollectOptions, type GatewayData } from './gateway-data.js';
import { motorFleet, type MotorRanges } from './motor-fleet.js';
import { addMoments, channelMoments, normalisationOf, normalise, type Normalisation } from './normalisation.js';

/** One gateway's windows, standardised with the fleet's normalisation. */
export interface GatewayWindows {
  readonly gateway: string;
  readonly train: Float64Array;
  readonly trainCount: number;
  readonly localValidation: Float64Array;
  readonly localValidationCount: number;
}

/** Everything the simulation trains and evaluates on. */
export interface FederatedDataset {
  readonly raw: readonly GatewayData[];
  /** From the statistics round: the pooled moments of every gateway's training windows. */
  readonly normalisation: Normalisation;
  readonly gateways: readonly GatewayWindows[];
  /** Every gateway's training windows in one set: the centralised baseline's data. */
  readonly pooledTrain: { readonly x: Float64Array; readonly count: number };
  /** Every gateway's global-validation windows: what every model is judged on. */
  readonly pooledValidation: { readonly x: Float64Array; readonly count: number };
  readonly dims: number;
}

export interface DatasetOptions extends CollectOptions {
  readonly gateways: number;
  readonly seed: number;
  readonly ranges?: MotorRanges;
}

/**
 * The fleet's data: `gateways` different motors (motorFleet), each collecting normal running as
 * the anomaly stage does, then the statistics round (every gateway sends its per-channel sums,
 * the fleet adds them) that fixes one normalisation for all. The centralised baseline's
 * normalisation is the same numbers, computed from the same sums.
 */
export function buildDataset(o: DatasetOptions): FederatedDataset {
  const raw = motorFleet(o.gateways, o.seed, o.ranges).map((motor) => collectGatewayData(motor, o));
  return datasetFrom(raw);
}

export function datasetFrom(raw: readonly GatewayData[]): FederatedDataset {
  const channels = CHANNEL_NAMES.length;
  const normalisation = normalisationOf(addMoments(raw.map((g) => channelMoments(g.train, channels))));
  const gateways = raw.map((g) => ({
    gateway: g.motor.gateway,
    train: normalise(g.train, normalisation),
    trainCount: g.train.count,
    localValidation: normalise(g.localValidation, normalisation),
    localValidationCount: g.localValidation.count,
  }));
  const train = poolWindows(raw.map((g) => g.train));
  const validation = poolWindows(raw.map((g) => g.globalValidation));
  return {
    raw,
    normalisation,
    gateways,
    pooledTrain: { x: normalise(train, normalisation), count: train.count },
    pooledValidation: { x: normalise(validation, normalisation), count: validation.count },
    dims: train.dims,
  };
}
