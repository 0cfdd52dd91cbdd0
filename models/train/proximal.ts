/**
 * FedProx's proximal term (Li et al., "Federated Optimization in Heterogeneous Networks", 2020):
 * a gateway training in a round minimises its loss plus mu/2 ||w - w_global||^2, which keeps its
 * model near the round's global model when gateways' data differ. Pure functions over the
 * model's tensors (any numeric arrays, the same shapes in both lists), so the trainer adds the
 * gradient to its own before each step; the fleet's side of FedProx is plain FedAvg.
 */

/** mu/2 ||w - w_global||^2 over all tensors. */
export function proximalTerm(weights: readonly ArrayLike<number>[], global: readonly ArrayLike<number>[], mu: number): number {
  checkProximal(weights, global, mu);
  let sum = 0;
  weights.forEach((w, k) => {
    const g = global[k] as ArrayLike<number>;
    for (let j = 0; j < w.length; j += 1) {
      const d = (w[j] as number) - (g[j] as number);
      sum += d * d;
    }
  });
  return (mu / 2) * sum;
}

/** The term's gradient with respect to the weights, mu (w - w_global), one new Float64Array per tensor. */
export function proximalGradient(weights: readonly ArrayLike<number>[], global: readonly ArrayLike<number>[], mu: number): Float64Array[] {
  checkProximal(weights, global, mu);
  return weights.map((w, k) => {
    const g = global[k] as ArrayLike<number>;
    const out = new Float64Array(w.length);
    for (let j = 0; j < w.length; j += 1) out[j] = mu * ((w[j] as number) - (g[j] as number));
    return out;
  });
}

function checkProximal(weights: readonly ArrayLike<number>[], global: readonly ArrayLike<number>[], mu: number): void {
  if (!(Number.isFinite(mu) && mu >= 0)) throw new RangeError(`proximal term: mu must be a finite number of at least 0, got ${mu}`);
  if (weights.length !== global.length) throw new RangeError(`proximal term: ${weights.length} weight tensors against ${global.length} of the global model`);
  weights.forEach((w, k) => {
    const g = global[k] as ArrayLike<number>;
    if (w.length !== g.length) throw new RangeError(`proximal term: tensor ${k} has ${w.length} values, the global model's has ${g.length}`);
  });
}
