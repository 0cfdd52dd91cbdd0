import type { FloatTensor, TensorLayout } from '../../fleet/protocol/federated/index.js';
import type { Mlp } from '../../models/train/mlp.js';
import { parametersOf } from '../../models/train/mlp-parameters.js';

// Shared with the gateway's federated learner (models/train/mlp-parameters.ts).
export { cloneModel, parametersOf, reconstructionLoss } from '../../models/train/mlp-parameters.js';

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
