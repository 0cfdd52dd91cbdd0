import { buildModel, type DenseTensor, type NodeSpec } from '../../onnx/builder.js';
import { HEAD_OBJECT, INPUT_MEAN, INPUT_STD, STRIDE, type SmallDetectorNet } from './architecture.js';

export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'output0';

/**
 * The trained network as ONNX with its decoding inside, so the output is exactly YOLOv8's
 * `[1, 4 + C, cells]` (cx, cy, w, h in input pixels, then C class scores in 0..1) and the gateway's
 * vision stage, YOLO decoder, NMS and tracker run it as they run an Ultralytics export. A class
 * score is objectness times the class's softmax share, and only where objectness peaks among
 * its 3x3 neighbours (CenterNet's peak picking: a small defect's neighbours see most of it, and
 * NMS alone would need their boxes to agree within IoU 0.45 to merge them).
 * The head is sliced rather than masked: exp() of a class logit can overflow, and inf * 0 is NaN.
 * The input is the gateway's plain 0..1 RGB: the network's own normalisation, (v - mean) / std,
 * is the graph's first two nodes, so a stage runs the model with its default mean and std and
 * a config cannot get them wrong (the card says mean 0, std 1).
 */
export function exportSmallDetector(net: SmallDetectorNet, inputSize: number, metadata: Readonly<Record<string, string>>): Uint8Array {
  if (inputSize % STRIDE !== 0) throw new RangeError(`small detector: input size ${inputSize} is not a multiple of ${STRIDE}`);
  const grid = inputSize / STRIDE;
  const cells = grid * grid;
  const C = net.classes;
  const initializers: DenseTensor[] = [];
  const nodes: NodeSpec[] = [];
  initializers.push({ name: 'inputMean', dims: [1, 3, 1, 1], data: [...INPUT_MEAN] }, { name: 'inputScale', dims: [1, 3, 1, 1], data: INPUT_STD.map((s) => 1 / s) });
  nodes.push({ op: 'Sub', inputs: [INPUT_NAME, 'inputMean'], outputs: ['centred'] }, { op: 'Mul', inputs: ['centred', 'inputScale'], outputs: ['normalised'] });
  let x = 'normalised';
  net.layers.forEach((layer, i) => {
    const s = layer.spec;
    initializers.push({ name: `w${i}`, dims: [s.outChannels, s.inChannels, s.kernel, s.kernel], data: layer.weight }, { name: `b${i}`, dims: [s.outChannels], data: layer.bias });
    const last = i === net.layers.length - 1;
    const out = last ? 'head' : `conv${i}`;
    nodes.push({ op: 'Conv', inputs: [x, `w${i}`, `b${i}`], outputs: [out], attributes: { kernel_shape: [s.kernel, s.kernel], strides: [s.stride, s.stride], dilations: [s.dilation, s.dilation], pads: [s.pad, s.pad, s.pad, s.pad] } });
    if (!last) {
      nodes.push({ op: 'Relu', inputs: [out], outputs: [`relu${i}`] });
      x = `relu${i}`;
    }
  });
  // Cell centres in input pixels: [1, 2, grid, grid] (x then y).
  const centres = new Float32Array(2 * cells);
  for (let gy = 0; gy < grid; gy += 1) {
    for (let gx = 0; gx < grid; gx += 1) {
      centres[gy * grid + gx] = (gx + 0.5) * STRIDE;
      centres[cells + gy * grid + gx] = (gy + 0.5) * STRIDE;
    }
  }
  const int64 = (name: string, values: number[]): DenseTensor => ({ name, dims: [values.length], data: values, type: 'int64' });
  initializers.push(
    { name: 'centres', dims: [1, 2, grid, grid], data: centres },
    { name: 'stride', dims: [1], data: [STRIDE] },
    int64('axis1', [1]),
    int64('at0', [0]),
    int64('at2', [2]),
    int64('at4', [4]),
    int64('at5', [HEAD_OBJECT + 1]),
    int64('atEnd', [HEAD_OBJECT + 1 + C]),
    int64('outShape', [1, 4 + C, cells]),
  );
  nodes.push(
    { op: 'Slice', inputs: ['head', 'at0', 'at2', 'axis1'], outputs: ['offsets'] },
    { op: 'Slice', inputs: ['head', 'at2', 'at4', 'axis1'], outputs: ['logSizes'] },
    { op: 'Slice', inputs: ['head', 'at4', 'at5', 'axis1'], outputs: ['objectLogit'] },
    { op: 'Slice', inputs: ['head', 'at5', 'atEnd', 'axis1'], outputs: ['classLogits'] },
    { op: 'Mul', inputs: ['offsets', 'stride'], outputs: ['offsetPixels'] },
    { op: 'Add', inputs: ['offsetPixels', 'centres'], outputs: ['xy'] },
    { op: 'Exp', inputs: ['logSizes'], outputs: ['sizeCells'] },
    { op: 'Mul', inputs: ['sizeCells', 'stride'], outputs: ['wh'] },
    { op: 'Sigmoid', inputs: ['objectLogit'], outputs: ['objectness'] },
    { op: 'MaxPool', inputs: ['objectness'], outputs: ['neighbourhoodMax'], attributes: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] } },
    { op: 'Equal', inputs: ['objectness', 'neighbourhoodMax'], outputs: ['isPeak'] },
    { op: 'Cast', inputs: ['isPeak'], outputs: ['peak'], attributes: { to: 1 } },
    { op: 'Mul', inputs: ['objectness', 'peak'], outputs: ['peakObjectness'] },
    { op: 'Softmax', inputs: ['classLogits'], outputs: ['classShares'], attributes: { axis: 1 } },
    { op: 'Mul', inputs: ['peakObjectness', 'classShares'], outputs: ['scores'] },
    { op: 'Concat', inputs: ['xy', 'wh', 'scores'], outputs: ['decoded'], attributes: { axis: 1 } },
    { op: 'Reshape', inputs: ['decoded', 'outShape'], outputs: [OUTPUT_NAME] },
  );
  return buildModel({
    name: 'edgewise-small-detector',
    inputs: [{ name: INPUT_NAME, dims: [1, 3, inputSize, inputSize] }],
    outputs: [{ name: OUTPUT_NAME, dims: [1, 4 + C, cells] }],
    initializers,
    nodes,
    metadata,
  });
}

/** The decoded output the ONNX model gives, computed from the network's head in TypeScript (for tests and checks): [4 + C, cells]. */
export function decodeHead(head: Float32Array, classes: number, grid: number): Float32Array {
  const cells = grid * grid;
  const out = new Float32Array((4 + classes) * cells);
  const objectness = new Float64Array(cells);
  for (let n = 0; n < cells; n += 1) objectness[n] = 1 / (1 + Math.exp(-(head[HEAD_OBJECT * cells + n] as number)));
  for (let n = 0; n < cells; n += 1) {
    const gx = n % grid;
    const gy = Math.floor(n / grid);
    out[n] = ((head[n] as number) + gx + 0.5) * STRIDE;
    out[cells + n] = ((head[cells + n] as number) + gy + 0.5) * STRIDE;
    out[2 * cells + n] = Math.exp(head[2 * cells + n] as number) * STRIDE;
    out[3 * cells + n] = Math.exp(head[3 * cells + n] as number) * STRIDE;
    const p = objectness[n] as number;
    let peak = true;
    for (let dy = -1; dy <= 1; dy += 1) for (let dx = -1; dx <= 1; dx += 1) if (gx + dx >= 0 && gx + dx < grid && gy + dy >= 0 && gy + dy < grid && (objectness[(gy + dy) * grid + gx + dx] as number) > p) peak = false;
    let max = -Infinity;
    for (let c = 0; c < classes; c += 1) max = Math.max(max, head[(HEAD_OBJECT + 1 + c) * cells + n] as number);
    let sum = 0;
    for (let c = 0; c < classes; c += 1) sum += Math.exp((head[(HEAD_OBJECT + 1 + c) * cells + n] as number) - max);
    for (let c = 0; c < classes; c += 1) out[(4 + c) * cells + n] = peak ? (p * Math.exp((head[(HEAD_OBJECT + 1 + c) * cells + n] as number) - max)) / sum : 0;
  }
  return out;
}
