/**
 * The Numenta Anomaly Benchmark's scoring rules (NAB 1.1, `sweeper.py`), reimplemented:
 *
 * - The first 15% of each file (at most 750 rows) is probation: not scored.
 * - A detection is a row whose anomaly score is >= the threshold.
 * - Inside a labelled window, a detection scores tpWeight * S(p) / S(-1), where
 *   p = -(windowEnd - i + 1) / windowWidth (so -1 at the window's first row) and
 *   S(x) = 2 * sigmoid(-5x) - 1. Only the best (earliest) detection of a window counts.
 * - A window with no detection scores -fnWeight.
 * - Outside windows, a detection scores fpWeight * S(|i - prevWindowEnd| / (prevWidth - 1)),
 *   or -fpWeight before any window; S is -1 from 3 window widths on.
 * - One threshold for all files: the one that maximises the summed score. The result is
 *   normalised so that the null detector (no detections) scores 0 and a perfect one (a
 *   detection at the first row of every window, nothing else) scores 100.
 */
export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

export const PROFILES = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
} as const satisfies Record<string, CostMatrix>;
export type ProfileName = keyof typeof PROFILES;

export const PROBATION_PERCENT = 0.15;

export function probationLength(rows: number): number {
  return Math.min(Math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000);
}

export function scaledSigmoid(x: number): number {
  if (x > 3) return -1;
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** One scorable row: its anomaly score, what a detection there is worth, and its window. */
export interface ScoredRow {
  readonly anomalyScore: number;
  /** Weight-free: the TP value (S(p)/S(-1)) inside a window, the FP value (S(...), negative) outside. */
  readonly value: number;
  /** Index of the window (unique across files), or -1 outside windows. */
  readonly window: number;
}

export interface FileRows {
  readonly rows: readonly ScoredRow[];
  /** Windows of this file that have scorable rows (global indexes). */
  readonly windows: readonly number[];
}

/**
 * Prepares one file: `windowRanges` are [firstRow, lastRow] index pairs, in order, not
 * overlapping. `windowBase` numbers this file's windows globally.
 */
export function prepareFile(anomalyScores: ArrayLike<number>, windowRanges: readonly (readonly [number, number])[], windowBase: number): FileRows {
  const n = anomalyScores.length;
  const probation = probationLength(n);
  const rows: ScoredRow[] = [];
  const windows = new Set<number>();
  let w = 0;
  let prevEnd = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i += 1) {
    while (w < windowRanges.length && i > (windowRanges[w] as readonly [number, number])[1]) {
      prevEnd = (windowRanges[w] as readonly [number, number])[1];
      prevWidth = prevEnd - (windowRanges[w] as readonly [number, number])[0] + 1;
      w += 1;
    }
    const cur = windowRanges[w];
    const inWindow = cur !== undefined && i >= cur[0] && i <= cur[1];
    let value: number;
    if (inWindow) {
      const width = cur[1] - cur[0] + 1;
      value = scaledSigmoid(-(cur[1] - i + 1) / width) / MAX_TP;
    } else if (prevEnd < 0) {
      value = -1;
    } else {
      value = scaledSigmoid(Math.abs(prevEnd - i) / (prevWidth - 1));
    }
    if (i < probation) continue;
    const window = inWindow ? windowBase + w : -1;
    if (window >= 0) windows.add(window);
    rows.push({ anomalyScore: anomalyScores[i] as number, value, window });
  }
  return { rows, windows: [...windows] };
}

export interface ThresholdResult {
  readonly threshold: number;
  /** Summed weighted score over all files. */
  readonly score: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

/** Every scorable row of the files, highest anomaly score first (one sort for every profile). */
function rowsByScore(files: readonly FileRows[]): ScoredRow[] {
  const rows: ScoredRow[] = [];
  for (const f of files) for (const r of f.rows) rows.push(r);
  return rows.sort((a, b) => b.anomalyScore - a.anomalyScore);
}

/**
 * The best single threshold over all files, by sweeping every distinct anomaly score from
 * the highest down (a detection is score >= threshold), as NAB's sweeper does.
 */
export function optimizeThreshold(files: readonly FileRows[], cost: CostMatrix, sorted: readonly ScoredRow[] = rowsByScore(files)): ThresholdResult {
  const rows = sorted;
  const windowBest = new Map<number, number>();
  for (const f of files) for (const w of f.windows) windowBest.set(w, -cost.fnWeight);
  let fpSum = 0;
  let windowSum = -cost.fnWeight * windowBest.size;
  let tpWindows = 0;
  let fpRows = 0;
  let best: ThresholdResult = { threshold: 1.1, score: windowSum, tp: 0, fp: 0, fn: windowBest.size };
  for (let i = 0; i < rows.length; ) {
    const threshold = (rows[i] as ScoredRow).anomalyScore;
    // Every row at this score becomes a detection together.
    for (; i < rows.length && (rows[i] as ScoredRow).anomalyScore === threshold; i += 1) {
      const r = rows[i] as ScoredRow;
      if (r.window < 0) {
        fpSum += r.value * cost.fpWeight;
        fpRows += 1;
      } else {
        const prev = windowBest.get(r.window) as number;
        const v = r.value * cost.tpWeight;
        if (prev === -cost.fnWeight) tpWindows += 1;
        if (v > prev) {
          windowSum += v - prev;
          windowBest.set(r.window, v);
        }
      }
    }
    const score = fpSum + windowSum;
    if (score > best.score) best = { threshold, score, tp: tpWindows, fp: fpRows, fn: windowBest.size - tpWindows };
  }
  return best;
}

/** The normalised score: 0 for the null detector, 100 for a perfect one. */
export function normalizeScore(raw: number, windowCount: number, cost: CostMatrix): number {
  const nullScore = -cost.fnWeight * windowCount;
  const perfect = cost.tpWeight * windowCount;
  return windowCount === 0 ? 0 : (100 * (raw - nullScore)) / (perfect - nullScore);
}

export interface ProfileScore {
  readonly profile: ProfileName;
  readonly threshold: number;
  readonly raw: number;
  readonly normalized: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export function scoreProfiles(files: readonly FileRows[]): ProfileScore[] {
  const windowCount = new Set(files.flatMap((f) => f.windows)).size;
  const sorted = rowsByScore(files);
  return (Object.keys(PROFILES) as ProfileName[]).map((profile) => {
    const cost = PROFILES[profile];
    const best = optimizeThreshold(files, cost, sorted);
    return { profile, threshold: best.threshold, raw: best.score, normalized: normalizeScore(best.score, windowCount, cost), tp: best.tp, fp: best.fp, fn: best.fn };
  });
}
