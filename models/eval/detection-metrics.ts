import { area, iou, type Box } from '../vision/geometry.js';
import { averagePrecision, greedyMatch } from '../vision/metrics.js';

/** COCO's IoU thresholds: 0.50, 0.55, ..., 0.95 (mAP50-95 is the mean over them). */
export const IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => Math.round((50 + 5 * i) * 10) / 1000);

/** The IoU at which precision, recall, the confusion matrix and the PR curve are reported. */
export const REPORT_IOU = 0.5;

/**
 * COCO's object sizes, by box area in image pixels (both ends inclusive, as pycocotools): a
 * defect of 10-40 px on a board is `small`, so the report says how the model does on what the
 * plant cares about, not only on average. Index 0 is every object (what AP means elsewhere).
 */
export const SIZE_RANGES: readonly { readonly name: 'all' | 'small' | 'medium' | 'large'; readonly minArea: number; readonly maxArea: number }[] = [
  { name: 'all', minArea: 0, maxArea: Number.POSITIVE_INFINITY },
  { name: 'small', minArea: 0, maxArea: 32 ** 2 },
  { name: 'medium', minArea: 32 ** 2, maxArea: 96 ** 2 },
  { name: 'large', minArea: 96 ** 2, maxArea: Number.POSITIVE_INFINITY },
];

/** Points a PR curve keeps for the report (the ranking may hold thousands of detections). */
export const MAX_CURVE_POINTS = 200;

export interface EvalTruth {
  readonly box: Box;
  readonly classId: number;
  /** A detection matched to it counts neither way (COCO's `ignore`); default false. */
  readonly ignore?: boolean;
}

export interface EvalDetection {
  readonly box: Box;
  readonly score: number;
  readonly classId: number;
}

/** One point of a PR curve: recall, precision made monotone from the right (what AP integrates), and the score at that rank. */
export interface CurvePoint {
  readonly recall: number;
  readonly precision: number;
  readonly score: number;
}

export interface DetectionClassResult {
  readonly classId: number;
  readonly name: string;
  /** Truths that count. */
  readonly truths: number;
  /** Detections of the class at any score (after NMS). */
  readonly detections: number;
  /** AP per IoU threshold (IOU_THRESHOLDS); NaN when the class has no truth (COCO leaves it out of the means). */
  readonly ap: readonly number[];
  readonly ap50: number;
  readonly ap50_95: number;
  /** At the operating threshold and IoU 0.5. Precision: 0 when the class has truths and nothing was detected, NaN with neither. */
  readonly precision: number;
  readonly recall: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** The PR curve at IoU 0.5, at most MAX_CURVE_POINTS points, recall ascending. */
  readonly curve: readonly CurvePoint[];
  /** Recall and precision at the operating threshold (the marker on the curve). */
  readonly operatingPoint: { readonly recall: number; readonly precision: number };
}

/** AP over the objects of one size (the others ignored, COCO's areaRng). */
export interface SizeResult {
  readonly name: 'small' | 'medium' | 'large';
  /** Truths of this size, over all classes. */
  readonly truths: number;
  /** Means over the classes with truths of this size; NaN when there are none. */
  readonly mAP50: number;
  readonly mAP50_95: number;
}

export interface DetectionMetrics {
  readonly images: number;
  readonly threshold: number;
  readonly classes: readonly DetectionClassResult[];
  /** Means over the classes that have truths (COCO, Ultralytics); NaN when no class has any. */
  readonly mAP50: number;
  readonly mAP50_95: number;
  readonly precision: number;
  readonly recall: number;
  /**
   * Ultralytics' detection confusion matrix at the operating threshold and IoU 0.5:
   * `matrix[truth][predicted]`, index C (the class count) is background: a missed truth is
   * counted at [class][C], a detection on nothing at [C][class].
   */
  readonly confusion: readonly (readonly number[])[];
  /** mAP by object size: small (< 32 x 32 px), medium, large (> 96 x 96 px). */
  readonly bySize: readonly SizeResult[];
}

/** What one image's detections and truths came to: the evaluator picks the worst mistakes from it. */
export interface ImageOutcome {
  /** Per detection as given: true or false positive at IoU 0.5 (for its class), null: on an ignored truth. */
  readonly detectionTrue: readonly (boolean | null)[];
  /** Per truth: the highest score of a detection of its class overlapping it at IoU >= 0.5 (0: none). */
  readonly truthConfidence: readonly number[];
  /** Per truth: found by a detection at or above the operating threshold. */
  readonly truthFound: readonly boolean[];
}

/**
 * Detection metrics over a stream of images, one at a time: per image the matching is done at
 * once (COCO's, per class and IoU threshold), and only each detection's score and which
 * thresholds it was a true positive at are kept, so memory grows by a few numbers a detection,
 * never by images.
 */
export class DetectionAccumulator {
  /** By class: every detection's score. */
  private readonly scores: number[][];
  /** By size range, class, detection: bit i set when a true positive at IOU_THRESHOLDS[i]. */
  private readonly hits: number[][][];
  /** Bit i: out of that threshold's ranking (COCO's dtIg): matched to an ignored truth, or unmatched and of another size. */
  private readonly ignored: number[][][];
  /** By size range and class: truths that count. */
  private readonly positives: Float64Array[];
  private readonly confusion: number[][];
  private images = 0;

  constructor(
    readonly classNames: readonly string[],
    readonly threshold: number,
  ) {
    const c = classNames.length;
    this.scores = Array.from({ length: c }, () => []);
    this.hits = SIZE_RANGES.map(() => Array.from({ length: c }, () => []));
    this.ignored = SIZE_RANGES.map(() => Array.from({ length: c }, () => []));
    this.positives = SIZE_RANGES.map(() => new Float64Array(c));
    this.confusion = Array.from({ length: c + 1 }, () => new Array<number>(c + 1).fill(0));
  }

  add(truth: readonly EvalTruth[], detections: readonly EvalDetection[]): ImageOutcome {
    const c = this.classNames.length;
    for (const x of [...truth, ...detections]) {
      if (!(Number.isInteger(x.classId) && x.classId >= 0 && x.classId < c)) throw new RangeError(`detection metrics: class id ${x.classId} is not one of the ${c} classes`);
    }
    this.images += 1;
    const detectionTrue: (boolean | null)[] = new Array<boolean | null>(detections.length).fill(false);
    const truthConfidence = new Array<number>(truth.length).fill(0);
    const truthFound = new Array<boolean>(truth.length).fill(false);
    for (let k = 0; k < c; k += 1) {
      const ti = truth.flatMap((t, i) => (t.classId === k ? [i] : []));
      // Descending score; ties keep the order given (pycocotools sorts stably too).
      const di = detections.flatMap((d, i) => (d.classId === k ? [i] : [])).sort((a, b) => (detections[b] as EvalDetection).score - (detections[a] as EvalDetection).score || a - b);
      if (ti.length === 0 && di.length === 0) continue;
      const ious = new Float64Array(di.length * ti.length);
      di.forEach((d, a) => ti.forEach((t, b) => (ious[a * ti.length + b] = iou((detections[d] as EvalDetection).box, (truth[t] as EvalTruth).box))));
      const at = (a: number, b: number): number => ious[a * ti.length + b] as number;
      SIZE_RANGES.forEach((range, r) => {
        const inRange = (b: Box): boolean => area(b) >= range.minArea && area(b) <= range.maxArea;
        const ignore = ti.map((i) => (truth[i] as EvalTruth).ignore === true || !inRange((truth[i] as EvalTruth).box));
        const detOutside = di.map((d) => !inRange((detections[d] as EvalDetection).box));
        (this.positives[r] as Float64Array)[k] = ((this.positives[r] as Float64Array)[k] as number) + ignore.filter((x) => !x).length;
        const mask = new Array<number>(di.length).fill(0);
        const ignoredMask = new Array<number>(di.length).fill(0);
        IOU_THRESHOLDS.forEach((thr, bit) => {
          const matchOf = greedyMatch(at, di.length, ignore, thr);
          matchOf.forEach((m, a) => {
            if (m < 0 ? detOutside[a] === true : ignore[m] === true) {
              ignoredMask[a] = (ignoredMask[a] as number) | (1 << bit);
              return;
            }
            if (m < 0) return;
            mask[a] = (mask[a] as number) | (1 << bit);
            if (r === 0 && bit === 0 && (detections[di[a] as number] as EvalDetection).score >= this.threshold) truthFound[ti[m] as number] = true;
          });
        });
        di.forEach((d, a) => {
          if (r === 0) {
            detectionTrue[d] = ((ignoredMask[a] as number) & 1) === 1 ? null : ((mask[a] as number) & 1) === 1;
            (this.scores[k] as number[]).push((detections[d] as EvalDetection).score);
          }
          ((this.hits[r] as number[][])[k] as number[]).push(mask[a] as number);
          ((this.ignored[r] as number[][])[k] as number[]).push(ignoredMask[a] as number);
        });
      });
      ti.forEach((t, b) => {
        for (let a = 0; a < di.length; a += 1) if (at(a, b) >= REPORT_IOU) truthConfidence[t] = Math.max(truthConfidence[t] as number, (detections[di[a] as number] as EvalDetection).score);
      });
    }
    this.addConfusion(truth, detections);
    return { detectionTrue, truthConfidence, truthFound };
  }

  /**
   * Ultralytics' rule, class-agnostic: detections at or above the threshold and truths are
   * paired one to one by IoU >= 0.5, highest IoU first; a pair counts at [truth][predicted],
   * an unpaired truth as missed, an unpaired detection as background. Pairs with an ignored
   * truth, and ignored truths, count nowhere.
   */
  private addConfusion(truth: readonly EvalTruth[], detections: readonly EvalDetection[]): void {
    const bg = this.classNames.length;
    const dets = detections.filter((d) => d.score >= this.threshold);
    const pairs: { d: number; t: number; v: number; s: number }[] = [];
    dets.forEach((d, a) =>
      truth.forEach((t, b) => {
        const v = iou(d.box, t.box);
        if (v >= REPORT_IOU) pairs.push({ d: a, t: b, v, s: d.score });
      }),
    );
    pairs.sort((x, y) => y.v - x.v || y.s - x.s || x.d - y.d || x.t - y.t);
    const dTaken = new Uint8Array(dets.length);
    const tTaken = new Uint8Array(truth.length);
    for (const p of pairs) {
      if (dTaken[p.d] === 1 || tTaken[p.t] === 1) continue;
      dTaken[p.d] = 1;
      tTaken[p.t] = 1;
      const t = truth[p.t] as EvalTruth;
      if (t.ignore === true) continue;
      this.bump(t.classId, (dets[p.d] as EvalDetection).classId);
    }
    truth.forEach((t, b) => {
      if (tTaken[b] === 0 && t.ignore !== true) this.bump(t.classId, bg);
    });
    dets.forEach((d, a) => {
      if (dTaken[a] === 0) this.bump(bg, d.classId);
    });
  }

  private bump(truth: number, predicted: number): void {
    const row = this.confusion[truth] as number[];
    row[predicted] = (row[predicted] as number) + 1;
  }

  result(): DetectionMetrics {
    const classes = this.classNames.map((name, k) => this.classResult(k, name));
    const counted = classes.filter((r) => r.truths > 0);
    const mean = (f: (r: DetectionClassResult) => number): number => (counted.length === 0 ? Number.NaN : counted.reduce((s, r) => s + f(r), 0) / counted.length);
    const bySize = SIZE_RANGES.flatMap((range, r): SizeResult[] => {
      if (range.name === 'all') return [];
      const withTruths = this.classNames.map((_, k) => k).filter((k) => ((this.positives[r] as Float64Array)[k] as number) > 0);
      const aps = withTruths.map((k) => this.averagePrecisions(r, k));
      const meanOf = (f: (ap: number[]) => number): number => (aps.length === 0 ? Number.NaN : aps.reduce((s, ap) => s + f(ap), 0) / aps.length);
      return [{ name: range.name, truths: (this.positives[r] as Float64Array).reduce((a, b) => a + b, 0), mAP50: meanOf((ap) => ap[0] as number), mAP50_95: meanOf((ap) => ap.reduce((a, b) => a + b, 0) / ap.length) }];
    });
    return {
      images: this.images,
      threshold: this.threshold,
      classes,
      mAP50: mean((r) => r.ap50),
      mAP50_95: mean((r) => r.ap50_95),
      precision: mean((r) => r.precision),
      recall: mean((r) => r.recall),
      confusion: this.confusion.map((row) => [...row]),
      bySize,
    };
  }

  /** A class's detections, highest score first, without those ignored at IoU threshold `bit` for size range `r`. */
  private ranked(r: number, classId: number, bit: number): number[] {
    const scores = this.scores[classId] as number[];
    const ignored = (this.ignored[r] as number[][])[classId] as number[];
    return scores
      .map((_, i) => i)
      .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
      .filter((i) => (((ignored[i] as number) >> bit) & 1) === 0);
  }

  /** AP at each IoU threshold for size range `r` (0: all). */
  private averagePrecisions(r: number, classId: number): number[] {
    const scores = this.scores[classId] as number[];
    const hits = (this.hits[r] as number[][])[classId] as number[];
    const positives = (this.positives[r] as Float64Array)[classId] as number;
    return IOU_THRESHOLDS.map((_, bit) => {
      const order = this.ranked(r, classId, bit);
      return averagePrecision({ scores: order.map((i) => scores[i] as number), truePositive: order.map((i) => ((hits[i] as number) >> bit) & 1) }, positives);
    });
  }

  private classResult(classId: number, name: string): DetectionClassResult {
    const scores = this.scores[classId] as number[];
    const hits = (this.hits[0] as number[][])[classId] as number[];
    const positives = (this.positives[0] as Float64Array)[classId] as number;
    const ap = this.averagePrecisions(0, classId);
    const at50 = this.ranked(0, classId, 0);
    let tp = 0;
    let fp = 0;
    for (const i of at50) {
      if ((scores[i] as number) < this.threshold) break;
      if (((hits[i] as number) & 1) === 1) tp += 1;
      else fp += 1;
    }
    const precision = tp + fp > 0 ? tp / (tp + fp) : positives > 0 ? 0 : Number.NaN;
    const recall = positives > 0 ? tp / positives : Number.NaN;
    return {
      classId,
      name,
      truths: positives,
      detections: at50.length,
      ap,
      ap50: ap[0] as number,
      ap50_95: ap.reduce((s, v) => s + v, 0) / ap.length,
      precision,
      recall,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: positives - tp,
      curve: prCurve(
        at50.map((i) => scores[i] as number),
        at50.map((i) => ((hits[i] as number) & 1) === 1),
        positives,
      ),
      operatingPoint: { recall: Number.isNaN(recall) ? 0 : recall, precision: Number.isNaN(precision) ? 0 : precision },
    };
  }
}

/**
 * The curve AP50 integrates, at the ranks where recall grows (precision only changes its
 * envelope there), thinned evenly to MAX_CURVE_POINTS keeping the first and the last.
 */
export function prCurve(rankedScores: ArrayLike<number>, truePositive: readonly boolean[], positives: number): CurvePoint[] {
  if (positives === 0) return [];
  const n = truePositive.length;
  const envelope = new Float64Array(n);
  let tp = 0;
  for (let i = 0; i < n; i += 1) {
    if (truePositive[i] === true) tp += 1;
    envelope[i] = tp / (i + 1);
  }
  for (let i = n - 2; i >= 0; i -= 1) envelope[i] = Math.max(envelope[i] as number, envelope[i + 1] as number);
  const points: CurvePoint[] = [];
  tp = 0;
  for (let i = 0; i < n; i += 1) {
    if (truePositive[i] !== true) continue;
    tp += 1;
    points.push({ recall: tp / positives, precision: envelope[i] as number, score: rankedScores[i] as number });
  }
  if (points.length <= MAX_CURVE_POINTS) return points;
  const step = (points.length - 1) / (MAX_CURVE_POINTS - 1);
  return Array.from({ length: MAX_CURVE_POINTS }, (_, j) => points[Math.round(j * step)] as CurvePoint);
}

/** All images at once (tests, small sets): the accumulator fed image by image. */
export function detectionMetrics(images: readonly { readonly truth: readonly EvalTruth[]; readonly detections: readonly EvalDetection[] }[], classNames: readonly string[], threshold: number): DetectionMetrics {
  const acc = new DetectionAccumulator(classNames, threshold);
  for (const im of images) acc.add(im.truth, im.detections);
  return acc.result();
}
