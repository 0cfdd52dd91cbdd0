import type { ClassificationDataset } from '../../datasets/types.js';
import type { OnTrainingProgress } from '../../model-dir/model-card.js';
import { trainImageClassifier } from './train.js';

export interface RunModelTrainClassifyOptions {
  /** Read by the dataset reader (models/datasets), which refuses a bad folder itself. */
  readonly dataset: ClassificationDataset;
  readonly outDir: string;
  readonly epochs: number;
  readonly seed: number;
  readonly resume?: boolean;
  readonly inputSize?: number;
  readonly onProgress?: OnTrainingProgress;
  /** Stops between two batches (the CLI aborts it on SIGINT); the checkpoint of the last finished epoch stays. */
  readonly signal?: AbortSignal;
  /** Where the result and errors are said (the CLI: stdout for the summary, stderr for errors). */
  readonly say: (line: string) => void;
  readonly sayError: (line: string) => void;
}

/** Errors that are the input's fault (the dataset, a checkpoint of another training): exit 2. */
const BAD_INPUT = new Set(['E_DATASET', 'E_CHECKPOINT']);

/**
 * `edgewise model train vision --task classify` once the dataset is read: trains, writes
 * MODEL_DIR and says what it made. Exit code: 0 done, 2 bad input (the message names the file
 * or class), 1 anything else (stopped included: resume with --resume).
 */
export async function runModelTrainClassify(o: RunModelTrainClassifyOptions): Promise<number> {
  try {
    const card = await trainImageClassifier(o.dataset, {
      outDir: o.outDir,
      epochs: o.epochs,
      seed: o.seed,
      ...(o.resume === undefined ? {} : { resume: o.resume }),
      ...(o.inputSize === undefined ? {} : { inputSize: o.inputSize }),
      ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    });
    const loss = card.training.losses[card.training.losses.length - 1];
    o.say(`classifier of ${card.classNames.length} classes (${card.classNames.join(', ')}) written to ${o.outDir}: ${card.training.trainSamples} training images, ${card.training.epochs} epochs in ${card.training.seconds.toFixed(0)} s, last loss ${loss?.toFixed(4) ?? '-'}; suggested confidence ${card.threshold}`);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && BAD_INPUT.has(code)) {
      o.sayError(`${code}: ${(err as Error).message}`);
      return 2;
    }
    if (o.signal?.aborted === true) {
      o.sayError(`training stopped; the last finished epoch is kept in ${o.outDir}: run again with --resume to go on`);
      return 1;
    }
    o.sayError(`training failed: ${(err as Error).message}`);
    return 1;
  }
}
