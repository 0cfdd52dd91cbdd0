import { iou, type Box } from './geometry.js';

export interface EvalImage {
  readonly detections: readonly { readonly box: Box; readonly score: number; readonly classId: number }[];
  /** `ignore`: a detection matched to it counts neither way (a part mostly outside the frame). */
  readonly truth: readonly { readonly box: Box; readonly classId: number; readonly ignore: boolean }[];
}

export interface ClassMetrics {
  /** At the operating threshold. */
  readonly precision: number;
  readonly recall: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** Average precision at IoU 0.5 over all scores (all-point interpolation, as VOC 2010+ and COCO). */
  readonly ap50: number;
}

/**
 * COCO's greedy matching of one image and one class (pycocotools `evaluateImg`): detections in
 * the order given (descending score), each takes the still unmatched truth of highest IoU that
 * reaches `iouThreshold`; a truth that counts is taken before an ignored one at any IoU. Returns,
 * per detection, the index of the truth it matched or -1 (a false positive). A detection matched
 * to an ignored truth counts neither way (the caller sees `ignore` of its truth).
 */
export function greedyMatch(ious: (detection: number, truth: number) => number, detections: number, ignore: readonly boolean[], iouThreshold: number): Int32Array {
  const matchOf = new Int32Array(detections).fill(-1);
  const taken = new Uint8Array(ignore.length);
  for (let d = 0; d < detections; d += 1) {
    let best = -1;
    let bestIou = iouThreshold;
    let bestIgnored = true;
    for (let t = 0; t < ignore.length; t += 1) {
      if (taken[t] === 1) continue;
      const ignored = ignore[t] === true;
      // Once a truth that counts is in hand, an ignored one never replaces it.
      if (best >= 0 && !bestIgnored && ignored) continue;
      const v = ious(d, t);
      if (v < iouThreshold) continue;
      if (best < 0 || (bestIgnored && !ignored) || v > bestIou) {
        best = t;
        bestIou = v;
        bestIgnored = ignored;
      }
    }
    if (best >= 0) {
      taken[best] = 1;
      matchOf[d] = best;
    }
  }
  return matchOf;
}

/** Detections of one class ranked by score (highest first), each a true or false positive. */
export interface RankedDetections {
  readonly scores: ArrayLike<number>;
  readonly truePositive: ArrayLike<boolean | number>;
}

/**
 * Average precision, all-point interpolation (VOC 2010+; COCO samples the same curve at 101
 * recall points): precision made monotone from the right, integrated over recall. `positives`:
 * truths that count. The detections must be ranked (descending score).
 */
export function averagePrecision(ranked: RankedDetections, positives: number): number {
  const n = ranked.scores.length;
  if (positives === 0) return Number.NaN;
  const precisions = new Float64Array(n);
  const recalls = new Float64Array(n);
  let tp = 0;
  for (let i = 0; i < n; i += 1) {
    if (ranked.truePositive[i]) tp += 1;
    precisions[i] = tp / (i + 1);
    recalls[i] = tp / positives;
  }
  for (let i = n - 2; i >= 0; i -= 1) precisions[i] = Math.max(precisions[i] as number, precisions[i + 1] as number);
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < n; i += 1) {
    ap += ((recalls[i] as number) - prevRecall) * (precisions[i] as number);
    prevRecall = recalls[i] as number;
  }
  return ap;
}

/**
 * Detection metrics for one class. Each truth box is matched at most once, to the
 * highest-scoring detection of the class with IoU >= 0.5 (greedyMatch); other detections are
 * false positives.
 */
export function classMetrics(images: readonly EvalImage[], classId: number, threshold: number): ClassMetrics {
  const scored: { score: number; tp: boolean }[] = [];
  let positives = 0;
  for (const img of images) {
    const truth = img.truth.filter((t) => t.classId === classId);
    positives += truth.filter((t) => !t.ignore).length;
    const dets = img.detections.filter((d) => d.classId === classId).sort((a, b) => b.score - a.score);
    const ignore = truth.map((t) => t.ignore);
    const matchOf = greedyMatch((d, t) => iou((dets[d] as EvalImage['detections'][number]).box, (truth[t] as EvalImage['truth'][number]).box), dets.length, ignore, 0.5);
    dets.forEach((d, k) => {
      const m = matchOf[k] as number;
      if (m >= 0 && ignore[m] === true) return;
      scored.push({ score: d.score, tp: m >= 0 });
    });
  }
  scored.sort((a, b) => b.score - a.score);
  const ap = averagePrecision({ scores: scored.map((s) => s.score), truePositive: scored.map((s) => s.tp) }, positives);
  const atT = scored.filter((s) => s.score >= threshold);
  const tpT = atT.filter((s) => s.tp).length;
  const fpT = atT.length - tpT;
  return { precision: atT.length === 0 ? 1 : tpT / atT.length, recall: positives === 0 ? 1 : tpT / positives, truePositives: tpT, falsePositives: fpT, falseNegatives: positives - tpT, ap50: positives === 0 ? 1 : ap };
}

/** How one model's detections on a frame compare with another's (see matchDetections). */
export interface DetectionMatch {
  /** Detections of each. */
  readonly active: number;
  readonly candidate: number;
  /** Candidate detections matched one-to-one to an active one at IoU >= the threshold (any class). */
  readonly matched: number;
  /** Of the matched pairs, those of the same class. */
  readonly sameClass: number;
}

/**
 * Matches a candidate model's detections on a frame to the active model's, greedily and
 * one-to-one: the candidate's detections in descending score (ties: in the order given) each
 * take the still unmatched active detection of highest IoU, if it reaches `iouThreshold`, of
 * any class. Ties in IoU go to the active detection of the same class, then of the higher score,
 * so that for detections of distinct scores the counts do not depend on the order of either list.
 */
export function matchDetections(
  active: readonly { readonly box: Box; readonly score: number; readonly classId: number }[],
  candidate: readonly { readonly box: Box; readonly score: number; readonly classId: number }[],
  iouThreshold = 0.5,
): DetectionMatch {
  const taken = new Uint8Array(active.length);
  const order = candidate.map((_, i) => i).sort((a, b) => (candidate[b] as { score: number }).score - (candidate[a] as { score: number }).score || a - b);
  let matched = 0;
  let sameClass = 0;
  for (const k of order) {
    const c = candidate[k] as { box: Box; score: number; classId: number };
    let best = -1;
    let bestIou = 0;
    active.forEach((a, i) => {
      if (taken[i] === 1) return;
      const v = iou(c.box, a.box);
      if (!(v >= iouThreshold)) return;
      if (best >= 0) {
        const b = active[best] as { score: number; classId: number };
        const better = v > bestIou || (v === bestIou && ((a.classId === c.classId && b.classId !== c.classId) || ((a.classId === c.classId) === (b.classId === c.classId) && a.score > b.score)));
        if (!better) return;
      }
      best = i;
      bestIou = v;
    });
    if (best < 0) continue;
    taken[best] = 1;
    matched += 1;
    if ((active[best] as { classId: number }).classId === c.classId) sameClass += 1;
  }
  return { active: active.length, candidate: candidate.length, matched, sameClass };
}
