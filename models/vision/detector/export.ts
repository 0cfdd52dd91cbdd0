import { buildModel } from '../../onnx/builder.js';
import { centringFolded, type Mlp } from '../../train/mlp.js';
import { CELLS, FIELD, GRID, OUTPUTS, PATCH, SIZE_UNIT, STRIDE, DETECTOR_INPUT } from './architecture.js';

/**
 * The trained per-cell MLP as an ONNX graph on the whole image: layer 1 is a Conv with
 * kernel 48, stride 16, padding 16 (the MLP's first layer reshaped), the others are 1x1
 * Convs (with the patch centring folded into layer 1); then cell offsets and sizes become input pixels and the class logits
 * probabilities, and the result is reshaped to YOLOv8's [1, 4 + classes, cells].
 * Scale factors are folded into the last layer's weights; the cell grid is a constant.
 */
export function exportDetector(model: Mlp, metadata: Readonly<Record<string, string>>): Uint8Array {
  const layers = model.layers;
  if ((layers[0] as { inputs: number }).inputs !== PATCH || (layers[layers.length - 1] as { outputs: number }).outputs !== OUTPUTS) throw new RangeError(`detector: expected ${PATCH} inputs and ${OUTPUTS} outputs`);
  const nodes: { op: string; inputs: string[]; outputs: string[]; attributes?: Record<string, number | number[]> }[] = [];
  const initializers: { name: string; dims: number[]; data: Float32Array | number[]; type?: 'int64' }[] = [];
  let x = 'images';
  layers.forEach((layer, l) => {
    const last = l === layers.length - 1;
    // Patch centring folded into the first layer.
    const w = l === 0 ? centringFolded(layer) : Float32Array.from(layer.w);
    const b = Float32Array.from(layer.b);
    if (last) {
      // cx = STRIDE * (gx + t0), cy = STRIDE * (gy + t1), w = SIZE_UNIT * t2, h = SIZE_UNIT * t3.
      const scale = [STRIDE, STRIDE, SIZE_UNIT, SIZE_UNIT];
      scale.forEach((s, o) => {
        for (let i = 0; i < layer.inputs; i += 1) w[o * layer.inputs + i] = (w[o * layer.inputs + i] as number) * s;
        b[o] = (b[o] as number) * s;
      });
    }
    const first = l === 0;
    initializers.push({ name: `w${l}`, dims: first ? [layer.outputs, 1, FIELD, FIELD] : [layer.outputs, layer.inputs, 1, 1], data: w }, { name: `b${l}`, dims: [layer.outputs], data: b });
    const out = last ? 'raw' : `c${l}`;
    nodes.push({ op: 'Conv', inputs: [x, `w${l}`, `b${l}`], outputs: [out], attributes: first ? { kernel_shape: [FIELD, FIELD], strides: [STRIDE, STRIDE], pads: [STRIDE, STRIDE, STRIDE, STRIDE] } : { kernel_shape: [1, 1] } });
    if (!last) {
      nodes.push({ op: 'Tanh', inputs: [out], outputs: [`a${l}`] });
      x = `a${l}`;
    }
  });
  const grid = new Float32Array(OUTPUTS * CELLS);
  for (let gy = 0; gy < GRID.height; gy += 1) {
    for (let gx = 0; gx < GRID.width; gx += 1) {
      grid[gy * GRID.width + gx] = gx * STRIDE;
      grid[CELLS + gy * GRID.width + gx] = gy * STRIDE;
    }
  }
  const linear = Array.from({ length: OUTPUTS }, (_, c) => (c < 4 ? 1 : 0));
  initializers.push(
    { name: 'grid', dims: [1, OUTPUTS, GRID.height, GRID.width], data: grid },
    { name: 'linearMask', dims: [1, OUTPUTS, 1, 1], data: linear },
    { name: 'sigmoidMask', dims: [1, OUTPUTS, 1, 1], data: linear.map((v) => 1 - v) },
    { name: 'shape', dims: [3], data: [1, OUTPUTS, CELLS], type: 'int64' },
  );
  nodes.push(
    { op: 'Sigmoid', inputs: ['raw'], outputs: ['prob'] },
    { op: 'Mul', inputs: ['raw', 'linearMask'], outputs: ['boxPart'] },
    { op: 'Mul', inputs: ['prob', 'sigmoidMask'], outputs: ['classPart'] },
    { op: 'Add', inputs: ['boxPart', 'classPart'], outputs: ['merged'] },
    { op: 'Add', inputs: ['merged', 'grid'], outputs: ['decoded'] },
    { op: 'Reshape', inputs: ['decoded', 'shape'], outputs: ['output0'] },
  );
  return buildModel({
    name: 'edgewise-defect-detector',
    inputs: [{ name: 'images', dims: [1, 1, DETECTOR_INPUT.height, DETECTOR_INPUT.width] }],
    outputs: [{ name: 'output0', dims: [1, OUTPUTS, CELLS] }],
    initializers,
    nodes,
    metadata,
  });
}
