import type { DenseTensor, NodeSpec } from '../../../models/onnx/builder.js';
import { seededRandom } from '../../../models/train/random.js';

type Attributes = NonNullable<NodeSpec['attributes']>;

/** First and second moment of a tensor's values, tracked through the graph to scale the weights. */
interface Moments {
  readonly mean: number;
  readonly m2: number;
}

/** SiLU of a standard normal value: E[silu(z)] and E[silu(z)^2] (numerical integration). */
const SILU: Moments = { mean: 0.2066, m2: 0.3558 };
/**
 * The same for the max of 25, 81 and 169 of them: SPPF's chained 5x5 max pools see 5x5, 9x9
 * and 13x13 windows. Independent values assumed: an upper bound (neighbours are correlated).
 */
const SILU_MAX: readonly Moments[] = [
  { mean: 1.731, m2: 3.295 },
  { mean: 2.235, m2: 5.224 },
  { mean: 2.517, m2: 6.533 },
];

/**
 * Standard deviation each convolution's output channels are scaled to (for the tracked input
 * moments). A little under 1: the tracking assumes independent values, which activations are
 * not, and at 1.0 some seeds still grew 50-fold through the network on a camera frame while
 * others faded; at 0.9 every seed tried fades gently, on camera frames and on noise alike.
 */
const CONV_STD = 0.9;

/**
 * Writes the nodes of Ultralytics' building blocks (Conv, Bottleneck, C2f, SPPF, nearest
 * upsampling) as `yolo export format=onnx` emits them after `model.fuse()`: BatchNorm folded
 * into each convolution's weights and bias, SiLU as `x * Sigmoid(x)`, C2f's `chunk(2, 1)` as a
 * Split. Tensors are named after the PyTorch modules (`model.4.m.1.cv2.conv.weight`), as in an
 * export.
 *
 * The weights are seeded random, scaled the way folded BatchNorm leaves a trained model: each
 * output channel's weights are normalised for its input's tracked mean and second moment
 * (CONV_STD), and the bias takes the channel's mean out. Plain He scaling did not hold up:
 * through some 50 convolutions, residual adds and SiLU's non-zero mean the activations died
 * out or blew up to 1e4 depending on the seed. (BatchNorm statistics measured on a calibration
 * image were tried too: the activations then blew up on any other kind of image.) The values
 * stay far from denormals (which slow a CPU) and from overflow; as with any random weights,
 * the outputs depend on the input only a little.
 */
export class GraphWriter {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: DenseTensor[] = [];
  /** Trainable values as Ultralytics counts them on the fused model (`model.info()` after `fuse()`). */
  parameters = 0;
  private readonly random: () => number;
  private readonly constants = new Map<string, string>();
  private readonly moments = new Map<string, Moments>();

  /** `input`: the graph input's name and the moments of its values (0..1 pixels: about mean 0.5, E[x^2] 1/3). */
  constructor(seed: number, input: { readonly name: string; readonly moments: Moments }) {
    this.random = seededRandom(seed);
    this.moments.set(input.name, input.moments);
  }

  private momentsOf(x: string): Moments {
    const m = this.moments.get(x);
    if (m === undefined) throw new Error(`yolov8 graph: no moments for ${x}`);
    return m;
  }

  private with(x: string, m: Moments): string {
    this.moments.set(x, m);
    return x;
  }

  /** One node with one output named `out`. */
  node(op: string, inputs: readonly string[], out: string, attributes?: Attributes): string {
    this.nodes.push({ op, inputs, outputs: [out], ...(attributes === undefined ? {} : { attributes }) });
    return out;
  }

  /** An int64 or float constant (shapes, split sizes, scales), shared by value: not a parameter. */
  constant(dims: readonly number[], data: readonly number[], type: 'int64' | 'float32'): string {
    const key = `${type}:${dims.join('x')}:${data.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `const_${this.constants.size}`;
      this.initializers.push({ name, dims, data, type });
      this.constants.set(key, name);
    }
    return name;
  }

  /** A parameter tensor (counted). */
  parameter(name: string, dims: readonly number[], data: Float32Array): string {
    this.initializers.push({ name, dims, data });
    this.parameters += data.length;
    return name;
  }

  /**
   * `nn.Conv2d` with a bias, padding k // 2 as Ultralytics' autopad: uniform random weights,
   * each output channel's scaled (BatchNorm folded) so that its random part has standard
   * deviation `std` for this input, and centred on `shift` (default: a small random beta).
   */
  conv2d(x: string, path: string, cIn: number, cOut: number, k: number, stride: number, o: { std?: number; shift?: Float32Array } = {}): string {
    const fanIn = cIn * k * k;
    const std = o.std ?? CONV_STD;
    const input = this.momentsOf(x);
    const variance = Math.max(input.m2 - input.mean * input.mean, 1e-6);
    const weights = new Float32Array(cOut * fanIn);
    const bias = o.shift === undefined ? new Float32Array(cOut).map(() => (2 * this.random() - 1) * 0.1) : Float32Array.from(o.shift);
    for (let j = 0; j < cOut; j += 1) {
      const row = weights.subarray(j * fanIn, (j + 1) * fanIn);
      let norm = 0;
      for (let i = 0; i < fanIn; i += 1) {
        const v = 2 * this.random() - 1;
        row[i] = v;
        norm += v * v;
      }
      const scale = std / Math.sqrt(norm * variance);
      let sum = 0;
      for (let i = 0; i < fanIn; i += 1) sum += row[i] = (row[i] as number) * scale;
      bias[j] = (bias[j] as number) - input.mean * sum;
    }
    const w = this.parameter(`${path}.weight`, [cOut, cIn, k, k], weights);
    const b = this.parameter(`${path}.bias`, [cOut], bias);
    const p = Math.floor(k / 2);
    const y = this.node('Conv', [x, w, b], `/${path.replaceAll('.', '/')}/Conv_output_0`, { dilations: [1, 1], group: 1, kernel_shape: [k, k], pads: [p, p, p, p], strides: [stride, stride] });
    return this.with(y, { mean: 0, m2: std * std });
  }

  /** Ultralytics `Conv`: Conv2d + BatchNorm2d (folded) + SiLU. */
  conv(x: string, path: string, cIn: number, cOut: number, k: number, stride: number): string {
    const y = this.conv2d(x, `${path}.conv`, cIn, cOut, k, stride);
    const dir = `/${path.replaceAll('.', '/')}/act`;
    const s = this.node('Sigmoid', [y], `${dir}/Sigmoid_output_0`);
    return this.with(this.node('Mul', [y, s], `${dir}/Mul_output_0`), SILU);
  }

  /** `C2f(c1, c2, n, shortcut)`: cv1 to 2c, split in two, n Bottlenecks (3x3, 3x3, e=1) on the last half, concat all, cv2. */
  c2f(x: string, path: string, c1: number, c2: number, n: number, shortcut: boolean): string {
    const c = Math.floor(c2 * 0.5);
    const y = this.conv(x, `${path}.cv1`, c1, 2 * c, 1, 1);
    const dir = `/${path.replaceAll('.', '/')}`;
    const halves = [`${dir}/Split_output_0`, `${dir}/Split_output_1`] as const;
    this.nodes.push({ op: 'Split', inputs: [y, this.constant([2], [c, c], 'int64')], outputs: halves, attributes: { axis: 1 } });
    const parts: string[] = halves.map((h) => this.with(h, this.momentsOf(y)));
    let last = halves[1] as string;
    for (let i = 0; i < n; i += 1) {
      const m = `${path}.m.${i}`;
      const t = this.conv(this.conv(last, `${m}.cv1`, c, c, 3, 1), `${m}.cv2`, c, c, 3, 1);
      if (shortcut) {
        // Independent summands: E[(a + b)^2] = E[a^2] + E[b^2] + 2 E[a] E[b].
        const [a, b] = [this.momentsOf(last), this.momentsOf(t)];
        last = this.with(this.node('Add', [last, t], `/${m.replaceAll('.', '/')}/Add_output_0`), { mean: a.mean + b.mean, m2: a.m2 + b.m2 + 2 * a.mean * b.mean });
      } else last = t;
      parts.push(last);
    }
    return this.conv(this.concat(parts, path, parts.map(() => c)), `${path}.cv2`, (2 + n) * c, c2, 1, 1);
  }

  /** `SPPF(c1, c2, k)`: cv1 to c1 / 2, three chained k x k max pools (stride 1), concat the four, cv2. */
  sppf(x: string, path: string, c1: number, c2: number, k: number): string {
    const half = Math.floor(c1 / 2);
    const dir = `/${path.replaceAll('.', '/')}`;
    const parts = [this.conv(x, `${path}.cv1`, c1, half, 1, 1)];
    const p = Math.floor(k / 2);
    for (let i = 0; i < 3; i += 1) {
      const prev = parts[i] as string;
      const pooled = this.node('MaxPool', [prev], `${dir}/m/MaxPool${i === 0 ? '' : `_${i}`}_output_0`, { ceil_mode: 0, dilations: [1, 1], kernel_shape: [k, k], pads: [p, p, p, p], strides: [1, 1] });
      parts.push(this.with(pooled, SILU_MAX[i] as Moments));
    }
    return this.conv(this.concat(parts, path, parts.map(() => half)), `${path}.cv2`, 4 * half, c2, 1, 1);
  }

  /** `nn.Upsample(None, 2, 'nearest')` as PyTorch exports it: Resize with scales, asymmetric coordinates, floor. */
  upsample(x: string, path: string): string {
    const scales = this.constant([4], [1, 1, 2, 2], 'float32');
    const y = this.node('Resize', [x, '', scales], `/${path.replaceAll('.', '/')}/Resize_output_0`, { coordinate_transformation_mode: 'asymmetric', cubic_coeff_a: -0.75, mode: 'nearest', nearest_mode: 'floor' });
    return this.with(y, this.momentsOf(x));
  }

  /** Concat along channels; `channels` of each part weigh its moments. */
  concat(parts: readonly string[], path: string, channels: readonly number[]): string {
    const y = this.node('Concat', parts, `/${path.replaceAll('.', '/')}/Concat_output_0`, { axis: 1 });
    const total = channels.reduce((a, b) => a + b, 0);
    const avg = (f: (m: Moments) => number): number => parts.reduce((sum, x, i) => sum + f(this.momentsOf(x)) * (channels[i] as number), 0) / total;
    return this.with(y, { mean: avg((m) => m.mean), m2: avg((m) => m.m2) });
  }
}
