import { trainMlp } from '../../models/train/adam.js';
import { Mlp, meanSquaredError } from '../../models/train/mlp.js';
import type { FederatedDataset } from './dataset.js';
import { reconstructionLoss } from './model-tensors.js';

export interface CentralisedOptions {
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** The network's initialisation (the federated runs start from the same one) and batch order. */
  readonly seed: number;
}

export interface CentralisedResult {
  readonly model: Mlp;
  /** Pooled validation loss after each epoch. */
  readonly validationLosses: readonly number[];
  readonly validationLoss: number;
}

/**
 * The baseline federated learning is measured against: the same autoencoder trained the way the
 * anomaly stage trains it (trainAutoencoder in models/train/adam.ts: the same initialisation
 * from the seed, Adam, seeded batch order), but on every gateway's training windows pooled in
 * one place, which is what the fleet may not do. Judged on the pooled validation windows after
 * every epoch, so the README can show where it levels off.
 */
export async function trainCentralised(data: FederatedDataset, o: CentralisedOptions): Promise<CentralisedResult> {
  const { x, count } = data.pooledTrain;
  const dims = data.dims;
  const model = new Mlp([dims, ...o.hidden, dims], o.seed);
  const validationLosses: number[] = [];
  await trainMlp(model, count, { epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed, onEpoch: () => validationLosses.push(reconstructionLoss(model, data.pooledValidation.x, data.pooledValidation.count)) }, (indices) => {
    const batch = new Float64Array(indices.length * dims);
    indices.forEach((row, r) => batch.set(x.subarray(row * dims, (row + 1) * dims), r * dims));
    return { x: batch, loss: (out) => meanSquaredError(out, batch) };
  });
  return { model, validationLosses, validationLoss: validationLosses[validationLosses.length - 1] as number };
}
