export { FederatedPrivacyError } from './privacy-error.js';
export { cryptoUniformSource, seededUniformSource, uniformFromWords, type UniformSource } from './uniform-source.js';
export { standardNormalSampler } from './standard-normal.js';
export { addGaussianNoise, averageOverExpectedClients, noiseStandardDeviation, NOISE_LIMITS, type NoiseParameters, type Tensor } from './gaussian-noise.js';
export {
  classicEpsilonFromRdp,
  composedRdp,
  DEFAULT_RDP_ORDERS,
  epsilonAfterRounds,
  epsilonFromRdp,
  RDP_LIMITS,
  sampledGaussianRdp,
  type EpsilonAtDelta,
  type SampledGaussian,
} from './rdp-accountant.js';
export {
  MAX_SPENT_RUNS,
  PrivacyBudget,
  type PrivacyBudgetOptions,
  type PrivacyRoundReport,
  type PrivacyTarget,
  type RoundDecision,
  type SpentRounds,
} from './privacy-budget.js';
