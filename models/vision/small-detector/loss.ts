import type { Activations } from '../../train/conv/conv2d.js';
import { HEAD_BOX, HEAD_OBJECT, STRIDE } from './architecture.js';

/** An object in a training crop, in crop pixels (centre and size). */
export interface CropObject {
  readonly cx: number;
  readonly cy: number;
  readonly w: number;
  readonly h: number;
  readonly classId: number;
}

/** What each cell of a batch should say, laid out like the head (cell n = (b * gridH + gy) * gridW + gx). */
export interface Targets {
  readonly cells: number;
  readonly classes: number;
  /** 1 where the cell holds an object's centre: [cells]. */
  readonly positive: Uint8Array;
  /** 0 where nothing is trained (the crop's margin): [cells]. */
  readonly weight: Uint8Array;
  /** How near each cell is to an object's centre, 0..1 (a Gaussian): lowers the penalty for scoring near a centre. [cells] */
  readonly heat: Float32Array;
  /** t0..t3 targets: [4 * cells], used where `owner` is not -1. */
  readonly box: Float32Array;
  /** The class of the object whose box the cell learns, or -1: [cells]. */
  readonly owner: Int32Array;
  readonly positives: number;
}

/**
 * Objectness: CenterNet's focal loss (Zhou et al., 2019, after Lin et al.'s RetinaNet): a 640 x 640
 * board has 6,400 cells and a handful of defects, and plain cross-entropy is dominated by the
 * easy empty cells; (1 - heat)^HEAT_BETA spares the centre's neighbours, which see most of the
 * object (the exported model keeps only local peaks, export.ts).
 * Classes: softmax cross-entropy on the cells of objects only. Kept apart from objectness, the
 * classes get a full-strength gradient on every object: with one focal loss per class (tried
 * first), two defect kinds that differ only in colour stayed confused in one run of three.
 */
export const FOCAL_GAMMA = 2;
export const HEAT_BETA = 4;
/** Weights of the box and class losses against the objectness loss. */
export const BOX_WEIGHT = 4;
export const CLASS_WEIGHT = 1;
/** Smooth L1's switch from quadratic to linear, in head units (cells, log cells). */
const SMOOTH_L1_BETA = 0.1;

/**
 * The cell holding an object's centre is positive and learns its box and class. The other cells
 * whose centre lies inside the object learn the box and class too (their peak may win on another
 * frame), and are negatives for objectness with a penalty lowered by their heat. Cells within
 * `marginCells` of the crop's edge are not trained at all (they would see the crop's zero
 * padding, where a full image has pixels). Where objects overlap, the smaller one owns the cell.
 */
export function assignTargets(objects: readonly (readonly CropObject[])[], gridH: number, gridW: number, classes: number, marginCells: number): Targets {
  const batch = objects.length;
  const cells = batch * gridH * gridW;
  const positive = new Uint8Array(cells);
  const weight = new Uint8Array(cells);
  const heat = new Float32Array(cells);
  const box = new Float32Array(4 * cells);
  const owner = new Int32Array(cells).fill(-1);
  // Per cell: the rank of the object whose box it learns (a centre beats an inside cell, then the smaller wins).
  const rank = new Float64Array(cells).fill(Infinity);
  for (let b = 0; b < batch; b += 1) {
    for (const o of objects[b] as readonly CropObject[]) {
      if (!(Number.isInteger(o.classId) && o.classId >= 0 && o.classId < classes)) throw new RangeError(`small detector: class id ${o.classId} outside 0..${classes - 1}`);
      const area = o.w * o.h;
      const claim = (gx: number, gy: number, isCentre: boolean): void => {
        if (gx < 0 || gy < 0 || gx >= gridW || gy >= gridH) return;
        const n = (b * gridH + gy) * gridW + gx;
        if (isCentre) positive[n] = 1;
        const r = (isCentre ? 0 : 1e12) + area;
        if (r >= (rank[n] as number)) return;
        rank[n] = r;
        box[n] = o.cx / STRIDE - gx - 0.5;
        box[cells + n] = o.cy / STRIDE - gy - 0.5;
        box[2 * cells + n] = Math.log(Math.max(1, o.w) / STRIDE);
        box[3 * cells + n] = Math.log(Math.max(1, o.h) / STRIDE);
        owner[n] = o.classId;
      };
      const cx = Math.floor(o.cx / STRIDE);
      const cy = Math.floor(o.cy / STRIDE);
      const x0 = Math.ceil((o.cx - o.w / 2) / STRIDE - 0.5);
      const x1 = Math.floor((o.cx + o.w / 2) / STRIDE - 0.5);
      const y0 = Math.ceil((o.cy - o.h / 2) / STRIDE - 0.5);
      const y1 = Math.floor((o.cy + o.h / 2) / STRIDE - 0.5);
      for (let gy = y0; gy <= y1; gy += 1) for (let gx = x0; gx <= x1; gx += 1) if (gx !== cx || gy !== cy) claim(gx, gy, false);
      claim(cx, cy, true);
      // Heat: a Gaussian around the centre, its spread a third of the object's size (CenterNet's rule of thumb), at least half a cell.
      const sigma = Math.max(0.5, Math.min(o.w, o.h) / STRIDE / 3);
      for (let gy = Math.max(0, cy - 3); gy <= Math.min(gridH - 1, cy + 3); gy += 1) {
        for (let gx = Math.max(0, cx - 3); gx <= Math.min(gridW - 1, cx + 3); gx += 1) {
          const dx = gx + 0.5 - o.cx / STRIDE;
          const dy = gy + 0.5 - o.cy / STRIDE;
          const n = (b * gridH + gy) * gridW + gx;
          heat[n] = Math.max(heat[n] as number, Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
        }
      }
    }
  }
  let positives = 0;
  for (let b = 0; b < batch; b += 1) {
    for (let gy = 0; gy < gridH; gy += 1) {
      for (let gx = 0; gx < gridW; gx += 1) {
        const n = (b * gridH + gy) * gridW + gx;
        const margin = gy < marginCells || gx < marginCells || gy >= gridH - marginCells || gx >= gridW - marginCells;
        if (margin) {
          positive[n] = 0;
          owner[n] = -1;
          continue;
        }
        weight[n] = 1;
        positives += positive[n] as number;
      }
    }
  }
  return { cells, classes, positive, weight, heat, box, owner, positives };
}

export interface LossValue {
  readonly loss: number;
  readonly objectLoss: number;
  readonly classLoss: number;
  readonly boxLoss: number;
  /** d loss / d head, laid out as the head. */
  readonly dHead: Float32Array;
}

/** The batch's loss and its gradient with respect to the head's raw values (`dHead` is reused between calls when given). */
export function detectionLoss(head: Activations, t: Targets, dHead: Float32Array = new Float32Array(head.data.length)): LossValue {
  const N = t.cells;
  const C = t.classes;
  if (head.channels !== HEAD_OBJECT + 1 + C || head.batch * head.height * head.width !== N) throw new RangeError('small detector loss: head and targets disagree in shape');
  const z = head.data;
  dHead.fill(0, 0, z.length);
  const norm = 1 / Math.max(1, t.positives);
  let objectLoss = 0;
  const objBase = HEAD_OBJECT * N;
  for (let n = 0; n < N; n += 1) {
    if (t.weight[n] === 0) continue;
    const x = z[objBase + n] as number;
    const p = 1 / (1 + Math.exp(-x));
    // log p and log(1 - p) from the logit, without cancellation at either end.
    const logP = -softplus(-x);
    const log1mP = -softplus(x);
    if (t.positive[n] === 1) {
      const q = (1 - p) ** FOCAL_GAMMA;
      objectLoss -= q * logP;
      dHead[objBase + n] = q * (FOCAL_GAMMA * p * logP - (1 - p)) * norm;
    } else {
      const q = p ** FOCAL_GAMMA * (1 - (t.heat[n] as number)) ** HEAT_BETA;
      objectLoss -= q * log1mP;
      dHead[objBase + n] = q * (p - FOCAL_GAMMA * (1 - p) * log1mP) * norm;
    }
  }
  objectLoss *= norm;
  let owned = 0;
  for (let n = 0; n < N; n += 1) if ((t.owner[n] as number) >= 0) owned += 1;
  const boxNorm = BOX_WEIGHT / Math.max(1, owned);
  const classNorm = CLASS_WEIGHT / Math.max(1, owned);
  let boxLoss = 0;
  let classLoss = 0;
  const logits = new Float64Array(C);
  for (let n = 0; n < N; n += 1) {
    const cls = t.owner[n] as number;
    if (cls < 0) continue;
    for (let k = 0; k < HEAD_BOX; k += 1) {
      const d = (z[k * N + n] as number) - (t.box[k * N + n] as number);
      const a = Math.abs(d);
      boxLoss += a < SMOOTH_L1_BETA ? (0.5 * d * d) / SMOOTH_L1_BETA : a - 0.5 * SMOOTH_L1_BETA;
      dHead[k * N + n] = (a < SMOOTH_L1_BETA ? d / SMOOTH_L1_BETA : Math.sign(d)) * boxNorm;
    }
    // Softmax cross-entropy over the class logits.
    let max = -Infinity;
    for (let c = 0; c < C; c += 1) {
      logits[c] = z[(HEAD_OBJECT + 1 + c) * N + n] as number;
      max = Math.max(max, logits[c] as number);
    }
    let sum = 0;
    for (let c = 0; c < C; c += 1) sum += Math.exp((logits[c] as number) - max);
    classLoss += max + Math.log(sum) - (logits[cls] as number);
    for (let c = 0; c < C; c += 1) dHead[(HEAD_OBJECT + 1 + c) * N + n] = (Math.exp((logits[c] as number) - max) / sum - (c === cls ? 1 : 0)) * classNorm;
  }
  boxLoss *= boxNorm;
  classLoss *= classNorm;
  return { loss: objectLoss + classLoss + boxLoss, objectLoss, classLoss, boxLoss, dHead };
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
