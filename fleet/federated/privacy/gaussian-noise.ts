import { checkClipNorm, checkNoiseMultiplier, FederatedPrivacyError } from './privacy-error.js';
import { standardNormalSampler } from './standard-normal.js';
import type { UniformSource } from './uniform-source.js';

/**
 * The Gaussian mechanism of DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning
 * Differentially Private Recurrent Language Models"): the fleet sums the round's updates, each
 * clipped to L2 norm <= C and counted with weight 1, and adds N(0, (z C)^2) to every coordinate
 * of the SUM. Adding or removing one gateway moves the sum by at most C in L2, so the noise,
 * z times that sensitivity, gives the guarantee the RDP accountant computes for z.
 */
export interface NoiseParameters {
  /** C: the L2 bound every summed update was clipped to (after dequantisation, by the fleet). */
  readonly clipNorm: number;
  /** z: noise standard deviation in units of C. */
  readonly noiseMultiplier: number;
}

/** Bounds on one noised sum: far above the autoencoder's few thousand parameters in a handful of tensors. */
export const NOISE_LIMITS = { maxTensors: 1024, maxCoordinates: 1 << 24 } as const;

export type Tensor = Float32Array | Float64Array;

/** The standard deviation of the noise on each coordinate of the sum: z * C. */
export function noiseStandardDeviation(params: NoiseParameters): number {
  return checkNoiseMultiplier(params.noiseMultiplier) * checkClipNorm(params.clipNorm);
}

/**
 * The sum plus independent N(0, (z C)^2) noise on every coordinate, as new Float64Arrays of the
 * same shapes (the input is not changed). Draws run tensor by tensor, coordinate by coordinate,
 * so a seeded source gives the same noise every time. The sum must be finite: noising a NaN
 * would publish a broken model, so it is refused.
 */
export function addGaussianNoise(clippedSum: readonly Tensor[], params: NoiseParameters, random: UniformSource): Float64Array[] {
  const sigma = noiseStandardDeviation(params);
  checkTensors(clippedSum, 'clippedSum');
  const normal = standardNormalSampler(random);
  return clippedSum.map((tensor) => {
    const out = new Float64Array(tensor.length);
    for (let i = 0; i < tensor.length; i += 1) out[i] = (tensor[i] as number) + sigma * normal();
    return out;
  });
}

/**
 * The noised sum divided by the EXPECTED number of clients, q * N (N: the task's declared
 * population of eligible gateways), not by the number that actually reported. That denominator
 * is a public constant, so the average is post-processing of the noised sum and keeps its
 * guarantee exactly; it is also unbiased for the population mean under Poisson sampling. The
 * realised count is not protected by any noise, it moves by one with the very gateway the
 * guarantee is about, and dividing by it would change the sensitivity with the data
 * (McMahan et al. 2018, the fixed-denominator estimator).
 */
export function averageOverExpectedClients(noisySum: readonly Tensor[], expectedClients: number): Float64Array[] {
  if (typeof expectedClients !== 'number' || !Number.isFinite(expectedClients) || expectedClients <= 0) {
    throw new FederatedPrivacyError('expectedClients', `must be a finite number > 0 (sampling rate x eligible gateways), got ${String(expectedClients)}`);
  }
  checkTensors(noisySum, 'noisySum');
  return noisySum.map((tensor) => Float64Array.from(tensor, (v) => v / expectedClients));
}

function checkTensors(tensors: readonly Tensor[], field: string): void {
  if (!Array.isArray(tensors) || tensors.length > NOISE_LIMITS.maxTensors) {
    throw new FederatedPrivacyError(field, `must be a list of at most ${NOISE_LIMITS.maxTensors} tensors`);
  }
  let coordinates = 0;
  tensors.forEach((tensor, t) => {
    if (!(tensor instanceof Float32Array || tensor instanceof Float64Array)) {
      throw new FederatedPrivacyError(`${field}[${t}]`, 'must be a Float32Array or Float64Array');
    }
    coordinates += tensor.length;
    if (coordinates > NOISE_LIMITS.maxCoordinates) {
      throw new FederatedPrivacyError(field, `holds more than ${NOISE_LIMITS.maxCoordinates} coordinates`);
    }
    for (let i = 0; i < tensor.length; i += 1) {
      if (!Number.isFinite(tensor[i])) throw new FederatedPrivacyError(`${field}[${t}][${i}]`, `must be finite, got ${String(tensor[i])}`);
    }
  });
}
