import { Mlp } from './mlp.js';

/** The network's parameter arrays, per layer its weights then its biases (live views: writing them changes the model). */
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

/** Mean squared reconstruction error over every value of `rows` standardised windows. */
export function reconstructionLoss(model: Mlp, x: Float64Array, rows: number): number {
  if (rows === 0) return 0;
  const out = model.predict(x, rows);
  let s = 0;
  const n = rows * (model.layers[0]?.inputs ?? 0);
  for (let i = 0; i < n; i += 1) s += ((out[i] as number) - (x[i] as number)) ** 2;
  return s / n;
}
