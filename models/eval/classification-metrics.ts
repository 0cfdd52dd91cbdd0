import { averagePrecision } from '../vision/metrics.js';
import { prCurve, type CurvePoint } from './detection-metrics.js';

export interface ClassificationClassResult {
  readonly classId: number;
  readonly name: string;
  /** Images of this class. */
  readonly support: number;
  /** Images predicted as this class. */
  readonly predicted: number;
  /** NaN when nothing was predicted as the class (precision) or it has no image (recall). */
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /**
   * One class against the rest: images ranked by the probability given to this class, AP
   * (all-point, as for detection) and its curve: what a threshold on this class's probability
   * would trade (a `defective` class flagged above 0.3 rather than only when it is the top one).
   */
  readonly ap: number;
  readonly curve: readonly CurvePoint[];
  /** Precision and recall of the top-1 answer (the marker on the curve). */
  readonly operatingPoint: { readonly recall: number; readonly precision: number };
}

export interface ClassificationMetrics {
  readonly images: number;
  readonly accuracy: number;
  /** Mean recall over the classes that have images: accuracy that a majority class cannot carry. */
  readonly balancedAccuracy: number;
  readonly classes: readonly ClassificationClassResult[];
  /** `matrix[truth][predicted]`, counts. */
  readonly confusion: readonly (readonly number[])[];
}

/** One image's answer: the top class, its probability and the probability of the true class. */
export interface ClassificationOutcome {
  readonly predicted: number;
  readonly confidence: number;
  readonly trueConfidence: number;
}

/** Top-1 classification metrics over a stream of images: only the confusion matrix is kept. */
export class ClassificationAccumulator {
  private readonly confusion: number[][];
  /** Per class, each image's probability of it (for the one-against-the-rest curves): images x classes numbers in all. */
  private readonly scores: number[][];
  private readonly truths: number[] = [];
  private images = 0;

  constructor(readonly classNames: readonly string[]) {
    this.confusion = classNames.map(() => new Array<number>(classNames.length).fill(0));
    this.scores = classNames.map(() => []);
  }

  /** `probabilities`: one per class (the top one is the answer; ties: the lower class id). */
  add(trueClass: number, probabilities: ArrayLike<number>): ClassificationOutcome {
    const c = this.classNames.length;
    if (probabilities.length !== c) throw new RangeError(`classification metrics: ${probabilities.length} probabilities for ${c} classes`);
    if (!(Number.isInteger(trueClass) && trueClass >= 0 && trueClass < c)) throw new RangeError(`classification metrics: class id ${trueClass} is not one of the ${c} classes`);
    let predicted = 0;
    for (let k = 1; k < c; k += 1) if ((probabilities[k] as number) > (probabilities[predicted] as number)) predicted = k;
    const row = this.confusion[trueClass] as number[];
    row[predicted] = (row[predicted] as number) + 1;
    for (let k = 0; k < c; k += 1) (this.scores[k] as number[]).push(probabilities[k] as number);
    this.truths.push(trueClass);
    this.images += 1;
    return { predicted, confidence: probabilities[predicted] as number, trueConfidence: probabilities[trueClass] as number };
  }

  result(): ClassificationMetrics {
    const m = this.confusion;
    const classes = this.classNames.map((name, k): ClassificationClassResult => {
      const tp = (m[k] as number[])[k] as number;
      const support = (m[k] as number[]).reduce((s, v) => s + v, 0);
      const predicted = m.reduce((s, row) => s + (row[k] as number), 0);
      const precision = predicted === 0 ? Number.NaN : tp / predicted;
      const recall = support === 0 ? Number.NaN : tp / support;
      const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : Number.isNaN(precision + recall) ? Number.NaN : 0;
      const scores = this.scores[k] as number[];
      const order = scores.map((_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
      const isTrue = order.map((i) => this.truths[i] === k);
      const ranked = order.map((i) => scores[i] as number);
      const operatingPoint = { recall: Number.isNaN(recall) ? 0 : recall, precision: Number.isNaN(precision) ? 0 : precision };
      return { classId: k, name, support, predicted, precision, recall, f1, ap: averagePrecision({ scores: ranked, truePositive: isTrue }, support), curve: prCurve(ranked, isTrue, support), operatingPoint };
    });
    const correct = m.reduce((s, row, k) => s + (row[k] as number), 0);
    const withImages = classes.filter((r) => r.support > 0);
    return {
      images: this.images,
      accuracy: this.images === 0 ? Number.NaN : correct / this.images,
      balancedAccuracy: withImages.length === 0 ? Number.NaN : withImages.reduce((s, r) => s + r.recall, 0) / withImages.length,
      classes,
      confusion: m.map((row) => [...row]),
    };
  }
}
