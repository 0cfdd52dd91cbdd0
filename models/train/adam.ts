import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Mlp, meanSquaredError, type Gradients, type OutputLoss } from './mlp.js';
import { seededRandom, shuffleInPlace } from './random.js';

export interface TrainOptions {
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Stop early when an epoch improves the loss by less than this fraction. */
  readonly minImprovement?: number;
  /** Called after each epoch (progress on a long training). */
  readonly onEpoch?: (epoch: number, loss: number) => void;
  /**
   * Called with each mini-batch's gradients before Adam's step, to add a term of the caller's
   * own in place (a federated client adds FedProx's proximal gradient, models/train/proximal.ts).
   */
  readonly beforeStep?: (grads: Gradients) => void;
  /**
   * Adam's moments and step count, carried over from an earlier call and updated in place
   * (createAdamState); without it every call starts from zero moments.
   */
  readonly state?: AdamState;
}

/** Adam's first and second moments per parameter and its step count, for training in several calls. */
export interface AdamState {
  readonly m: { readonly w: Float64Array; readonly b: Float64Array }[];
  readonly v: { readonly w: Float64Array; readonly b: Float64Array }[];
  step: number;
}

export function createAdamState(model: Mlp): AdamState {
  const zeros = (): { w: Float64Array; b: Float64Array }[] => model.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  return { m: zeros(), v: zeros(), step: 0 };
}

export interface TrainResult {
  readonly model: Mlp;
  readonly losses: readonly number[];
}

/** A mini-batch: its inputs (`rows` x inputs) and the loss of the network's outputs on it. */
export interface Batch {
  readonly x: Float64Array;
  readonly loss: OutputLoss;
}

/**
 * Adam (Kingma & Ba, 2015) on mini-batches of examples 0..rows-1 in a seeded shuffled order;
 * `batch(indices)` builds the inputs and the loss of one mini-batch. Yields to the event loop
 * every 16 batches so a gateway keeps serving while it trains. Returns the loss per epoch.
 */
export async function trainMlp(model: Mlp, rows: number, o: Omit<TrainOptions, 'hidden'>, batch: (indices: readonly number[]) => Batch): Promise<number[]> {
  const random = seededRandom(o.seed ^ 0x9e3779b9);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const state = o.state ?? createAdamState(model);
  if (state.m.length !== model.layers.length || state.m.some((t, l) => t.w.length !== model.layers[l]?.w.length || t.b.length !== model.layers[l]?.b.length)) throw new RangeError('Adam state of another network shape');
  const { m, v } = state;
  const order = Array.from({ length: rows }, (_, i) => i);
  const losses: number[] = [];
  // Counted over all epochs: a small data set has fewer than 16 batches per epoch, and counting
  // per epoch never yielded on it (a federated round of 480 windows held the loop for 0.5 s).
  let sinceYield = 0;
  for (let epoch = 0; epoch < o.epochs; epoch += 1) {
    shuffleInPlace(order, random);
    let epochLoss = 0;
    let batches = 0;
    for (let start = 0; start < rows; start += o.batchSize) {
      const indices = order.slice(start, start + o.batchSize);
      const b = batch(indices);
      const { loss, grads } = model.lossAndGradientsWith(b.x, indices.length, b.loss);
      o.beforeStep?.(grads);
      state.step += 1;
      applyAdam(model, grads, m, v, state.step, o.learningRate, beta1, beta2, eps);
      epochLoss += loss;
      batches += 1;
      sinceYield += 1;
      if (sinceYield === 16) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }
    epochLoss /= batches;
    losses.push(epochLoss);
    o.onEpoch?.(epoch, epochLoss);
    const prev = losses[losses.length - 2];
    if (o.minImprovement !== undefined && prev !== undefined && prev - epochLoss < o.minImprovement * prev) break;
  }
  return losses;
}

/** An autoencoder: reconstructs each of `rows` examples of `dims` values (mean squared error). */
export async function trainAutoencoder(data: Float64Array, rows: number, dims: number, o: TrainOptions): Promise<TrainResult> {
  const model = new Mlp([dims, ...o.hidden, dims], o.seed);
  const losses = await trainMlp(model, rows, o, (indices) => {
    const x = new Float64Array(indices.length * dims);
    indices.forEach((row, r) => x.set(data.subarray(row * dims, row * dims + dims), r * dims));
    return { x, loss: (out) => meanSquaredError(out, x) };
  });
  return { model, losses };
}

function applyAdam(
  model: Mlp,
  g: Gradients,
  m: { w: Float64Array; b: Float64Array }[],
  v: { w: Float64Array; b: Float64Array }[],
  step: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  // p -= lr * (m / c1) / (sqrt(v / c2) + eps), with the bias corrections folded into two
  // constants: one division and one square root per parameter.
  const rate = lr / (1 - beta1 ** step);
  const rootC2 = 1 / Math.sqrt(1 - beta2 ** step);
  for (let l = 0; l < model.layers.length; l += 1) {
    const layer = model.layers[l] as Mlp['layers'][number];
    const ml = m[l] as { w: Float64Array; b: Float64Array };
    const vl = v[l] as { w: Float64Array; b: Float64Array };
    adamStep(layer.w, g.w[l] as Float64Array, ml.w, vl.w, rate, rootC2, beta1, beta2, eps);
    adamStep(layer.b, g.b[l] as Float64Array, ml.b, vl.b, rate, rootC2, beta1, beta2, eps);
  }
}

/** One Adam step over one tensor, in place. */
function adamStep(p: Float64Array, gr: Float64Array, mm: Float64Array, vv: Float64Array, rate: number, rootC2: number, beta1: number, beta2: number, eps: number): void {
  const keep1 = 1 - beta1;
  const keep2 = 1 - beta2;
  for (let i = 0; i < p.length; i += 1) {
    const gi = gr[i] as number;
    const mi = beta1 * (mm[i] as number) + keep1 * gi;
    const vi = beta2 * (vv[i] as number) + keep2 * gi * gi;
    mm[i] = mi;
    vv[i] = vi;
    p[i] = (p[i] as number) - (rate * mi) / (Math.sqrt(vi) * rootC2 + eps);
  }
}
