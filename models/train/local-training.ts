import { trainMlp, type AdamState } from './adam.js';
import { proximalGradient } from './proximal.js';
import { meanSquaredError, type Mlp } from './mlp.js';
import { cloneModel, parametersOf } from './mlp-parameters.js';
import { seededRandom, shuffleInPlace } from './random.js';

export interface LocalTrainingOptions {
  /** Passes over the gateway's training windows per round (FedAvg's E). */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /**
   * `adam`: the anomaly stage's own trainer (models/train/adam.ts), its moments fresh each round.
   * `sgd`: plain mini-batch SGD, the optimiser of FedAvg's paper, kept to compare (README).
   */
  readonly optimiser: 'adam' | 'sgd';
  /** Seeds the batch order; the simulation derives one per gateway and round. */
  readonly seed: number;
  /** FedProx's mu: the proximal term's gradient mu (w - w_global) is added before each step (0 or absent: plain FedAvg). */
  readonly proximalMu?: number;
  /** Adam's state kept by the gateway across rounds; absent: fresh moments this round. */
  readonly adamState?: AdamState;
  /** Checked between batches (Adam) or epochs (SGD): training stops and rejects with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * One federated client's part of a round (the gateway's anomaly learner and the simulator both
 * run it): a copy of the round's global model trained for E epochs on the
 * gateway's standardised training windows.
 *
 * With Adam, the moments start from zero every round (trainMlp allocates them per call), on
 * purpose: moments estimated on last round's model are stale once the global model has moved
 * by the other gateways' updates, a gateway may skip rounds or restart between them, and
 * keeping them would be per-task state on the gateway that the fleet never sees. Fresh moments
 * make a round a pure function of (global model, local data, seed).
 */
export async function trainLocally(global: Mlp, x: Float64Array, rows: number, o: LocalTrainingOptions): Promise<{ model: Mlp; losses: number[] }> {
  const model = cloneModel(global);
  const dims = model.layers[0]?.inputs ?? 0;
  const batchOf = (indices: readonly number[]): Float64Array => {
    const batch = new Float64Array(indices.length * dims);
    indices.forEach((row, r) => batch.set(x.subarray(row * dims, (row + 1) * dims), r * dims));
    return batch;
  };
  const mu = o.proximalMu ?? 0;
  const globalParams = parametersOf(global);
  const params = parametersOf(model);
  const addProximal = (w: Float64Array[], b: Float64Array[]): void => {
    if (mu === 0) return;
    const g = proximalGradient(params, globalParams, mu);
    w.forEach((t, l) => add(t, g[2 * l] as Float64Array));
    b.forEach((t, l) => add(t, g[2 * l + 1] as Float64Array));
  };
  if (o.optimiser === 'adam') {
    const signal = o.signal;
    const beforeStep = (grads: { w: Float64Array[]; b: Float64Array[] }): void => {
      signal?.throwIfAborted();
      addProximal(grads.w, grads.b);
    };
    const losses = await trainMlp(model, rows, { epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed, beforeStep, ...(o.adamState === undefined ? {} : { state: o.adamState }) }, (indices) => {
      const batch = batchOf(indices);
      return { x: batch, loss: (out) => meanSquaredError(out, batch) };
    });
    return { model, losses };
  }
  return { model, losses: trainSgd(model, rows, o, batchOf, addProximal) };
}

function add(to: Float64Array, from: Float64Array): void {
  for (let j = 0; j < to.length; j += 1) to[j] = (to[j] as number) + (from[j] as number);
}

/** Plain mini-batch SGD with trainMlp's batch order (the same seeded shuffle). */
function trainSgd(model: Mlp, rows: number, o: LocalTrainingOptions, batchOf: (indices: readonly number[]) => Float64Array, addProximal: (w: Float64Array[], b: Float64Array[]) => void): number[] {
  const random = seededRandom(o.seed ^ 0x9e3779b9);
  const order = Array.from({ length: rows }, (_, i) => i);
  const params = parametersOf(model);
  const losses: number[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch += 1) {
    o.signal?.throwIfAborted();
    shuffleInPlace(order, random);
    let sum = 0;
    let batches = 0;
    for (let start = 0; start < rows; start += o.batchSize) {
      const indices = order.slice(start, start + o.batchSize);
      const batch = batchOf(indices);
      const { loss, grads } = model.lossAndGradients(batch, batch, indices.length);
      addProximal(grads.w, grads.b);
      const g = grads.w.flatMap((w, l) => [w, grads.b[l] as Float64Array]);
      params.forEach((p, k) => {
        const gk = g[k] as Float64Array;
        for (let j = 0; j < p.length; j += 1) p[j] = (p[j] as number) - o.learningRate * (gk[j] as number);
      });
      sum += loss;
      batches += 1;
    }
    losses.push(sum / batches);
  }
  return losses;
}
