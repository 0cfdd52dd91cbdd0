import { gemmAccumulate, gemmAccumulateBt, transpose } from './gemm.js';

/** A 2-D convolution's shape: square kernel, the same stride, dilation and zero padding on both axes (ONNX Conv's attributes). */
export interface ConvSpec {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly pad: number;
}

/** Output size of a convolution along one axis (ONNX Conv's formula). */
export function convOutputSize(size: number, s: ConvSpec): number {
  return Math.floor((size + 2 * s.pad - s.dilation * (s.kernel - 1) - 1) / s.stride) + 1;
}

/** Activations of a batch: channel-major over the batch (C, N, H, W), so one matrix product serves every sample. */
export interface Activations {
  readonly data: Float32Array;
  readonly channels: number;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
}

/** Grows `buf` to at least `n` values (a layer keeps its buffers between steps: training allocates nothing per step once warm). */
function sized(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(n);
}

/**
 * A convolution layer that can learn: forward as im2col and one matrix product per batch,
 * backward as the two transposed products and col2im. Weights are laid out as ONNX Conv's
 * [out, in, k, k], so export copies them as they are. Gradients accumulate in `gradWeight` and
 * `gradBias` until `zeroGrad`.
 */
export class Conv2d {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly gradWeight: Float32Array;
  readonly gradBias: Float32Array;
  /** Rows of the im2col matrix: in * k * k. */
  readonly rows: number;
  private cols: Float32Array = new Float32Array(0);
  private out: Float32Array = new Float32Array(0);
  private dCols: Float32Array = new Float32Array(0);
  private dIn: Float32Array = new Float32Array(0);
  private weightT: Float32Array = new Float32Array(0);
  private input: Activations | undefined;
  private output: Activations | undefined;

  constructor(readonly spec: ConvSpec) {
    this.rows = spec.inChannels * spec.kernel * spec.kernel;
    this.weight = new Float32Array(spec.outChannels * this.rows);
    this.bias = new Float32Array(spec.outChannels);
    this.gradWeight = new Float32Array(this.weight.length);
    this.gradBias = new Float32Array(this.bias.length);
  }

  /** He-normal weights (for ReLU networks), zero biases. */
  initialise(random: () => number): void {
    const std = Math.sqrt(2 / this.rows);
    for (let i = 0; i < this.weight.length; i += 1) this.weight[i] = std * gaussian(random);
    this.bias.fill(0);
  }

  zeroGrad(): void {
    this.gradWeight.fill(0);
    this.gradBias.fill(0);
  }

  /** The layer's output; valid until the next forward of this layer. Keeps what backward needs. */
  forward(x: Activations): Activations {
    const s = this.spec;
    if (x.channels !== s.inChannels) throw new RangeError(`conv: expected ${s.inChannels} input channels, got ${x.channels}`);
    const oh = convOutputSize(x.height, s);
    const ow = convOutputSize(x.width, s);
    const n = x.batch * oh * ow;
    this.cols = sized(this.cols, this.rows * n);
    this.out = sized(this.out, s.outChannels * n);
    const cols = this.cols.subarray(0, this.rows * n);
    const out = this.out.subarray(0, s.outChannels * n);
    im2col(x, s, oh, ow, cols);
    for (let o = 0; o < s.outChannels; o += 1) out.fill(this.bias[o] as number, o * n, (o + 1) * n);
    gemmAccumulate(s.outChannels, n, this.rows, this.weight, cols, out);
    this.input = x;
    this.output = { data: out, channels: s.outChannels, batch: x.batch, height: oh, width: ow };
    return this.output;
  }

  /** The last forward's output (a ReLU applied to it in place since included): what a ReLU's backward needs. */
  lastOutput(): Float32Array {
    if (this.output === undefined) throw new Error('conv: no forward yet');
    return this.output.data;
  }

  /**
   * Adds this batch's weight and bias gradients, given the loss gradient of the last forward's
   * output; returns the gradient of its input (valid until the next backward), or undefined
   * when `inputGradient` is false (the first layer: nothing below it learns).
   */
  backward(dOut: Float32Array, inputGradient: boolean): Float32Array | undefined {
    const x = this.input;
    const y = this.output;
    if (x === undefined || y === undefined) throw new Error('conv: backward before forward');
    const s = this.spec;
    const n = y.batch * y.height * y.width;
    const cols = this.cols.subarray(0, this.rows * n);
    for (let o = 0; o < s.outChannels; o += 1) {
      let sum = 0;
      for (let j = o * n; j < (o + 1) * n; j += 1) sum += dOut[j] as number;
      this.gradBias[o] = (this.gradBias[o] as number) + sum;
    }
    gemmAccumulateBt(s.outChannels, this.rows, n, dOut, cols, this.gradWeight);
    if (!inputGradient) return undefined;
    this.dCols = sized(this.dCols, this.rows * n);
    const dCols = this.dCols.subarray(0, this.rows * n);
    dCols.fill(0);
    this.weightT = sized(this.weightT, this.weight.length);
    const wt = transpose(s.outChannels, this.rows, this.weight, this.weightT);
    gemmAccumulate(this.rows, n, s.outChannels, wt, dOut, dCols);
    const inSize = x.channels * x.batch * x.height * x.width;
    this.dIn = sized(this.dIn, inSize);
    const dIn = this.dIn.subarray(0, inSize);
    dIn.fill(0);
    col2im(dCols, s, x, y.height, y.width, dIn);
    return dIn;
  }
}

/** A standard normal draw (Box-Muller) from a uniform source. */
export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The range of output columns whose input column lies inside 0..size-1, for kernel offset `offset`. */
function validRange(outSize: number, size: number, stride: number, offset: number): [number, number] {
  // input index = o * stride + offset, needs 0 <= index < size
  const lo = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const hi = Math.min(outSize, Math.floor((size - 1 - offset) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** Row (c, ky, kx) of the column matrix holds, for every output pixel of every sample, the input pixel that kernel tap sees (0 outside). */
function im2col(x: Activations, s: ConvSpec, oh: number, ow: number, cols: Float32Array): void {
  const { batch: B, height: H, width: W, data } = x;
  const k = s.kernel;
  const n = B * oh * ow;
  for (let c = 0; c < x.channels; c += 1) {
    for (let ky = 0; ky < k; ky += 1) {
      const offY = ky * s.dilation - s.pad;
      const [y0, y1] = validRange(oh, H, s.stride, offY);
      for (let kx = 0; kx < k; kx += 1) {
        const offX = kx * s.dilation - s.pad;
        const [x0, x1] = validRange(ow, W, s.stride, offX);
        const row = ((c * k + ky) * k + kx) * n;
        for (let b = 0; b < B; b += 1) {
          const plane = (c * B + b) * H * W;
          const dst = row + b * oh * ow;
          for (let oy = 0; oy < oh; oy += 1) {
            const d = dst + oy * ow;
            if (oy < y0 || oy >= y1) {
              cols.fill(0, d, d + ow);
              continue;
            }
            const src = plane + (oy * s.stride + offY) * W + offX;
            if (x0 > 0) cols.fill(0, d, d + x0);
            if (x1 < ow) cols.fill(0, d + x1, d + ow);
            if (s.stride === 1) cols.set(data.subarray(src + x0, src + x1), d + x0);
            else for (let ox = x0; ox < x1; ox += 1) cols[d + ox] = data[src + ox * s.stride] as number;
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: every column entry's gradient is added back to the input pixel it came from. */
function col2im(dCols: Float32Array, s: ConvSpec, x: Activations, oh: number, ow: number, dIn: Float32Array): void {
  const { batch: B, height: H, width: W } = x;
  const k = s.kernel;
  const n = B * oh * ow;
  for (let c = 0; c < x.channels; c += 1) {
    for (let ky = 0; ky < k; ky += 1) {
      const offY = ky * s.dilation - s.pad;
      const [y0, y1] = validRange(oh, H, s.stride, offY);
      for (let kx = 0; kx < k; kx += 1) {
        const offX = kx * s.dilation - s.pad;
        const [x0, x1] = validRange(ow, W, s.stride, offX);
        const row = ((c * k + ky) * k + kx) * n;
        for (let b = 0; b < B; b += 1) {
          const plane = (c * B + b) * H * W;
          const src = row + b * oh * ow;
          for (let oy = y0; oy < y1; oy += 1) {
            const d = plane + (oy * s.stride + offY) * W + offX;
            const r = src + oy * ow;
            for (let ox = x0; ox < x1; ox += 1) dIn[d + ox * s.stride] = (dIn[d + ox * s.stride] as number) + (dCols[r + ox] as number);
          }
        }
      }
    }
  }
}
