import { buildModel, type NodeSpec } from '../../onnx/builder.js';
import type { Mlp } from '../../train/mlp.js';

/**
 * The trained network as an ONNX graph: Gemm (x * W^T + b) per layer, Tanh between them,
 * input `x` [batch, dims] and output `reconstruction` [batch, dims]. `metadata` travels in
 * the model file, so a model is usable from its bytes alone.
 */
export function exportAutoencoder(model: Mlp, metadata: Readonly<Record<string, string>>): Uint8Array {
  const nodes: NodeSpec[] = [];
  let input = 'x';
  model.layers.forEach((layer, l) => {
    const last = l === model.layers.length - 1;
    const gemmOut = last ? 'reconstruction' : `h${l}`;
    nodes.push({ op: 'Gemm', inputs: [input, `w${l}`, `b${l}`], outputs: [gemmOut], attributes: { transB: 1 } });
    if (!last) {
      nodes.push({ op: 'Tanh', inputs: [gemmOut], outputs: [`a${l}`] });
      input = `a${l}`;
    }
  });
  const dims = (model.layers[0] as { inputs: number }).inputs;
  return buildModel({
    name: 'edgewise-autoencoder',
    inputs: [{ name: 'x', dims: ['batch', dims] }],
    outputs: [{ name: 'reconstruction', dims: ['batch', dims] }],
    initializers: model.layers.flatMap((layer, l) => [
      { name: `w${l}`, dims: [layer.outputs, layer.inputs], data: Float32Array.from(layer.w) },
      { name: `b${l}`, dims: [layer.outputs], data: Float32Array.from(layer.b) },
    ]),
    nodes,
    metadata,
  });
}
