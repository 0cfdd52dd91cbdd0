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
    const count = this.layers.length;
    for (let l = 0; l < count; l += 1) {
      const layer = this.layers[l] as Layer;
      const out = new Float64Array(rows * layer.outputs);
      denseForward(layer.w, layer.b, layer.inputs, layer.outputs, a, out, rows, l < count - 1);
      acts.push(out);
      a = out;
    }
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
      denseGradients(layer.inputs, layer.outputs, input, delta, gw[l] as Float64Array, gb[l] as Float64Array, rows);
      if (l === 0) break;
      // Through the tanh of the layer below: d tanh(u)/du = 1 - tanh(u)^2.
      delta = denseInputDelta(layer.w, layer.inputs, layer.outputs, input, delta, rows);
    }
    return { w: gw, b: gb };
  }
}

/*
 * The dense layer's loops, as free functions over plain typed arrays: each is monomorphic and
 * small enough for V8 to optimise whole, and no property of a layer object is read in an inner
 * loop. A running sum is a chain of dependent additions (each waits for the one before, about
 * four cycles); the loops below keep four independent ones side by side and touch each element
 * they write once per four products. The gradients add four rows' products before adding them
 * to the sum, so they differ from a plain loop's in the last bits; training is deterministic
 * either way. About twice as fast as the plain loops on the federated autoencoder (96-32-8-32-96,
 * batches of 8).
 */

/**
 * out[r][o] = act(b[o] + w[o] . a[r]) for every row r; act is tanh when `hidden`, else
 * identity. Four rows at a time share each load of w, and their four sums are independent
 * chains that run side by side. Each sum adds in the order of a plain loop, so a row's output
 * does not depend on the batch it is in.
 */
function denseForward(w: Float64Array, b: Float64Array, inputs: number, outputs: number, a: Float64Array, out: Float64Array, rows: number, hidden: boolean): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const in0 = r * inputs;
    const in1 = in0 + inputs;
    const in2 = in1 + inputs;
    const in3 = in2 + inputs;
    for (let o = 0; o < outputs; o += 1) {
      const wOff = o * inputs;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < inputs; i += 1) {
        const wi = w[wOff + i] as number;
        s0 += wi * (a[in0 + i] as number);
        s1 += wi * (a[in1 + i] as number);
        s2 += wi * (a[in2 + i] as number);
        s3 += wi * (a[in3 + i] as number);
      }
      const bo = b[o] as number;
      out[r * outputs + o] = hidden ? Math.tanh(bo + s0) : bo + s0;
      out[(r + 1) * outputs + o] = hidden ? Math.tanh(bo + s1) : bo + s1;
      out[(r + 2) * outputs + o] = hidden ? Math.tanh(bo + s2) : bo + s2;
      out[(r + 3) * outputs + o] = hidden ? Math.tanh(bo + s3) : bo + s3;
    }
  }
  for (; r < rows; r += 1) {
    const inOff = r * inputs;
    for (let o = 0; o < outputs; o += 1) {
      const wOff = o * inputs;
      let s0 = 0;
      for (let i = 0; i < inputs; i += 1) s0 += (w[wOff + i] as number) * (a[inOff + i] as number);
      const bo = b[o] as number;
      out[r * outputs + o] = hidden ? Math.tanh(bo + s0) : bo + s0;
    }
  }
}

/**
 * Adds the batch's gradient of w (sum over rows of delta[r][o] * input[r][i]) and of b (of
 * delta[r][o]) to gw and gb. Four rows at a time: each element of gw is read and written once
 * per four products instead of once per product.
 */
function denseGradients(inputs: number, outputs: number, input: Float64Array, delta: Float64Array, gw: Float64Array, gb: Float64Array, rows: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const in0 = r * inputs;
    const in1 = in0 + inputs;
    const in2 = in1 + inputs;
    const in3 = in2 + inputs;
    for (let o = 0; o < outputs; o += 1) {
      const d0 = delta[r * outputs + o] as number;
      const d1 = delta[(r + 1) * outputs + o] as number;
      const d2 = delta[(r + 2) * outputs + o] as number;
      const d3 = delta[(r + 3) * outputs + o] as number;
      gb[o] = (gb[o] as number) + (d0 + d1 + (d2 + d3));
      const wOff = o * inputs;
      for (let i = 0; i < inputs; i += 1) {
        gw[wOff + i] = (gw[wOff + i] as number) + (d0 * (input[in0 + i] as number) + d1 * (input[in1 + i] as number) + (d2 * (input[in2 + i] as number) + d3 * (input[in3 + i] as number)));
      }
    }
  }
  for (; r < rows; r += 1) {
    const inOff = r * inputs;
    for (let o = 0; o < outputs; o += 1) {
      const d = delta[r * outputs + o] as number;
      gb[o] = (gb[o] as number) + d;
      const wOff = o * inputs;
      for (let i = 0; i < inputs; i += 1) gw[wOff + i] = (gw[wOff + i] as number) + d * (input[inOff + i] as number);
    }
  }
}

/**
 * The delta of the layer below: (w^T delta[r])[i] * (1 - input[r][i]^2), input being that
 * layer's tanh output. Four outputs at a time, for the same reason as denseGradients.
 */
function denseInputDelta(w: Float64Array, inputs: number, outputs: number, input: Float64Array, delta: Float64Array, rows: number): Float64Array {
  const below = new Float64Array(rows * inputs);
  for (let r = 0; r < rows; r += 1) {
    const inOff = r * inputs;
    const outOff = r * outputs;
    let o = 0;
    for (; o + 4 <= outputs; o += 4) {
      const d0 = delta[outOff + o] as number;
      const d1 = delta[outOff + o + 1] as number;
      const d2 = delta[outOff + o + 2] as number;
      const d3 = delta[outOff + o + 3] as number;
      const w0 = o * inputs;
      const w1 = w0 + inputs;
      const w2 = w1 + inputs;
      const w3 = w2 + inputs;
      for (let i = 0; i < inputs; i += 1) {
        below[inOff + i] = (below[inOff + i] as number) + (d0 * (w[w0 + i] as number) + d1 * (w[w1 + i] as number) + (d2 * (w[w2 + i] as number) + d3 * (w[w3 + i] as number)));
      }
    }
    for (; o < outputs; o += 1) {
      const d = delta[outOff + o] as number;
      const wOff = o * inputs;
      for (let i = 0; i < inputs; i += 1) below[inOff + i] = (below[inOff + i] as number) + d * (w[wOff + i] as number);
    }
    for (let i = 0; i < inputs; i += 1) {
      const a = input[inOff + i] as number;
      below[inOff + i] = (below[inOff + i] as number) * (1 - a * a);
    }
  }
  return below;
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
