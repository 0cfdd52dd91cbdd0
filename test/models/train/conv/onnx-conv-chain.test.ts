import { afterAll, describe, expect, it } from 'vitest';
import { OnnxBackend } from '../../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { Conv2d, type Activations, type ConvSpec } from '../../../../models/train/conv/conv2d.js';
import { OnnxConvChain } from '../../../../models/train/conv/onnx-conv-chain.js';
import { seededRandom } from '../../../../models/train/random.js';

const backend = new OnnxBackend();

/** [B, C, H, W] <-> [C, B, H, W]: the ONNX graphs are batch-first, the TypeScript layers channel-first. */
function swapBatchAndChannels(data: Float32Array, first: number, second: number, plane: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < first; a += 1) for (let b = 0; b < second; b += 1) out.set(data.subarray((a * second + b) * plane, (a * second + b + 1) * plane), (b * first + a) * plane);
  return out;
}

/** The TypeScript reference: the same chain with ReLU between, forward and backward (conv2d.ts, itself checked against finite differences). */
function referenceGradients(layers: Conv2d[], x: Activations, dHead: Float32Array): Float32Array {
  let a = x;
  layers.forEach((l, i) => {
    a = l.forward(a);
    if (i < layers.length - 1) for (let k = 0; k < a.data.length; k += 1) if ((a.data[k] as number) < 0) a.data[k] = 0;
  });
  const head = Float32Array.from(a.data);
  let d: Float32Array | undefined = dHead;
  for (let i = layers.length - 1; i >= 0 && d !== undefined; i -= 1) {
    d = (layers[i] as Conv2d).backward(d, i > 0);
    if (d === undefined) break;
    const below = (layers[i - 1] as Conv2d).lastOutput();
    for (let k = 0; k < d.length; k += 1) if ((below[k] as number) <= 0) d[k] = 0;
  }
  return head;
}

const spec = (inChannels: number, outChannels: number, kernel: number, stride: number, dilation: number): ConvSpec => ({ inChannels, outChannels, kernel, stride, dilation, pad: (dilation * (kernel - 1)) / 2 });

describe('OnnxConvChain', () => {
  afterAll(() => undefined);

  for (const [name, specs, size] of [
    ['strided, dilated and 1x1 layers on an even input', [spec(3, 4, 3, 2, 1), spec(4, 6, 3, 2, 1), spec(6, 6, 3, 1, 2), spec(6, 5, 1, 1, 1)], 24],
    ['an odd input size (the transposed convolution needs its output padding)', [spec(2, 3, 3, 2, 1), spec(3, 4, 3, 1, 2), spec(4, 3, 1, 1, 1)], 13],
  ] as const) {
    it(`gives the head and the gradients the TypeScript reference gives: ${name}`, async () => {
      const random = seededRandom(size);
      const make = (): Conv2d[] => specs.map((s) => new Conv2d(s));
      const onnxLayers = make();
      const tsLayers = make();
      onnxLayers.forEach((l, i) => {
        l.initialise(random);
        l.bias.forEach((_, k) => (l.bias[k] = random() * 0.2 - 0.1));
        (tsLayers[i] as Conv2d).weight.set(l.weight);
        (tsLayers[i] as Conv2d).bias.set(l.bias);
      });
      const batch = 3;
      const channels = (specs[0] as ConvSpec).inChannels;
      const xNchw = Float32Array.from({ length: batch * channels * size * size }, () => random() * 2 - 1);
      const chain = await OnnxConvChain.load(onnxLayers, size, size, backend);
      try {
        const head = await chain.forward(xNchw, batch);
        const { height: gh, width: gw } = chain.headSize;
        const outChannels = (specs[specs.length - 1] as ConvSpec).outChannels;
        expect(head.dims).toEqual([batch, outChannels, gh, gw]);
        const dHeadNchw = Float32Array.from({ length: head.data.length }, () => random() - 0.5);
        await chain.backward(dHeadNchw);
        const tsHead = referenceGradients(tsLayers, { data: swapBatchAndChannels(xNchw, batch, channels, size * size), channels, batch, height: size, width: size }, swapBatchAndChannels(dHeadNchw, batch, outChannels, gh * gw));
        const headCnhw = swapBatchAndChannels(head.data, batch, outChannels, gh * gw);
        headCnhw.forEach((v, i) => expect(v).toBeCloseTo(tsHead[i] as number, 4));
        onnxLayers.forEach((l, i) => {
          const ref = tsLayers[i] as Conv2d;
          l.gradWeight.forEach((g, k) => expect(g, `gw${i}[${k}]`).toBeCloseTo(ref.gradWeight[k] as number, 3));
          l.gradBias.forEach((g, k) => expect(g, `gb${i}[${k}]`).toBeCloseTo(ref.gradBias[k] as number, 3));
        });
      } finally {
        await chain.close();
      }
    });
  }
});
