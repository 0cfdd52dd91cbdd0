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
  private images = 0;

  constructor(readonly classNames: readonly string[]) {
    this.confusion = classNames.map(() => new Array<number>(classNames.length).fill(0));
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
      return { classId: k, name, support, predicted, precision, recall, f1 };
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
