import { buildModel, type DenseTensor, type NodeSpec } from '../../onnx/builder.js';
import type { ConvSpec } from './conv2d.js';

/**
 * Training a chain of convolutions (Conv, ReLU, Conv, ReLU, ..., Conv) with ONNX Runtime as
 * the arithmetic engine: onnxruntime-node has no training API, but a gradient is itself a
 * graph of ordinary operators, so we write it down here and run it like any model.
 * ONNX Runtime's convolutions (MLAS, vectorised) are 10-30x faster than our TypeScript loops
 * (conv2d.ts, which stays as the reference the tests check these graphs against).
 *
 * Forward graph: inputs `x` [B, C, H, W], `w<i>`, `b<i>`; outputs `head` and the ReLU outputs
 * `a<i>` (what the backward pass needs).
 * Backward graph: inputs `x`, `a<i>`, `w<i>`, `dHead`; outputs `gw<i>`, `gb<i>`:
 *   gb = ReduceSum(dz) over batch and space;
 *   gw = the correlation of the layer's input with dz, as one Conv with the batch as channels
 *        (Conv(x^T, dz^T, strides = dilation, dilations = stride)), cut to the kernel's size;
 *   dx = ConvTranspose(dz, w) with the forward's strides, pads and dilations, then times
 *        Sign(a) (a ReLU's output is >= 0, so its sign is its derivative).
 * The batch dimension is symbolic, so the last, shorter batch of an epoch runs in the same session.
 */
export interface ChainShape {
  readonly layers: readonly ConvSpec[];
  readonly height: number;
  readonly width: number;
}

const outSize = (size: number, s: ConvSpec): number => Math.floor((size + 2 * s.pad - s.dilation * (s.kernel - 1) - 1) / s.stride) + 1;

/** Input sizes of each layer, and the head's size at the end. */
export function chainSizes(shape: ChainShape): { height: number; width: number }[] {
  const sizes = [{ height: shape.height, width: shape.width }];
  for (const s of shape.layers) {
    const last = sizes[sizes.length - 1] as { height: number; width: number };
    sizes.push({ height: outSize(last.height, s), width: outSize(last.width, s) });
  }
  return sizes;
}

const convAttributes = (s: ConvSpec): Record<string, number[]> => ({ kernel_shape: [s.kernel, s.kernel], strides: [s.stride, s.stride], dilations: [s.dilation, s.dilation], pads: [s.pad, s.pad, s.pad, s.pad] });

function weightInputs(layers: readonly ConvSpec[], bias: boolean): { name: string; dims: number[] }[] {
  return layers.flatMap((s, i) => [{ name: `w${i}`, dims: [s.outChannels, s.inChannels, s.kernel, s.kernel] }, ...(bias ? [{ name: `b${i}`, dims: [s.outChannels] }] : [])]);
}

export function forwardGraph(shape: ChainShape): Uint8Array {
  const { layers } = shape;
  const sizes = chainSizes(shape);
  const nodes: NodeSpec[] = [];
  let x = 'x';
  layers.forEach((s, i) => {
    const last = i === layers.length - 1;
    const z = last ? 'head' : `z${i}`;
    nodes.push({ op: 'Conv', inputs: [x, `w${i}`, `b${i}`], outputs: [z], attributes: convAttributes(s) });
    if (!last) {
      nodes.push({ op: 'Relu', inputs: [z], outputs: [`a${i}`] });
      x = `a${i}`;
    }
  });
  const dims = (i: number, c: number): (number | string)[] => ['batch', c, (sizes[i] as { height: number }).height, (sizes[i] as { width: number }).width];
  const head = layers[layers.length - 1] as ConvSpec;
  return buildModel({
    name: 'conv-chain-forward',
    inputs: [{ name: 'x', dims: dims(0, (layers[0] as ConvSpec).inChannels) }, ...weightInputs(layers, true)],
    outputs: [{ name: 'head', dims: dims(layers.length, head.outChannels) }, ...layers.slice(0, -1).map((s, i) => ({ name: `a${i}`, dims: dims(i + 1, s.outChannels) }))],
    initializers: [],
    nodes,
  });
}

export function backwardGraph(shape: ChainShape): Uint8Array {
  const { layers } = shape;
  const sizes = chainSizes(shape);
  const nodes: NodeSpec[] = [];
  const int64 = (name: string, values: number[]): DenseTensor => ({ name, dims: [values.length], data: values, type: 'int64' });
  const initializers: DenseTensor[] = [int64('sumAxes', [0, 2, 3]), int64('kernelStart', [0, 0]), int64('kernelAxes', [2, 3])];
  const outputs: { name: string; dims: number[] }[] = [];
  let dz = 'dHead';
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const s = layers[i] as ConvSpec;
    const input = i === 0 ? 'x' : `a${i - 1}`;
    const inSize = sizes[i] as { height: number; width: number };
    const outSz = sizes[i + 1] as { height: number; width: number };
    nodes.push({ op: 'ReduceSum', inputs: [dz, 'sumAxes'], outputs: [`gb${i}`], attributes: { keepdims: 0 } });
    // Weight gradient: batch and channels swapped, the layer's stride becomes the dilation.
    nodes.push({ op: 'Transpose', inputs: [input], outputs: [`inT${i}`], attributes: { perm: [1, 0, 2, 3] } });
    nodes.push({ op: 'Transpose', inputs: [dz], outputs: [`dzT${i}`], attributes: { perm: [1, 0, 2, 3] } });
    nodes.push({ op: 'Conv', inputs: [`inT${i}`, `dzT${i}`], outputs: [`corr${i}`], attributes: { kernel_shape: [outSz.height, outSz.width], strides: [s.dilation, s.dilation], dilations: [s.stride, s.stride], pads: [s.pad, s.pad, s.pad, s.pad] } });
    const fullH = Math.floor((inSize.height + 2 * s.pad - s.stride * (outSz.height - 1) - 1) / s.dilation) + 1;
    const fullW = Math.floor((inSize.width + 2 * s.pad - s.stride * (outSz.width - 1) - 1) / s.dilation) + 1;
    let corr = `corr${i}`;
    if (fullH !== s.kernel || fullW !== s.kernel) {
      initializers.push(int64(`kernelEnd${i}`, [s.kernel, s.kernel]));
      nodes.push({ op: 'Slice', inputs: [corr, 'kernelStart', `kernelEnd${i}`, 'kernelAxes'], outputs: [`corrCut${i}`] });
      corr = `corrCut${i}`;
    }
    nodes.push({ op: 'Transpose', inputs: [corr], outputs: [`gw${i}`], attributes: { perm: [1, 0, 2, 3] } });
    outputs.push({ name: `gw${i}`, dims: [s.outChannels, s.inChannels, s.kernel, s.kernel] }, { name: `gb${i}`, dims: [s.outChannels] });
    if (i === 0) break;
    // Input gradient: the transposed convolution, padded at the end to the input's size.
    const padH = inSize.height - (s.stride * (outSz.height - 1) + s.dilation * (s.kernel - 1) + 1 - 2 * s.pad);
    const padW = inSize.width - (s.stride * (outSz.width - 1) + s.dilation * (s.kernel - 1) + 1 - 2 * s.pad);
    nodes.push({ op: 'ConvTranspose', inputs: [dz, `w${i}`], outputs: [`da${i - 1}`], attributes: { ...convAttributes(s), output_padding: [padH, padW] } });
    nodes.push({ op: 'Sign', inputs: [input], outputs: [`mask${i - 1}`] });
    nodes.push({ op: 'Mul', inputs: [`da${i - 1}`, `mask${i - 1}`], outputs: [`dz${i - 1}`] });
    dz = `dz${i - 1}`;
  }
  const dims = (i: number, c: number): (number | string)[] => ['batch', c, (sizes[i] as { height: number }).height, (sizes[i] as { width: number }).width];
  const head = layers[layers.length - 1] as ConvSpec;
  return buildModel({
    name: 'conv-chain-backward',
    inputs: [
      { name: 'x', dims: dims(0, (layers[0] as ConvSpec).inChannels) },
      ...layers.slice(0, -1).map((s, i) => ({ name: `a${i}`, dims: dims(i + 1, s.outChannels) })),
      // The first layer's weights are not needed: nothing below it learns.
      ...weightInputs(layers, false).slice(1),
      { name: 'dHead', dims: dims(layers.length, head.outChannels) },
    ],
    outputs,
    initializers,
    nodes,
  });
}
