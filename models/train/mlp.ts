import { seededRandom } from './random.js';

/**
 * A small fully connected network: tanh hidden layers, a linear output layer, mean squared
 * error. Written here, not taken from a library, because the models are tiny (thousands of
 * weights), training must run on an arm64 gateway without native add-ons, and we need the
 * exact weights to write our own ONNX file. The gradients are checked against finite
 * differences in the tests.
 */
export interface Layer {
  readonly inputs: number;
  readonly outputs: number;
  /** Row-major [outputs][inputs]. */
  readonly w: Float64Array;
  readonly b: Float64Array;
}

export interface Gradients {
  readonly w: Float64Array[];
  readonly b: Float64Array[];
}

/** A loss of the network's outputs (`rows` x outputs) and its gradient per output. */
export type OutputLoss = (out: Float64Array, rows: number) => { value: number; delta: Float64Array };

export function meanSquaredError(out: Float64Array, target: Float64Array): { value: number; delta: Float64Array } {
  const n = out.length;
  let value = 0;
  const delta = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const e = (out[i] as number) - (target[i] as number);
    value += e * e;
    delta[i] = (2 * e) / n;
  }
  return { value: value / n, delta };
}

export class Mlp {
  readonly layers: Layer[];

  constructor(sizes: readonly number[], seed: number) {
    if (sizes.length < 2) throw new RangeError('an MLP needs at least an input and an output size');
    const random = seededRandom(seed);
    this.layers = [];
    for (let l = 0; l + 1 < sizes.length; l += 1) {
      const inputs = sizes[l] as number;
      const outputs = sizes[l + 1] as number;
      // Glorot/Xavier uniform: keeps tanh activations in their useful range at the start.
      const limit = Math.sqrt(6 / (inputs + outputs));
      const w = new Float64Array(inputs * outputs);
      for (let i = 0; i < w.length; i += 1) w[i] = (random() * 2 - 1) * limit;
      this.layers.push({ inputs, outputs, w, b: new Float64Array(outputs) });
    }
  }

  get sizes(): number[] {
    return [(this.layers[0] as Layer).inputs, ...this.layers.map((l) => l.outputs)];
  }

  get parameterCount(): number {
    return this.layers.reduce((n, l) => n + l.w.length + l.b.length, 0);
  }

  /** Activations of every layer for a batch of `rows` inputs (row-major), input first. */
  forward(x: Float64Array, rows: number): Float64Array[] {
    const acts: Float64Array[] = [x];
    let a = x;
    this.layers.forEach((layer, l) => {
      const out = new Float64Array(rows * layer.outputs);
      const last = l === this.layers.length - 1;
      for (let r = 0; r < rows; r += 1) {
        const inOff = r * layer.inputs;
        const outOff = r * layer.outputs;
        for (let o = 0; o < layer.outputs; o += 1) {
          let s = layer.b[o] as number;
          const wOff = o * layer.inputs;
          for (let i = 0; i < layer.inputs; i += 1) s += (layer.w[wOff + i] as number) * (a[inOff + i] as number);
          out[outOff + o] = last ? s : Math.tanh(s);
        }
      }
      acts.push(out);
      a = out;
    });
    return acts;
  }

  predict(x: Float64Array, rows: number): Float64Array {
    const acts = this.forward(x, rows);
    return acts[acts.length - 1] as Float64Array;
  }

  /**
   * Mean squared error of reconstructing `target` from `x`, and its gradient with respect
   * to every weight and bias (backpropagation).
   */
  lossAndGradients(x: Float64Array, target: Float64Array, rows: number): { loss: number; grads: Gradients } {
    return this.lossAndGradientsWith(x, rows, (out) => meanSquaredError(out, target));
  }

  /**
   * Any loss of the outputs: `loss(out)` returns the loss and its gradient with respect to
   * each output (same layout as `out`); backpropagation does the rest.
   */
  lossAndGradientsWith(x: Float64Array, rows: number, loss: OutputLoss): { loss: number; grads: Gradients } {
    const acts = this.forward(x, rows);
    const { value, delta } = loss(acts[acts.length - 1] as Float64Array, rows);
    return { loss: value, grads: this.backward(acts, delta, rows) };
  }

  private backward(acts: readonly Float64Array[], outputDelta: Float64Array, rows: number): Gradients {
    let delta = outputDelta;
    const gw: Float64Array[] = this.layers.map((l) => new Float64Array(l.w.length));
    const gb: Float64Array[] = this.layers.map((l) => new Float64Array(l.b.length));
    for (let l = this.layers.length - 1; l >= 0; l -= 1) {
      const layer = this.layers[l] as Layer;
      const input = acts[l] as Float64Array;
      const gwl = gw[l] as Float64Array;
      const gbl = gb[l] as Float64Array;
      const prevDelta = new Float64Array(rows * layer.inputs);
      for (let r = 0; r < rows; r += 1) {
        const inOff = r * layer.inputs;
        const outOff = r * layer.outputs;
        for (let o = 0; o < layer.outputs; o += 1) {
          const d = delta[outOff + o] as number;
          if (d === 0) continue;
          gbl[o] = (gbl[o] as number) + d;
          const wOff = o * layer.inputs;
          for (let i = 0; i < layer.inputs; i += 1) {
            gwl[wOff + i] = (gwl[wOff + i] as number) + d * (input[inOff + i] as number);
            if (l > 0) prevDelta[inOff + i] = (prevDelta[inOff + i] as number) + d * (layer.w[wOff + i] as number);
          }
        }
      }
      if (l > 0) {
        // Through the tanh of the layer below: d tanh(u)/du = 1 - tanh(u)^2.
        for (let i = 0; i < prevDelta.length; i += 1) {
          const a = input[i] as number;
          prevDelta[i] = (prevDelta[i] as number) * (1 - a * a);
        }
      }
      delta = prevDelta;
    }
    return { w: gw, b: gb };
  }
}

/**
 * A layer's weights with "subtract the input's own mean" folded in: W (x - mean(x)) equals
 * (W - rowmean(W)) x. Exports use it so a network trained on centred inputs runs on raw ones.
 */
export function centringFolded(layer: Layer): Float32Array {
  const w = Float32Array.from(layer.w);
  for (let o = 0; o < layer.outputs; o += 1) {
    let m = 0;
    for (let i = 0; i < layer.inputs; i += 1) m += layer.w[o * layer.inputs + i] as number;
    m /= layer.inputs;
    for (let i = 0; i < layer.inputs; i += 1) w[o * layer.inputs + i] = (layer.w[o * layer.inputs + i] as number) - m;
  }
  return w;
}
