/**
 * Adam (Kingma & Ba, 2015) over named Float32Array parameters, with its moments kept as named
 * tensors too, so a checkpoint can save and restore the optimizer exactly (a resumed training
 * then takes the same steps as one that never stopped).
 */
export interface Parameter {
  readonly name: string;
  readonly value: Float32Array;
  readonly grad: Float32Array;
}

export interface AdamSettings {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Decoupled weight decay (AdamW), per step times the learning rate; 0: none. */
  readonly weightDecay: number;
}

export const ADAM_DEFAULTS: AdamSettings = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

export class TensorAdam {
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
  step = 0;

  constructor(
    private readonly params: readonly Parameter[],
    private readonly o: AdamSettings = ADAM_DEFAULTS,
  ) {
    this.m = new Map(params.map((p) => [p.name, new Float32Array(p.value.length)]));
    this.v = new Map(params.map((p) => [p.name, new Float32Array(p.value.length)]));
  }

  /**
   * One update of every parameter from its gradient, at learning rate `lr`. With `maxNorm`, the
   * gradients are first scaled down so their global L2 norm is at most that (a batch with an
   * unusual loss spike then cannot throw the weights far). Returns the norm before clipping.
   */
  update(lr: number, maxNorm = Infinity): number {
    this.step += 1;
    let sq = 0;
    for (const p of this.params) for (let i = 0; i < p.grad.length; i += 1) sq += (p.grad[i] as number) ** 2;
    const norm = Math.sqrt(sq);
    const scale = norm > maxNorm ? maxNorm / norm : 1;
    const { beta1, beta2, epsilon, weightDecay } = this.o;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const p of this.params) {
      const m = this.m.get(p.name) as Float32Array;
      const v = this.v.get(p.name) as Float32Array;
      const { value, grad } = p;
      for (let i = 0; i < value.length; i += 1) {
        const g = (grad[i] as number) * scale;
        const mi = beta1 * (m[i] as number) + (1 - beta1) * g;
        const vi = beta2 * (v[i] as number) + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        value[i] = (value[i] as number) * (1 - lr * weightDecay) - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
      }
    }
    return norm;
  }

  /** The moments as named tensors (`m.<name>`, `v.<name>`), for a checkpoint. */
  tensors(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of this.m) out[`m.${name}`] = t;
    for (const [name, t] of this.v) out[`v.${name}`] = t;
    return out;
  }

  /** Restores moments and step from a checkpoint; throws when a tensor is missing or of another size. */
  restore(tensors: Readonly<Record<string, Float32Array | Float64Array>>, step: number): void {
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) {
        const saved = tensors[`${kind}.${name}`];
        if (saved === undefined || saved.length !== t.length) throw new RangeError(`checkpoint: optimizer moment ${kind}.${name} missing or of another size`);
        t.set(saved);
      }
    }
    this.step = step;
  }
}
