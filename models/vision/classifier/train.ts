import { trainMlp } from '../../train/adam.js';
import { Mlp } from '../../train/mlp.js';
import { CLASSIFIER_CLASSES, CROP_VALUES } from './architecture.js';

export interface ClassifierTrainOptions {
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Trains the crop classifier: `crops` holds `count` centred 32x32 crops, `labels` their
 * class ids; softmax cross-entropy. Deterministic from the seed.
 */
export async function trainClassifier(crops: Float64Array, labels: Uint8Array, count: number, o: ClassifierTrainOptions): Promise<{ model: Mlp; losses: number[] }> {
  const classes = CLASSIFIER_CLASSES.length;
  if (crops.length !== count * CROP_VALUES || labels.length !== count) throw new RangeError(`trainClassifier: ${count} crops need ${count * CROP_VALUES} values and ${count} labels`);
  const model = new Mlp([CROP_VALUES, ...o.hidden, classes], o.seed);
  const losses = await trainMlp(model, count, o, (indices) => {
    const x = new Float64Array(indices.length * CROP_VALUES);
    indices.forEach((e, r) => x.set(crops.subarray(e * CROP_VALUES, (e + 1) * CROP_VALUES), r * CROP_VALUES));
    return {
      x,
      loss: (out, rows) => {
        const delta = new Float64Array(out.length);
        let value = 0;
        indices.forEach((e, r) => {
          let max = -Infinity;
          for (let c = 0; c < classes; c += 1) max = Math.max(max, out[r * classes + c] as number);
          let sum = 0;
          for (let c = 0; c < classes; c += 1) sum += Math.exp((out[r * classes + c] as number) - max);
          const y = labels[e] as number;
          value += (Math.log(sum) + max - (out[r * classes + y] as number)) / rows;
          for (let c = 0; c < classes; c += 1) delta[r * classes + c] = (Math.exp((out[r * classes + c] as number) - max) / sum - (c === y ? 1 : 0)) / rows;
        });
        return { value, delta };
      },
    };
  });
  return { model, losses };
}
