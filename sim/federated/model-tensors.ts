import type { FloatTensor, TensorLayout } from '../../fleet/protocol/federated/index.js';
import { Mlp } from '../../models/train/mlp.js';

/**
 * The autoencoder's parameters as the federated update names them: per layer its weights
 * `layers.<l>.w` ([outputs, inputs], row-major as Mlp holds them) and biases `layers.<l>.b`.
 */
export function layoutOf(model: Mlp): TensorLayout[] {
  return model.layers.flatMap((l, i) => [
    { name: `layers.${i}.w`, shape: [l.outputs, l.inputs] },
    { name: `layers.${i}.b`, shape: [l.outputs] },
  ]);
}

/** The network's parameter arrays in layout order (live views: writing them changes the model). */
export function parametersOf(model: Mlp): Float64Array[] {
  return model.layers.flatMap((l) => [l.w, l.b]);
}

/** A copy of `model` (the sizes and every weight). */
export function cloneModel(model: Mlp): Mlp {
  const copy = new Mlp(model.sizes, 0);
  const to = parametersOf(copy);
  parametersOf(model).forEach((p, k) => (to[k] as Float64Array).set(p));
  return copy;
}

/** local - global per tensor, in float32: what a gateway sends (before quantisation). */
export function deltaOf(local: Mlp, global: Mlp): FloatTensor[] {
  const g = parametersOf(global);
  const layout = layoutOf(local);
  return parametersOf(local).map((p, k) => {
    const base = g[k] as Float64Array;
    const values = new Float32Array(p.length);
    for (let j = 0; j < p.length; j += 1) values[j] = (p[j] as number) - (base[j] as number);
    return { ...(layout[k] as TensorLayout), values };
  });
}

/** Adds an aggregated delta (one array per tensor, layout order) to the global model, in place. */
export function applyDelta(model: Mlp, delta: readonly Float32Array[]): void {
  const params = parametersOf(model);
  if (delta.length !== params.length) throw new RangeError(`a delta of ${delta.length} tensors for a model of ${params.length}`);
  params.forEach((p, k) => {
    const d = delta[k] as Float32Array;
    if (d.length !== p.length) throw new RangeError(`tensor ${k}: a delta of ${d.length} values for ${p.length} parameters`);
    for (let j = 0; j < p.length; j += 1) p[j] = (p[j] as number) + (d[j] as number);
  });
}

/** Mean squared reconstruction error over every value of `rows` standardised windows. */
export function reconstructionLoss(model: Mlp, x: Float64Array, rows: number): number {
  if (rows === 0) return 0;
  const out = model.predict(x, rows);
  let s = 0;
  const n = rows * (model.layers[0]?.inputs ?? 0);
  for (let i = 0; i < n; i += 1) s += ((out[i] as number) - (x[i] as number)) ** 2;
  return s / n;
}
