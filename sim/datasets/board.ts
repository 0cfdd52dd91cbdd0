/**
 * Synthetic circuit boards with small labelled defects: the small-object case of `edgewise model
 * train vision` (issue 17, test 2). A board has solder mask with its own texture, copper traces,
 * component pads in rows and pairs, vias and silkscreen; the defects are 10-40 px on a 640 px
 * board, of three classes:
 *   scratch       a thin line of exposed copper (orange through the mask) at a slant
 *   spot          a dark, irregular blob (contamination, a burn)
 *   missing-pad   a pad of a footprint absent: bare laminate where the metal should be
 * The clutter is chosen to look a little like them (vias are dark dots, silkscreen strokes are
 * thin bright lines, pads come in every size), so the detector has to learn the difference.
 * Lighting (level, gradient, tint) and sensor noise vary per board. The same seed always gives
 * the same board.
 */
import type { DetectionDataset, DetectionSample, LabelledBox, RgbImage } from '../../models/datasets/types.js';
import { seededRandom } from '../../models/train/random.js';
import { BoardCanvas, type Rgb } from './board-canvas.js';

export const BOARD_CLASSES = ['scratch', 'spot', 'missing-pad'] as const;
const SCRATCH = 0;
const SPOT = 1;
const MISSING_PAD = 2;

export interface BoardOptions {
  /** Width and height in pixels; default 640. Shapes keep their pixel sizes (defects stay 10-40 px). */
  readonly size?: number;
  /** Defects per board are drawn uniformly from 0..maxDefects; default 6. */
  readonly maxDefects?: number;
}

export interface Board {
  readonly image: RgbImage;
  readonly boxes: LabelledBox[];
}

interface Pad {
  readonly cx: number;
  readonly cy: number;
  readonly hw: number;
  readonly hh: number;
}

type Rect = { x0: number; y0: number; x1: number; y1: number };

const between = (random: () => number, lo: number, hi: number): number => lo + (hi - lo) * random();
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/** One board and its defects' boxes (YOLO-normalised). */
export function renderBoard(seed: number, o: BoardOptions = {}): Board {
  return drawBoard(seed, o, false) as Board;
}

/** The boxes renderBoard(seed, o) gives, without painting the board (50x faster). */
export function boardLabels(seed: number, o: BoardOptions = {}): LabelledBox[] {
  return drawBoard(seed, o, true).boxes;
}

function drawBoard(seed: number, o: BoardOptions, dry: boolean): { image: RgbImage | undefined; boxes: LabelledBox[] } {
  const size = o.size ?? 640;
  const maxDefects = o.maxDefects ?? 6;
  const random = seededRandom(seed * 7919 + 17);
  const canvas = new BoardCanvas(size, dry);
  const mask: Rgb = mix([0.1, 0.34, 0.16], [0.08, 0.22, 0.3], random() * 0.5);
  canvas.fill(mask);
  paintMaskTexture(canvas, mask, random);
  const traceColour = mix(mask, [0.35, 0.6, 0.3], 0.45);
  const traces = 20 + Math.floor(random() * 20);
  for (let t = 0; t < traces; t += 1) paintTrace(canvas, traceColour, random);
  const metal: Rgb = random() < 0.5 ? [0.78, 0.76, 0.72] : [0.82, 0.68, 0.4];
  const pads = paintPads(canvas, metal, random);
  const vias = 15 + Math.floor(random() * 25);
  for (let v = 0; v < vias; v += 1) {
    const x = between(random, 8, size - 8);
    const y = between(random, 8, size - 8);
    const r = between(random, 3.5, 6);
    canvas.circle(x, y, r, metal);
    canvas.circle(x, y, r * between(random, 0.35, 0.55), [0.06, 0.06, 0.05]);
  }
  paintSilkscreen(canvas, random);

  // Light and noise are drawn before the defects, so a board drawn with other defects (or none) is the same board.
  const level = between(random, 0.8, 1.15);
  const gx = between(random, -0.3, 0.3);
  const gy = between(random, -0.3, 0.3);
  const tint: Rgb = [between(random, 0.94, 1.06), 1, between(random, 0.94, 1.06)];
  const sigma = between(random, 0.008, 0.02);
  const boxes: LabelledBox[] = [];
  const taken: Rect[] = [];
  const wanted = Math.floor(random() * (maxDefects + 1));
  for (let d = 0; d < wanted; d += 1) {
    const kind = Math.floor(random() * BOARD_CLASSES.length);
    const placed = kind === SCRATCH ? paintScratch(canvas, random, taken) : kind === SPOT ? paintSpot(canvas, random, taken) : paintMissingPad(canvas, pads, random, taken);
    if (placed === undefined) continue;
    taken.push(placed);
    const x0 = Math.max(0, placed.x0);
    const y0 = Math.max(0, placed.y0);
    const x1 = Math.min(size, placed.x1);
    const y1 = Math.min(size, placed.y1);
    boxes.push({ classId: kind, cx: (x0 + x1) / 2 / size, cy: (y0 + y1) / 2 / size, w: (x1 - x0) / size, h: (y1 - y0) / size });
  }

  canvas.light((x, y) => level + gx * (x / size - 0.5) + gy * (y / size - 0.5), tint);
  return { image: dry ? undefined : { width: size, height: size, data: canvas.expose(sigma, seed * 31 + 5) }, boxes };
}

/** Low-frequency blotches of the mask (uneven coating) and the weave of the laminate showing through. */
function paintMaskTexture(canvas: BoardCanvas, mask: Rgb, random: () => number): void {
  const blotches = 12 + Math.floor(random() * 10);
  for (let b = 0; b < blotches; b += 1) {
    canvas.circle(between(random, 0, canvas.size), between(random, 0, canvas.size), between(random, 40, 140), mix(mask, random() < 0.5 ? [0, 0, 0] : [0.4, 0.6, 0.4], 0.25), 0.35);
  }
  for (let y = 0; y < canvas.size; y += 6) canvas.rect(canvas.size / 2, y + 1, canvas.size / 2, 0.6, 0, mix(mask, [0, 0, 0], 0.2), 0.25);
}

/** A Manhattan path of copper under the mask: straight and 45-degree runs. */
function paintTrace(canvas: BoardCanvas, colour: Rgb, random: () => number): void {
  let x = between(random, 0, canvas.size);
  let y = between(random, 0, canvas.size);
  const width = between(random, 1.5, 3.2);
  const runs = 2 + Math.floor(random() * 4);
  let heading = Math.floor(random() * 8);
  for (let r = 0; r < runs; r += 1) {
    const length = between(random, 30, 180);
    const angle = (heading * Math.PI) / 4;
    const nx = x + Math.cos(angle) * length;
    const ny = y + Math.sin(angle) * length;
    canvas.capsule(x, y, nx, ny, width, colour);
    x = nx;
    y = ny;
    heading = (heading + (random() < 0.5 ? 1 : 7) * (random() < 0.7 ? 1 : 2)) % 8;
  }
}

/** Footprints (rows of pads, as an IC's) and two-pad parts (resistors, capacitors). */
function paintPads(canvas: BoardCanvas, metal: Rgb, random: () => number): Pad[] {
  const pads: Pad[] = [];
  const rows = 3 + Math.floor(random() * 4);
  for (let r = 0; r < rows; r += 1) {
    const n = 4 + Math.floor(random() * 8);
    const hw = between(random, 5, 8);
    const hh = between(random, 7, 12);
    const pitch = 2 * hw + between(random, 4, 8);
    const vertical = random() < 0.5;
    const x0 = between(random, 30, canvas.size - 30 - (vertical ? 0 : n * pitch));
    const y0 = between(random, 30, canvas.size - 30 - (vertical ? n * pitch : 0));
    for (let i = 0; i < n; i += 1) {
      const pad = vertical ? { cx: x0, cy: y0 + i * pitch, hw: hh, hh: hw } : { cx: x0 + i * pitch, cy: y0, hw, hh };
      canvas.rect(pad.cx, pad.cy, pad.hw, pad.hh, 1, metal);
      pads.push(pad);
    }
  }
  const pairs = 8 + Math.floor(random() * 10);
  for (let p = 0; p < pairs; p += 1) {
    const hw = between(random, 5, 9);
    const hh = between(random, 5, 9);
    const gap = between(random, 6, 16);
    const cx = between(random, 30, canvas.size - 30);
    const cy = between(random, 30, canvas.size - 30);
    const vertical = random() < 0.5;
    for (const s of [-1, 1]) {
      const pad = vertical ? { cx, cy: cy + s * (gap / 2 + hh), hw, hh } : { cx: cx + s * (gap / 2 + hw), cy, hw, hh };
      canvas.rect(pad.cx, pad.cy, pad.hw, pad.hh, 1, metal);
      pads.push(pad);
    }
    canvas.rect(cx, cy, vertical ? hw * 0.8 : gap / 2 + 2 * hw, vertical ? gap / 2 + 2 * hh : hh * 0.8, 1.5, [0.15, 0.13, 0.1], random() < 0.5 ? 1 : 0);
  }
  return pads;
}

/** Outlines of parts and short strokes of lettering: thin bright lines, mostly along the axes. */
function paintSilkscreen(canvas: BoardCanvas, random: () => number): void {
  const ink: Rgb = [0.9, 0.9, 0.86];
  const outlines = 4 + Math.floor(random() * 5);
  for (let o = 0; o < outlines; o += 1) {
    const x0 = between(random, 10, canvas.size - 80);
    const y0 = between(random, 10, canvas.size - 80);
    const x1 = x0 + between(random, 25, 70);
    const y1 = y0 + between(random, 25, 70);
    for (const [ax, ay, bx, by] of [[x0, y0, x1, y0], [x1, y0, x1, y1], [x1, y1, x0, y1], [x0, y1, x0, y0]] as const) canvas.capsule(ax, ay, bx, by, 0.8, ink, 0.9);
  }
  const labels = 5 + Math.floor(random() * 6);
  for (let l = 0; l < labels; l += 1) {
    let x = between(random, 10, canvas.size - 60);
    const y = between(random, 10, canvas.size - 20);
    const glyphs = 2 + Math.floor(random() * 4);
    for (let g = 0; g < glyphs; g += 1) {
      const strokes = 1 + Math.floor(random() * 3);
      for (let s = 0; s < strokes; s += 1) {
        const ax = x + between(random, 0, 5);
        const ay = y + between(random, 0, 8);
        canvas.capsule(ax, ay, ax + between(random, -4, 4), ay + between(random, -8, 8), 0.7, ink, 0.85);
      }
      x += 8;
    }
  }
}

function overlapsAny(r: Rect, taken: readonly Rect[], margin: number): boolean {
  return taken.some((t) => r.x0 < t.x1 + margin && t.x0 < r.x1 + margin && r.y0 < t.y1 + margin && t.y0 < r.y1 + margin);
}

/** A slanted line of exposed copper, 14-44 px long; its box is at least 10 px each way. */
function paintScratch(canvas: BoardCanvas, random: () => number, taken: readonly Rect[]): Rect | undefined {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const length = between(random, 14, 44);
    const slant = between(random, 25, 65) + 90 * Math.floor(random() * 4);
    const angle = (slant * Math.PI) / 180;
    const radius = between(random, 0.7, 1.2);
    const cx = between(random, 24, canvas.size - 24);
    const cy = between(random, 24, canvas.size - 24);
    const dx = (Math.cos(angle) * length) / 2;
    const dy = (Math.sin(angle) * length) / 2;
    const r = { x0: cx - Math.abs(dx) - radius, y0: cy - Math.abs(dy) - radius, x1: cx + Math.abs(dx) + radius, y1: cy + Math.abs(dy) + radius };
    if (r.x1 - r.x0 < 10 || r.y1 - r.y0 < 10 || r.x1 - r.x0 > 40 || r.y1 - r.y0 > 40 || overlapsAny(r, taken, 8)) continue;
    canvas.capsule(cx - dx, cy - dy, cx + dx, cy + dy, radius, mix([0.85, 0.5, 0.25], [0.95, 0.7, 0.45], random()), between(random, 0.75, 1));
    return r;
  }
  return undefined;
}

/** A dark blob of two or three overlapping discs, 10-30 px across. */
function paintSpot(canvas: BoardCanvas, random: () => number, taken: readonly Rect[]): Rect | undefined {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const cx = between(random, 24, canvas.size - 24);
    const cy = between(random, 24, canvas.size - 24);
    const radius = between(random, 5, 11);
    const discs = [{ x: cx, y: cy, r: radius }];
    const extra = 1 + Math.floor(random() * 2);
    for (let e = 0; e < extra; e += 1) {
      const a = random() * 2 * Math.PI;
      discs.push({ x: cx + Math.cos(a) * radius * 0.6, y: cy + Math.sin(a) * radius * 0.6, r: radius * between(random, 0.45, 0.75) });
    }
    const r = { x0: Math.min(...discs.map((d) => d.x - d.r)), y0: Math.min(...discs.map((d) => d.y - d.r)), x1: Math.max(...discs.map((d) => d.x + d.r)), y1: Math.max(...discs.map((d) => d.y + d.r)) };
    if (r.x1 - r.x0 > 32 || r.y1 - r.y0 > 32 || overlapsAny(r, taken, 8)) continue;
    const colour: Rgb = mix([0.12, 0.07, 0.03], [0.25, 0.2, 0.1], random());
    const opacity = between(random, 0.8, 0.95);
    canvas.paint(r.x0, r.y0, r.x1, r.y1, (x, y) => Math.min(...discs.map((d) => Math.hypot(x - d.x, y - d.y) - d.r)), colour, opacity);
    return r;
  }
  return undefined;
}

/** One pad of the board gone: bare, dull laminate where its metal was. */
function paintMissingPad(canvas: BoardCanvas, pads: readonly Pad[], random: () => number, taken: readonly Rect[]): Rect | undefined {
  for (let attempt = 0; attempt < 20 && pads.length > 0; attempt += 1) {
    const pad = pads[Math.floor(random() * pads.length)] as Pad;
    const r = { x0: pad.cx - pad.hw - 1, y0: pad.cy - pad.hh - 1, x1: pad.cx + pad.hw + 1, y1: pad.cy + pad.hh + 1 };
    if (r.x1 - r.x0 < 10 || r.y1 - r.y0 < 10 || overlapsAny(r, taken, 8)) continue;
    canvas.rect(pad.cx, pad.cy, pad.hw + 0.8, pad.hh + 0.8, 1, mix([0.62, 0.55, 0.34], [0.5, 0.45, 0.3], random()));
    canvas.rect(pad.cx, pad.cy, pad.hw * 0.6, pad.hh * 0.6, 1, [0.45, 0.4, 0.25], 0.3);
    return r;
  }
  return undefined;
}

export interface BoardDatasetOptions extends BoardOptions {
  readonly train: number;
  readonly val: number;
  /** Seeds of training boards start here, validation boards at seed + 1_000_000 (never the same board). */
  readonly seed?: number;
}

/**
 * An in-memory detection dataset of boards (what a reader of a YOLO folder gives): each
 * sample renders its board when loaded, so nothing is held decoded.
 */
export function boardDataset(o: BoardDatasetOptions): DetectionDataset {
  const base = o.seed ?? 1;
  const sample = (seed: number): DetectionSample => {
    return { file: `board-${seed}.png`, boxes: boardLabels(seed, o), load: async () => renderBoard(seed, o).image };
  };
  return {
    task: 'detect',
    root: 'sim:boards',
    classNames: [...BOARD_CLASSES],
    train: Array.from({ length: o.train }, (_, i) => sample(base + i)),
    val: Array.from({ length: o.val }, (_, i) => sample(base + 1_000_000 + i)),
  };
}
