import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Mlp, type Gradients } from './mlp.js';
import { seededRandom } from './random.js';

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
}

export interface TrainResult {
  readonly model: Mlp;
  readonly losses: readonly number[];
}

/**
 * Adam (Kingma & Ba, 2015) on mini-batches, reproducible from the seed (initial weights and
 * batch order). Yields to the event loop between batches so a gateway keeps serving while
 * it trains.
 */
export async function trainAutoencoder(data: Float64Array, rows: number, dims: number, o: TrainOptions): Promise<TrainResult> {
  const model = new Mlp([dims, ...o.hidden, dims], o.seed);
  const random = seededRandom(o.seed ^ 0x9e3779b9);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const m = model.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  const v = model.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  let step = 0;
  const order = Array.from({ length: rows }, (_, i) => i);
  const losses: number[] = [];
  const batch = new Float64Array(o.batchSize * dims);
  for (let epoch = 0; epoch < o.epochs; epoch += 1) {
    for (let i = rows - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    let epochLoss = 0;
    let batches = 0;
    for (let start = 0; start < rows; start += o.batchSize) {
      const count = Math.min(o.batchSize, rows - start);
      const x = count === o.batchSize ? batch : new Float64Array(count * dims);
      for (let r = 0; r < count; r += 1) x.set(data.subarray((order[start + r] as number) * dims, (order[start + r] as number) * dims + dims), r * dims);
      const { loss, grads } = model.lossAndGradients(x, x, count);
      step += 1;
      applyAdam(model, grads, m, v, step, o.learningRate, beta1, beta2, eps);
      epochLoss += loss;
      batches += 1;
      if (batches % 16 === 0) await yieldToLoop();
    }
    epochLoss /= batches;
    losses.push(epochLoss);
    o.onEpoch?.(epoch, epochLoss);
    const prev = losses[losses.length - 2];
    if (o.minImprovement !== undefined && prev !== undefined && prev - epochLoss < o.minImprovement * prev) break;
  }
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
  const c1 = 1 - beta1 ** step;
  const c2 = 1 - beta2 ** step;
  model.layers.forEach((layer, l) => {
    const pairs: [Float64Array, Float64Array, Float64Array, Float64Array][] = [
      [layer.w, g.w[l] as Float64Array, (m[l] as { w: Float64Array }).w, (v[l] as { w: Float64Array }).w],
      [layer.b, g.b[l] as Float64Array, (m[l] as { b: Float64Array }).b, (v[l] as { b: Float64Array }).b],
    ];
    for (const [p, gr, mm, vv] of pairs) {
      for (let i = 0; i < p.length; i += 1) {
        const gi = gr[i] as number;
        mm[i] = beta1 * (mm[i] as number) + (1 - beta1) * gi;
        vv[i] = beta2 * (vv[i] as number) + (1 - beta2) * gi * gi;
        p[i] = (p[i] as number) - (lr * ((mm[i] as number) / c1)) / (Math.sqrt((vv[i] as number) / c2) + eps);
      }
    }
  });
}
