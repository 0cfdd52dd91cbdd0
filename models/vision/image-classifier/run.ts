import type { ClassificationDataset } from '../../datasets/types.js';
import type { OnTrainingProgress } from '../../model-dir/model-card.js';
import { runTraining } from '../../model-dir/run-training.js';
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
  /** Where the result and errors are said (the CLI: above its progress display), and the JSON line (stdout). */
  readonly say: (line: string) => void;
  readonly sayError: (line: string) => void;
  readonly json?: (line: string) => void;
}

/** `edgewise model train vision --task classify` once the dataset is read (exit codes: runTraining). */
export async function runModelTrainClassify(o: RunModelTrainClassifyOptions): Promise<number> {
  return runTraining(
    () =>
      trainImageClassifier(o.dataset, {
        outDir: o.outDir,
        epochs: o.epochs,
        seed: o.seed,
        ...(o.resume === undefined ? {} : { resume: o.resume }),
        ...(o.inputSize === undefined ? {} : { inputSize: o.inputSize }),
        ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      }),
    { outDir: o.outDir, ...(o.signal === undefined ? {} : { signal: o.signal }), say: o.say, sayError: o.sayError, json: o.json ?? (() => undefined) },
  );
}
