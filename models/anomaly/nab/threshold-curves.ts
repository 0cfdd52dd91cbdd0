import { PROFILES, type CostMatrix, type FileRows, type ProfileName } from './scoring.js';

/**
 * NAB's raw score for every threshold of a fixed grid at once, in a form that adds up over
 * files: a file's score at a threshold depends on that file alone, so the score of any set of
 * files (a cross-validation fold's training categories, its held-out one) is a sum of
 * per-file curves, and choosing a threshold on one set and scoring another with it needs no
 * second pass over the points.
 *
 * Threshold k of the grid is k / GRID (k = 1..GRID); a row is a detection at k when
 * floor(score * GRID) >= k, i.e. score >= k / GRID. k = GRID detects nothing (scores are
 * below 1): the null detector is always a candidate. A step of 1/2000 in the score is
 * finer than any threshold choice this corpus can support (the in-sample sweep over every
 * distinct score lands within a step of the grid's best).
 */
export const GRID = 2000;

/** Weight-free parts of the raw score at each threshold, indexed by k (0..GRID). */
export interface ThresholdCurves {
  /** Sum of the FP values (negative) of the detections outside windows. */
  readonly fp: Float64Array;
  /** Sum over windows of the TP value of their first detection. */
  readonly tp: Float64Array;
  /** Windows with no detection. */
  readonly missed: Float64Array;
  /** Windows with scorable rows. */
  windows: number;
}

export function emptyCurves(): ThresholdCurves {
  return { fp: new Float64Array(GRID + 1), tp: new Float64Array(GRID + 1), missed: new Float64Array(GRID + 1), windows: 0 };
}

function bucket(score: number): number {
  const b = Math.floor(score * GRID);
  return b < 0 ? 0 : b > GRID ? GRID : b;
}

/** The curves of one prepared file (rows in time order, as prepareFile gives them). */
export function fileCurves(file: FileRows): ThresholdCurves {
  const fpDiff = new Float64Array(GRID + 2);
  const tpDiff = new Float64Array(GRID + 2);
  const detectedDiff = new Float64Array(GRID + 2);
  // Per window: the highest bucket seen so far. A row that raises it is the first detection
  // for the thresholds between the old and the new highest bucket.
  const highest = new Map<number, number>();
  for (const r of file.rows) {
    const b = bucket(r.anomalyScore);
    if (r.window < 0) {
      // Detected for k = 1..b (k = 0 detects every row but is never chosen: it is below the grid).
      fpDiff[0] = (fpDiff[0] as number) + r.value;
      fpDiff[b + 1] = (fpDiff[b + 1] as number) - r.value;
      continue;
    }
    const prev = highest.get(r.window) ?? -1;
    if (b > prev) {
      tpDiff[prev + 1] = (tpDiff[prev + 1] as number) + r.value;
      tpDiff[b + 1] = (tpDiff[b + 1] as number) - r.value;
      detectedDiff[prev + 1] = (detectedDiff[prev + 1] as number) + 1;
      detectedDiff[b + 1] = (detectedDiff[b + 1] as number) - 1;
      highest.set(r.window, b);
    }
  }
  const c = emptyCurves();
  c.windows = file.windows.length;
  let fp = 0;
  let tp = 0;
  let detected = 0;
  for (let k = 0; k <= GRID; k += 1) {
    fp += fpDiff[k] as number;
    tp += tpDiff[k] as number;
    detected += detectedDiff[k] as number;
    c.fp[k] = fp;
    c.tp[k] = tp;
    c.missed[k] = c.windows - detected;
  }
  return c;
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addCurves(a: ThresholdCurves, b: ThresholdCurves): ThresholdCurves {
  for (let k = 0; k <= GRID; k += 1) {
    a.fp[k] = (a.fp[k] as number) + (b.fp[k] as number);
    a.tp[k] = (a.tp[k] as number) + (b.tp[k] as number);
    a.missed[k] = (a.missed[k] as number) + (b.missed[k] as number);
  }
  a.windows += b.windows;
  return a;
}

export function rawAt(c: ThresholdCurves, k: number, cost: CostMatrix): number {
  return cost.fpWeight * (c.fp[k] as number) + cost.tpWeight * (c.tp[k] as number) - cost.fnWeight * (c.missed[k] as number);
}

/**
 * The grid threshold with the best raw score (ties: the highest threshold, as NAB's sweep
 * from the top keeps the first best it meets). k starts at 1: k = 0 would detect every row.
 */
export function bestThreshold(c: ThresholdCurves, cost: CostMatrix): { k: number; raw: number } {
  let best = { k: GRID, raw: rawAt(c, GRID, cost) };
  for (let k = GRID - 1; k >= 1; k -= 1) {
    const raw = rawAt(c, k, cost);
    if (raw > best.raw) best = { k, raw };
  }
  return best;
}

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];
