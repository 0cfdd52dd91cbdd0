import { buildModel, type DenseTensor, type NodeSpec } from '../../onnx/builder.js';
import type { Mlp } from '../../train/mlp.js';
import { featureCount, frontEndGraph, FRONT_END_INPUT, FRONT_END_OUTPUT, type FrontEndOptions } from './front-end.js';

/** The names the vision stage reads: its input (any name works) and the `classification` layout's one output [1, C]. */
export const CLASSIFIER_INPUT = FRONT_END_INPUT;
export const CLASSIFIER_OUTPUT = 'probabilities';

/** How the head saw the features: standardised per feature, (f - mean) / std, with the training set's statistics. */
export interface FeatureScaling {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/** The front end alone, `image` [N, 3, S, S] -> `features` [N, F]: training runs it on its images. */
export function exportFrontEnd(o: FrontEndOptions): Uint8Array {
  const { nodes, initializers } = frontEndGraph(o);
  return buildModel({
    name: 'edgewise-image-features',
    inputs: [{ name: FRONT_END_INPUT, dims: ['n', 3, o.size, o.size] }],
    outputs: [{ name: FRONT_END_OUTPUT, dims: ['n', featureCount(o)] }],
    initializers,
    nodes,
  });
}

/**
 * The whole classifier: the front end, then the trained head (Gemm, Tanh ... Gemm) with the
 * feature standardisation folded into its first layer (W (f - m) / s + b = (W / s) f + b - W m / s),
 * then Softmax: `probabilities` [N, C], what the vision stage's `classification` decoder reads.
 */
export function exportImageClassifier(o: FrontEndOptions, head: Mlp, scaling: FeatureScaling, classes: number, metadata: Readonly<Record<string, string>>): Uint8Array {
  const features = featureCount(o);
  const layers = head.layers;
  const first = layers[0];
  const last = layers[layers.length - 1];
  if (first === undefined || last === undefined || first.inputs !== features || last.outputs !== classes || scaling.mean.length !== features || scaling.std.length !== features) {
    throw new RangeError(`image classifier: a head of ${features} inputs and ${classes} outputs, with as many feature statistics, was expected`);
  }
  const { nodes, initializers } = frontEndGraph(o);
  const allNodes: NodeSpec[] = [...nodes];
  const allInitializers: DenseTensor[] = [...initializers];
  let x = FRONT_END_OUTPUT;
  layers.forEach((layer, l) => {
    const w = Float32Array.from(layer.w);
    const b = Float32Array.from(layer.b);
    if (l === 0) {
      for (let out = 0; out < layer.outputs; out += 1) {
        let shift = 0;
        for (let i = 0; i < layer.inputs; i += 1) {
          const k = out * layer.inputs + i;
          const scaled = (layer.w[k] as number) / (scaling.std[i] as number);
          w[k] = scaled;
          shift += scaled * (scaling.mean[i] as number);
        }
        b[out] = (layer.b[out] as number) - shift;
      }
    }
    allInitializers.push({ name: `head_w${l}`, dims: [layer.outputs, layer.inputs], data: w }, { name: `head_b${l}`, dims: [layer.outputs], data: b });
    const isLast = l === layers.length - 1;
    allNodes.push({ op: 'Gemm', inputs: [x, `head_w${l}`, `head_b${l}`], outputs: [isLast ? 'logits' : `head_h${l}`], attributes: { transB: 1 } });
    if (!isLast) {
      allNodes.push({ op: 'Tanh', inputs: [`head_h${l}`], outputs: [`head_a${l}`] });
      x = `head_a${l}`;
    }
  });
  allNodes.push({ op: 'Softmax', inputs: ['logits'], outputs: [CLASSIFIER_OUTPUT], attributes: { axis: 1 } });
  return buildModel({
    name: 'edgewise-image-classifier',
    // A batch of 1 on the gateway; the trainer and the evaluator may run more.
    inputs: [{ name: CLASSIFIER_INPUT, dims: ['n', 3, o.size, o.size] }],
    outputs: [{ name: CLASSIFIER_OUTPUT, dims: ['n', classes] }],
    initializers: allInitializers,
    nodes: allNodes,
    metadata,
  });
}
