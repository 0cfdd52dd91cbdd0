import type { DenseTensor, NodeSpec } from '../../onnx/builder.js';

/**
 * The image classifier's fixed front end: an ONNX graph from the gateway's input (NCHW RGB,
 * 0..1, letterboxed by models/vision/preprocess.ts) to a vector of hand-made features that a
 * small trained MLP (the head) classifies. Nothing here is trained, so the same graph computes
 * the features when training (run by ONNX Runtime on the training images) and on the gateway
 * (the head's layers appended): what the head learns on is exactly what it will see.
 *
 *   image [N, 3, S, S] 0..1
 *     -> standardised by the image's own mean and spread (a brighter lamp, a darker shift: same features)
 *     -> colour layout: each channel averaged over an 8 x 8 grid                       3 * 64
 *     -> grey (BT.601 luma) at three levels (S, S/2, S/4: 2x2 averages), at each a bank of
 *        fixed 9 x 9 filters: oriented edges (HOG's gradients), oriented thin lines (a
 *        scratch), and at the two coarse levels spots (a hole, a dent), each of either
 *        polarity (half-wave rectified); lines and spots lose the edge energy at the same
 *        place, so a part's outline does not read as a scratch                        56 maps
 *     -> per map, in each cell of a G x G grid: the mean and the maximum               2 * 56 * G * G
 *     -> per map, over the whole image: the mean excess over four levels (a histogram
 *        of how much of the picture answers how strongly, wherever it is)             4 * 56
 *
 * Parameters: 0. Cost at S = 64: about 9 M multiply-adds (the filter banks), 2208 features.
 * What it cannot learn (no filter is learned) is in models/vision/README.md.
 */
export interface FrontEndOptions {
  /** The square input side in pixels; a multiple of `grid`. */
  readonly size: number;
  /** Cells per side of the pooling grid. */
  readonly grid: number;
}

export const FRONT_END_INPUT = 'image';
export const FRONT_END_OUTPUT = 'features';

/** Side of every filter kernel (odd: the filters are centred, with "same" padding). */
const KERNEL = 9;
const HALF = (KERNEL - 1) / 2;
/** Orientations of the edge and line filters: 0, 45, 90 and 135 degrees. */
const ORIENTATIONS = [0, Math.PI / 4, Math.PI / 2, (3 * Math.PI) / 4];
/** Scales in pixels of the level: edges at 1, thin lines at 1.2 (a 2-3 px scratch), spots at 1.5 and 2.2. */
const EDGE_SIGMA = 1;
const LINE_SIGMA = 1.2;
const SPOT_SIGMAS = [1.5, 2.2];
/**
 * How much of the edge energy across the same direction is taken off a line or spot response:
 * the dark side of a part's outline answers the line filter too, a thin line does not answer
 * the edge filter at its centre, so "line minus edge" keeps scratches and drops outlines.
 */
const EDGE_SUPPRESSION = 1;
/** Keeps a flat image (spread 0) finite: a spread of 0.01 on 0..1 values is 2.5 grey levels. */
const SPREAD_EPSILON = 1e-4;

type Kernel = (x: number, y: number) => number;
type Kind = 'edge' | 'line' | 'spot';

interface Filter {
  readonly kind: Kind;
  /** Index into ORIENTATIONS (edges and lines). */
  readonly orientation: number;
  readonly kernel: Kernel;
}

const gauss = (x: number, y: number, s: number): number => Math.exp(-(x * x + y * y) / (2 * s * s));

/** Filters with a signed response; each goes into the bank twice (+ and -), so Relu keeps both polarities. */
function signedFilters(spots: boolean): Filter[] {
  const out: Filter[] = [];
  ORIENTATIONS.forEach((a, orientation) => {
    const c = Math.cos(a);
    const s = Math.sin(a);
    // First derivative of a Gaussian across direction a: an edge.
    out.push({ kind: 'edge', orientation, kernel: (x, y) => -((x * c + y * s) / (EDGE_SIGMA * EDGE_SIGMA)) * gauss(x, y, EDGE_SIGMA) });
  });
  ORIENTATIONS.forEach((a, orientation) => {
    const c = Math.cos(a);
    const s = Math.sin(a);
    // Second derivative across direction a: positive on a thin dark line along a + 90 degrees.
    out.push({
      kind: 'line',
      orientation,
      kernel: (x, y) => {
        const u = x * c + y * s;
        return ((u * u) / LINE_SIGMA ** 4 - 1 / LINE_SIGMA ** 2) * gauss(x, y, LINE_SIGMA);
      },
    });
  });
  if (spots) {
    // Laplacian of a Gaussian: positive on a dark spot of about sigma * sqrt 2.
    for (const sigma of SPOT_SIGMAS) out.push({ kind: 'spot', orientation: -1, kernel: (x, y) => ((x * x + y * y) / sigma ** 4 - 2 / sigma ** 2) * gauss(x, y, sigma) });
  }
  return out;
}

/** The bank's weights [2F, 1, K, K]: each filter made zero-sum (a flat patch answers 0) and of unit L1 norm, then negated. */
function bankWeights(filters: readonly Filter[]): Float32Array {
  const data = new Float32Array(filters.length * 2 * KERNEL * KERNEL);
  filters.forEach((f, k) => {
    const w = new Float64Array(KERNEL * KERNEL);
    for (let y = -HALF; y <= HALF; y += 1) for (let x = -HALF; x <= HALF; x += 1) w[(y + HALF) * KERNEL + x + HALF] = f.kernel(x, y);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    let l1 = 0;
    for (let i = 0; i < w.length; i += 1) {
      w[i] = (w[i] as number) - mean;
      l1 += Math.abs(w[i] as number);
    }
    for (let i = 0; i < w.length; i += 1) {
      data[2 * k * KERNEL * KERNEL + i] = (w[i] as number) / l1;
      data[(2 * k + 1) * KERNEL * KERNEL + i] = -(w[i] as number) / l1;
    }
  });
  return data;
}

/**
 * The 1x1 mix [2F, 2F] after the rectified bank: edges pass as they are; each line response
 * loses the edge energy across its direction, each spot response the edge energy of all
 * directions (their sum is about 2.6 times the gradient's size, hence the share).
 */
function suppressionWeights(filters: readonly Filter[]): Float32Array {
  const n = filters.length * 2;
  const w = new Float32Array(n * n);
  const edgeChannels = (orientation: number | undefined): number[] => filters.flatMap((f, k) => (f.kind === 'edge' && (orientation === undefined || f.orientation === orientation) ? [2 * k, 2 * k + 1] : []));
  filters.forEach((f, k) => {
    for (const out of [2 * k, 2 * k + 1]) {
      w[out * n + out] = 1;
      if (f.kind === 'line') for (const e of edgeChannels(f.orientation)) w[out * n + e] = -EDGE_SUPPRESSION;
      if (f.kind === 'spot') for (const e of edgeChannels(undefined)) w[out * n + e] = -EDGE_SUPPRESSION / 2.6;
    }
  });
  return w;
}

/** The two levels: the input's pixels (edges and lines), and half of them (edges, lines and spots at twice the scale). */
const LEVELS = [{ scale: 1, filters: signedFilters(false) }, { scale: 2, filters: signedFilters(true) }, { scale: 4, filters: signedFilters(true) }] as const;

/** Feature maps of all levels (each filter + and -). */
export const MAPS = LEVELS.reduce((n, l) => n + 2 * l.filters.length, 0);

/** Features the front end gives for `o`: the colour grid (8 x 8), then per map its mean and its maximum in each cell of the grid. */
export function featureCount(o: FrontEndOptions): number {
  return 3 * COLOUR_GRID * COLOUR_GRID + 2 * MAPS * o.grid * o.grid + MAPS * LEVEL_THRESHOLDS.length;
}

/**
 * Per map, over the whole image, the mean of the response above each of these levels: a
 * histogram of how much of the picture answers a filter how strongly, wherever it is (a
 * second dark spot beside a part's hole adds to it; the grid's cells may hold both spots).
 */
const LEVEL_THRESHOLDS = [0.05, 0.15, 0.3, 0.6];

/** The colour layout's grid: a coarse thumbnail (8 x 8 cells) of the standardised image. */
const COLOUR_GRID = 8;

export function checkFrontEnd(o: FrontEndOptions): void {
  if (!(Number.isInteger(o.size) && Number.isInteger(o.grid) && o.grid >= 1 && o.size >= 2 * KERNEL && o.size % (2 * o.grid) === 0 && o.size % COLOUR_GRID === 0)) {
    throw new RangeError(`image classifier: the input size (${o.size}) must be a whole multiple of ${COLOUR_GRID} and of twice the grid (${o.grid}), and at least ${2 * KERNEL}`);
  }
}

/** The front end's nodes and constants, from FRONT_END_INPUT to FRONT_END_OUTPUT [N, featureCount]. */
export function frontEndGraph(o: FrontEndOptions): { nodes: NodeSpec[]; initializers: DenseTensor[] } {
  checkFrontEnd(o);
  const colourCell = o.size / COLOUR_GRID;
  const initializers: DenseTensor[] = [
    { name: 'fe_epsilon', dims: [1], data: [SPREAD_EPSILON] },
    // BT.601 luma, as the preprocessing's grey path weighs RGB.
    { name: 'fe_luma', dims: [1, 3, 1, 1], data: [0.299, 0.587, 0.114] },
  ];
  const all = [1, 2, 3];
  const nodes: NodeSpec[] = [
    { op: 'ReduceMean', inputs: [FRONT_END_INPUT], outputs: ['fe_mean'], attributes: { axes: all, keepdims: 1 } },
    { op: 'Sub', inputs: [FRONT_END_INPUT, 'fe_mean'], outputs: ['fe_centred'] },
    { op: 'Mul', inputs: ['fe_centred', 'fe_centred'], outputs: ['fe_squares'] },
    { op: 'ReduceMean', inputs: ['fe_squares'], outputs: ['fe_variance'], attributes: { axes: all, keepdims: 1 } },
    { op: 'Add', inputs: ['fe_variance', 'fe_epsilon'], outputs: ['fe_variance_eps'] },
    { op: 'Sqrt', inputs: ['fe_variance_eps'], outputs: ['fe_spread'] },
    { op: 'Div', inputs: ['fe_centred', 'fe_spread'], outputs: ['fe_z'] },
    { op: 'AveragePool', inputs: ['fe_z'], outputs: ['fe_colour_cells'], attributes: { kernel_shape: [colourCell, colourCell], strides: [colourCell, colourCell] } },
    { op: 'Flatten', inputs: ['fe_colour_cells'], outputs: ['fe_colour'], attributes: { axis: 1 } },
    { op: 'Conv', inputs: ['fe_z', 'fe_luma'], outputs: ['fe_grey1'], attributes: { kernel_shape: [1, 1] } },
    { op: 'AveragePool', inputs: ['fe_grey1'], outputs: ['fe_grey2'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
    { op: 'AveragePool', inputs: ['fe_grey2'], outputs: ['fe_grey4'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
  ];
  const pooled: string[] = [];
  for (const level of LEVELS) {
    const l = `fe_l${level.scale}`;
    const n = 2 * level.filters.length;
    const cell = o.size / level.scale / o.grid;
    initializers.push({ name: `${l}_bank`, dims: [n, 1, KERNEL, KERNEL], data: bankWeights(level.filters) }, { name: `${l}_mix`, dims: [n, n, 1, 1], data: suppressionWeights(level.filters) });
    nodes.push(
      { op: 'Conv', inputs: [`fe_grey${level.scale}`, `${l}_bank`], outputs: [`${l}_responses`], attributes: { kernel_shape: [KERNEL, KERNEL], pads: [HALF, HALF, HALF, HALF] } },
      { op: 'Relu', inputs: [`${l}_responses`], outputs: [`${l}_rectified`] },
      { op: 'Conv', inputs: [`${l}_rectified`, `${l}_mix`], outputs: [`${l}_mixed`], attributes: { kernel_shape: [1, 1] } },
      { op: 'Relu', inputs: [`${l}_mixed`], outputs: [`${l}_maps`] },
      { op: 'AveragePool', inputs: [`${l}_maps`], outputs: [`${l}_mean_cells`], attributes: { kernel_shape: [cell, cell], strides: [cell, cell] } },
      { op: 'Flatten', inputs: [`${l}_mean_cells`], outputs: [`${l}_means`], attributes: { axis: 1 } },
      { op: 'MaxPool', inputs: [`${l}_maps`], outputs: [`${l}_max_cells`], attributes: { kernel_shape: [cell, cell], strides: [cell, cell] } },
      { op: 'Flatten', inputs: [`${l}_max_cells`], outputs: [`${l}_maxima`], attributes: { axis: 1 } },
    );
    pooled.push(`${l}_means`, `${l}_maxima`);
    LEVEL_THRESHOLDS.forEach((t, k) => {
      nodes.push(
        { op: 'Sub', inputs: [`${l}_maps`, `fe_threshold${k}`], outputs: [`${l}_over${k}`] },
        { op: 'Relu', inputs: [`${l}_over${k}`], outputs: [`${l}_excess${k}`] },
        { op: 'GlobalAveragePool', inputs: [`${l}_excess${k}`], outputs: [`${l}_share${k}_4d`] },
        { op: 'Flatten', inputs: [`${l}_share${k}_4d`], outputs: [`${l}_share${k}`], attributes: { axis: 1 } },
      );
      pooled.push(`${l}_share${k}`);
    });
  }
  LEVEL_THRESHOLDS.forEach((t, k) => initializers.push({ name: `fe_threshold${k}`, dims: [1], data: [t] }));
  nodes.push({ op: 'Concat', inputs: ['fe_colour', ...pooled], outputs: [FRONT_END_OUTPUT], attributes: { axis: 1 } });
  return { nodes, initializers };
}
