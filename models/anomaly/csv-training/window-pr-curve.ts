import type { CurvePoint } from '../../eval/detection-metrics.js';

/** Points the report's curve keeps at most (a week of windows would otherwise be millions). */
export const MAX_CURVE_POINTS = 200;

/**
 * The precision-recall curve of window scores against 0/1 labels (abnormal is positive): one
 * point per distinct score, highest first, precision as its envelope (the best precision at
 * that recall or beyond, as AP interpolates it), thinned to at most maxPoints points (the
 * last of each recall bin). AP is summed over the full curve before thinning. Empty and null without positives.
 */
export function windowPrCurve(scores: ArrayLike<number>, labels: ArrayLike<number>, maxPoints = MAX_CURVE_POINTS): { curve: CurvePoint[]; ap: number | null } {
  const n = scores.length;
  // NaN ranks lowest, as in rocAuc: a model that answers NaN has not found the anomaly.
  const at = (i: number): number => (Number.isNaN(scores[i] as number) ? -Infinity : (scores[i] as number));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => at(b) - at(a));
  let positives = 0;
  for (let i = 0; i < n; i += 1) positives += labels[i] === 1 ? 1 : 0;
  if (positives === 0) return { curve: [], ap: null };
  const full: CurvePoint[] = [];
  let tp = 0;
  for (let i = 0; i < n; ) {
    // Tied scores pass or fail a threshold together: one point for the lot.
    let j = i;
    for (; j < n && at(order[j] as number) === at(order[i] as number); j += 1) tp += labels[order[j] as number] === 1 ? 1 : 0;
    full.push({ recall: tp / positives, precision: tp / j, score: at(order[i] as number) });
    i = j;
  }
  for (let k = full.length - 2; k >= 0; k -= 1) {
    const p = full[k] as CurvePoint;
    full[k] = { ...p, precision: Math.max(p.precision, (full[k + 1] as CurvePoint).precision) };
  }
  let ap = 0;
  let previous = 0;
  for (const p of full) {
    ap += (p.recall - previous) * p.precision;
    previous = p.recall;
  }
  // The last point of each of maxPoints recall bins (the envelope only falls within a bin).
  const bin = (r: number): number => Math.floor(r * (maxPoints - 1));
  const curve = full.filter((p, k) => k === full.length - 1 || bin((full[k + 1] as CurvePoint).recall) > bin(p.recall));
  return { curve, ap };
}
