import { buildModel } from '../../onnx/builder.js';
import { centringFolded, type Mlp } from '../../train/mlp.js';
import { CLASSIFIER_CLASSES, CROP, CROP_VALUES } from './architecture.js';

/**
 * The crop classifier as ONNX: `crop` [N, 1, 32, 32] (0..1) -> Flatten -> Gemm, Tanh (the
 * crop's mean subtraction folded into the first Gemm) -> ... -> Softmax -> `probabilities` [N, 2].
 */
export function exportClassifier(model: Mlp, metadata: Readonly<Record<string, string>>): Uint8Array {
  const layers = model.layers;
  if ((layers[0] as { inputs: number }).inputs !== CROP_VALUES) throw new RangeError(`classifier: expected ${CROP_VALUES} inputs`);
  const nodes: { op: string; inputs: string[]; outputs: string[]; attributes?: Record<string, number> }[] = [{ op: 'Flatten', inputs: ['crop'], outputs: ['x'], attributes: { axis: 1 } }];
  const initializers: { name: string; dims: number[]; data: Float32Array }[] = [];
  let x = 'x';
  layers.forEach((layer, l) => {
    const w = l === 0 ? centringFolded(layer) : Float32Array.from(layer.w);
    initializers.push({ name: `w${l}`, dims: [layer.outputs, layer.inputs], data: w }, { name: `b${l}`, dims: [layer.outputs], data: Float32Array.from(layer.b) });
    const last = l === layers.length - 1;
    nodes.push({ op: 'Gemm', inputs: [x, `w${l}`, `b${l}`], outputs: [last ? 'logits' : `h${l}`], attributes: { transB: 1 } });
    if (!last) {
      nodes.push({ op: 'Tanh', inputs: [`h${l}`], outputs: [`a${l}`] });
      x = `a${l}`;
    }
  });
  nodes.push({ op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: 1 } });
  return buildModel({
    name: 'edgewise-defect-classifier',
    inputs: [{ name: 'crop', dims: ['n', 1, CROP, CROP] }],
    outputs: [{ name: 'probabilities', dims: ['n', CLASSIFIER_CLASSES.length] }],
    initializers,
    nodes,
    metadata,
  });
}
