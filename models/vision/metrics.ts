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
 * Detection metrics for one class. Each truth box is matched at most once, to the
 * highest-scoring detection of the class with IoU >= 0.5; other detections are false positives.
 */
export function classMetrics(images: readonly EvalImage[], classId: number, threshold: number): ClassMetrics {
  const scored: { score: number; tp: boolean }[] = [];
  let positives = 0;
  for (const img of images) {
    const truth = img.truth.filter((t) => t.classId === classId);
    positives += truth.filter((t) => !t.ignore).length;
    const taken = new Uint8Array(truth.length);
    const dets = img.detections.filter((d) => d.classId === classId).sort((a, b) => b.score - a.score);
    for (const d of dets) {
      let best = -1;
      let bestIou = 0.5;
      truth.forEach((t, i) => {
        const v = iou(d.box, t.box);
        if (taken[i] === 0 && v >= bestIou) {
          best = i;
          bestIou = v;
        }
      });
      if (best >= 0) {
        taken[best] = 1;
        if ((truth[best] as { ignore: boolean }).ignore) continue;
        scored.push({ score: d.score, tp: true });
      } else {
        scored.push({ score: d.score, tp: false });
      }
    }
  }
  scored.sort((a, b) => b.score - a.score);
  const precisions: number[] = [];
  const recalls: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const s of scored) {
    if (s.tp) tp += 1;
    else fp += 1;
    precisions.push(tp / (tp + fp));
    recalls.push(positives === 0 ? 0 : tp / positives);
  }
  // All-point interpolation: precision made monotone from the right, integrated over recall.
  let ap = 0;
  for (let i = precisions.length - 2; i >= 0; i -= 1) precisions[i] = Math.max(precisions[i] as number, precisions[i + 1] as number);
  let prevRecall = 0;
  precisions.forEach((p, i) => {
    ap += ((recalls[i] as number) - prevRecall) * p;
    prevRecall = recalls[i] as number;
  });
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
