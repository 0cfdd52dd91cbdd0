import type { FederatedRun } from './simulation.js';

/** The pooled validation loss of a run's final global model. */
export function finalLoss(run: FederatedRun): number {
  return run.rounds.at(-1)?.validationLoss ?? run.initialLoss;
}

/** (final loss of `run` - final loss of `baseline`) / the baseline's: positive when `run` ended worse. */
export function lossGap(run: FederatedRun, baseline: FederatedRun): number {
  return (finalLoss(run) - finalLoss(baseline)) / finalLoss(baseline);
}

/** Bytes a client sends per round with raw float32 FedAvg: 4 per parameter (no envelope, to the baseline's favour). */
export function float32Bytes(parameters: number): number {
  return 4 * parameters;
}

/** Float32 FedAvg's bytes per client per round over `run`'s mean (the codec's measured messages). */
export function bytesRatio(run: FederatedRun, parameters: number): number {
  const mean = run.rounds.reduce((s, r) => s + r.updateBytes, 0) / Math.max(1, run.rounds.length);
  return float32Bytes(parameters) / mean;
}
