import { buildModel } from '../../../models/onnx/builder.js';
import { GraphWriter } from './blocks.js';
import { COCO_NAMES, pythonDictNames } from './coco-names.js';

/**
 * Ultralytics YOLOv8 (`yolov8.yaml`) built by code, exactly as `yolo export format=onnx`
 * writes it (opset 13 here; Ultralytics picks 12 to 17 by torch version, the graph is the same):
 * input `images` [1, 3, H, W], output `output0` [1, 4 + C, N] with boxes as cx, cy, w, h in
 * input pixels and C sigmoid class scores, and the class names in the metadata. The weights are
 * seeded random: this is a stand-in with the real model's cost (its layers, shapes and
 * operators), for benchmarks and tests where no model hub can be reached. It detects nothing.
 * It lives in sim/, not models/: like the simulated conveyor it stands in for the real thing
 * while developing, and no gateway ever runs it.
 */

/**
 * `scales` of yolov8.yaml: [depth multiple, width multiple, max channels]. With them the fused
 * parameter counts are Ultralytics' own: n 3,151,904, s 11,156,544, m 25,886,080,
 * l 43,668,288, x 68,200,608 (the test checks n and s).
 */
export const YOLOV8_SCALES = {
  n: { depth: 0.33, width: 0.25, maxChannels: 1024 },
  s: { depth: 0.33, width: 0.5, maxChannels: 1024 },
  m: { depth: 0.67, width: 0.75, maxChannels: 768 },
  l: { depth: 1.0, width: 1.0, maxChannels: 512 },
  x: { depth: 1.0, width: 1.25, maxChannels: 512 },
} as const;

export type Yolov8Scale = keyof typeof YOLOV8_SCALES;

export interface Yolov8Options {
  /** Default n (YOLOv8n). */
  readonly scale?: Yolov8Scale;
  /** Input size, multiples of 32; default 640 x 640. */
  readonly width?: number;
  readonly height?: number;
  /** Default the 80 COCO classes. */
  readonly classNames?: readonly string[];
  /** Seed of the random weights; default 1. */
  readonly seed?: number;
}

export interface Yolov8Model {
  readonly bytes: Uint8Array;
  /** Parameters of the fused model, as Ultralytics counts them (YOLOv8n, 80 classes: 3,151,904). */
  readonly parameters: number;
  readonly input: { readonly name: 'images'; readonly dims: readonly [1, 3, number, number] };
  readonly output: { readonly name: 'output0'; readonly dims: readonly [1, number, number] };
  readonly classNames: readonly string[];
}

/** Bins of the distribution each box side is predicted as (Detect's DFL). */
const REG_MAX = 16;
const STRIDES = [8, 16, 32] as const;
/**
 * Box bin k's logit is centred on -BOX_PRIOR * k: each side about 1.5 cells from its anchor, so
 * boxes are a few cells across at their level (24, 48 and 96 pixels), as the objects a level is
 * meant for are. (Ultralytics starts training from flat logits, which would make every box 15
 * cells wide, most of them past the image's edge.)
 */
const BOX_PRIOR = 0.5;

/** Ultralytics' parse_model: channels scaled by the width multiple, capped, rounded up to a multiple of 8. */
const channels = (c: number, s: (typeof YOLOV8_SCALES)[Yolov8Scale]): number => Math.ceil((Math.min(c, s.maxChannels) * s.width) / 8) * 8;
/** Repeats scaled by the depth multiple (Python's round: these products never land on .5). */
const repeats = (n: number, s: (typeof YOLOV8_SCALES)[Yolov8Scale]): number => Math.max(Math.round(n * s.depth), 1);

export function buildYolov8(o: Yolov8Options = {}): Yolov8Model {
  const scale = o.scale ?? 'n';
  const s = YOLOV8_SCALES[scale];
  const width = o.width ?? 640;
  const height = o.height ?? 640;
  if (width % 32 !== 0 || height % 32 !== 0 || width <= 0 || height <= 0) throw new RangeError(`yolov8: input ${width}x${height} must be positive multiples of 32`);
  const names = o.classNames ?? COCO_NAMES;
  const nc = names.length;
  if (nc < 1) throw new RangeError('yolov8: at least one class name');
  const g = new GraphWriter(o.seed ?? 1, { name: 'images', moments: { mean: 0.5, m2: 1 / 3 } });
  const ch = (c: number): number => channels(c, s);
  const n = (k: number): number => repeats(k, s);

  // Backbone (layers 0-9). YOLOv8n's C2f repeats: 1, 2, 2, 1 (3, 6, 6, 3 times 0.33, rounded).
  const p1 = g.conv('images', 'model.0', 3, ch(64), 3, 2);
  const p2 = g.c2f(g.conv(p1, 'model.1', ch(64), ch(128), 3, 2), 'model.2', ch(128), ch(128), n(3), true);
  const p3 = g.c2f(g.conv(p2, 'model.3', ch(128), ch(256), 3, 2), 'model.4', ch(256), ch(256), n(6), true);
  const p4 = g.c2f(g.conv(p3, 'model.5', ch(256), ch(512), 3, 2), 'model.6', ch(512), ch(512), n(6), true);
  const p5 = g.c2f(g.conv(p4, 'model.7', ch(512), ch(1024), 3, 2), 'model.8', ch(1024), ch(1024), n(3), true);
  const sppf = g.sppf(p5, 'model.9', ch(1024), ch(1024), 5);
  // Neck (layers 10-21): top-down with nearest upsampling, then bottom-up with stride-2 convs.
  const h12 = g.c2f(g.concat([g.upsample(sppf, 'model.10'), p4], 'model.11', [ch(1024), ch(512)]), 'model.12', ch(1024) + ch(512), ch(512), n(3), false);
  const h15 = g.c2f(g.concat([g.upsample(h12, 'model.13'), p3], 'model.14', [ch(512), ch(256)]), 'model.15', ch(512) + ch(256), ch(256), n(3), false);
  const h18 = g.c2f(g.concat([g.conv(h15, 'model.16', ch(256), ch(256), 3, 2), h12], 'model.17', [ch(256), ch(512)]), 'model.18', ch(256) + ch(512), ch(512), n(3), false);
  const h21 = g.c2f(g.concat([g.conv(h18, 'model.19', ch(512), ch(512), 3, 2), sppf], 'model.20', [ch(512), ch(1024)]), 'model.21', ch(512) + ch(1024), ch(1024), n(3), false);

  const levels = [
    { x: h15, c: ch(256) },
    { x: h18, c: ch(512) },
    { x: h21, c: ch(1024) },
  ];
  const anchors = STRIDES.reduce((a, st) => a + (width / st) * (height / st), 0);
  const output = detect(g, levels, nc, width, height, anchors);

  const bytes = buildModel({
    name: 'main_graph',
    inputs: [{ name: 'images', dims: [1, 3, height, width] }],
    outputs: [{ name: output, dims: [1, 4 + nc, anchors] }],
    initializers: g.initializers,
    nodes: g.nodes,
    // The keys Ultralytics' exporter writes; `names` is what the vision stage reads.
    metadata: {
      description: `Ultralytics YOLOv8${scale} architecture with seeded random weights (seed ${o.seed ?? 1}): a stand-in with the real model's cost that detects nothing`,
      author: 'edgewise sim',
      version: `random-seed-${o.seed ?? 1}`,
      stride: '32',
      task: 'detect',
      batch: '1',
      imgsz: `[${height}, ${width}]`,
      names: pythonDictNames(names),
    },
  });
  return { bytes, parameters: g.parameters, input: { name: 'images', dims: [1, 3, height, width] }, output: { name: 'output0', dims: [1, 4 + nc, anchors] }, classNames: names };
}

/**
 * Ultralytics' `Detect` head in export mode: per level a box branch (two 3x3 Convs, a 1x1 to
 * 4 x REG_MAX) and a class branch (two 3x3 Convs, a 1x1 to nc), concatenated and flattened
 * over all levels; the DFL (softmax over REG_MAX bins, expectation by a fixed 1x1 conv with
 * weights 0..15) gives the distances to the box sides in grid cells, which `dist2bbox` turns
 * into cx, cy, w, h around the anchor points (cell centres) and the strides into pixels.
 * The class logits are centred where Ultralytics' `bias_init` puts them, log(5 / nc /
 * (640 / stride)^2), so class scores are near 0, as a trained model's on an empty scene, and
 * decoding and NMS see few candidates rather than all 8400; box logits on BOX_PRIOR.
 */
function detect(g: GraphWriter, levels: readonly { x: string; c: number }[], nc: number, width: number, height: number, anchors: number): string {
  const first = (levels[0] as { c: number }).c;
  const c2 = Math.max(16, Math.floor(first / 4), REG_MAX * 4);
  const c3 = Math.max(first, Math.min(nc, 100));
  const no = nc + REG_MAX * 4;
  const flat = levels.map(({ x, c }, i) => {
    const stride = STRIDES[i] as number;
    const box = g.conv2d(g.conv(g.conv(x, `model.22.cv2.${i}.0`, c, c2, 3, 1), `model.22.cv2.${i}.1`, c2, c2, 3, 1), `model.22.cv2.${i}.2`, c2, 4 * REG_MAX, 1, 1, {
      shift: Float32Array.from({ length: 4 * REG_MAX }, (_, k) => -BOX_PRIOR * (k % REG_MAX)),
    });
    const cls = g.conv2d(g.conv(g.conv(x, `model.22.cv3.${i}.0`, c, c3, 3, 1), `model.22.cv3.${i}.1`, c3, c3, 3, 1), `model.22.cv3.${i}.2`, c3, nc, 1, 1, {
      shift: new Float32Array(nc).fill(Math.log(5 / nc / (640 / stride) ** 2)),
    });
    const cat = g.concat([box, cls], `model.22.${i}`, [4 * REG_MAX, nc]);
    return g.node('Reshape', [cat, g.constant([3], [1, no, -1], 'int64')], `/model.22/Reshape${i === 0 ? '' : `_${i}`}_output_0`);
  });
  const all = g.node('Concat', flat, '/model.22/Concat_output_0', { axis: 2 });
  const split = ['/model.22/Split_output_0', '/model.22/Split_output_1'];
  g.nodes.push({ op: 'Split', inputs: [all, g.constant([2], [4 * REG_MAX, nc], 'int64')], outputs: split, attributes: { axis: 1 } });
  const [boxes, classes] = split as [string, string];

  // DFL: [1, 64, N] -> [1, 4, 16, N] -> [1, 16, 4, N] -> softmax over the bins -> expectation -> [1, 4, N].
  const bins = g.node('Reshape', [boxes, g.constant([4], [1, 4, REG_MAX, anchors], 'int64')], '/model.22/dfl/Reshape_output_0');
  const perm = g.node('Transpose', [bins], '/model.22/dfl/Transpose_output_0', { perm: [0, 2, 1, 3] });
  const soft = g.node('Softmax', [perm], '/model.22/dfl/Softmax_output_0', { axis: 1 });
  const dflWeight = g.parameter('model.22.dfl.conv.weight', [1, REG_MAX, 1, 1], Float32Array.from({ length: REG_MAX }, (_, i) => i));
  const expect = g.node('Conv', [soft, dflWeight], '/model.22/dfl/conv/Conv_output_0', { dilations: [1, 1], group: 1, kernel_shape: [1, 1], pads: [0, 0, 0, 0], strides: [1, 1] });
  const dist = g.node('Reshape', [expect, g.constant([3], [1, 4, anchors], 'int64')], '/model.22/dfl/Reshape_1_output_0');

  // Anchor points (cell centres, in cells) and strides, as make_anchors(feats, strides, 0.5) gives them.
  const points = new Float32Array(2 * anchors);
  const strides = new Float32Array(anchors);
  let a = 0;
  for (const stride of STRIDES) {
    for (let y = 0; y < height / stride; y += 1) {
      for (let x = 0; x < width / stride; x += 1) {
        points[a] = x + 0.5;
        points[anchors + a] = y + 0.5;
        strides[a] = stride;
        a += 1;
      }
    }
  }
  g.initializers.push({ name: '/model.22/Constant_anchors', dims: [1, 2, anchors], data: points }, { name: '/model.22/Constant_strides', dims: [1, anchors], data: strides });

  // dist2bbox(xywh=True): lt, rb = chunk(2); x1y1 = anchor - lt; x2y2 = anchor + rb; (centre, size) * stride.
  const sides = ['/model.22/Split_1_output_0', '/model.22/Split_1_output_1'];
  g.nodes.push({ op: 'Split', inputs: [dist, g.constant([2], [2, 2], 'int64')], outputs: sides, attributes: { axis: 1 } });
  const [lt, rb] = sides as [string, string];
  const x1y1 = g.node('Sub', ['/model.22/Constant_anchors', lt], '/model.22/Sub_output_0');
  const x2y2 = g.node('Add', ['/model.22/Constant_anchors', rb], '/model.22/Add_output_0');
  const sum = g.node('Add', [x1y1, x2y2], '/model.22/Add_1_output_0');
  const centre = g.node('Div', [sum, g.constant([], [2], 'float32')], '/model.22/Div_output_0');
  const size = g.node('Sub', [x2y2, x1y1], '/model.22/Sub_1_output_0');
  const xywh = g.node('Concat', [centre, size], '/model.22/Concat_3_output_0', { axis: 1 });
  const pixels = g.node('Mul', [xywh, '/model.22/Constant_strides'], '/model.22/Mul_2_output_0');
  const scores = g.node('Sigmoid', [classes], '/model.22/Sigmoid_output_0');
  return g.node('Concat', [pixels, scores], 'output0', { axis: 1 });
}

