import type { ModelCard } from './model-card.js';

/** Errors that are the input's fault (the dataset, a checkpoint of another training, an option): exit 2. */
const BAD_INPUT = new Set(['E_DATASET', 'E_CHECKPOINT', 'E_TRAINING_OPTION', 'E_TRAIN_INPUT']);

export interface RunTrainingOptions {
  readonly outDir: string;
  /** Aborted: the trainer stopped between two batches (Ctrl-C); the last finished epoch's checkpoint stays. */
  readonly signal?: AbortSignal;
  /** What was made, for people (the CLI: above its progress display). */
  readonly say: (line: string) => void;
  readonly sayError: (line: string) => void;
  /** The JSON line, last on stdout. */
  readonly json: (line: string) => void;
}

/**
 * `edgewise model train vision` once the dataset is read: runs a trainer, says what it made and
 * prints `{"train": task, ...}` last. Exit code: 0 done, 2 bad input (the message names the file
 * or class), 1 anything else (a stop included: run again with --resume).
 */
export async function runTraining(train: () => Promise<ModelCard>, o: RunTrainingOptions): Promise<number> {
  try {
    const card = await train();
    const t = card.training;
    const loss = t.losses[t.losses.length - 1];
    o.say(`${card.task === 'detect' ? 'detector' : 'classifier'} of ${card.classNames.length} classes (${card.classNames.join(', ')}) written to ${o.outDir}: ${t.trainSamples} training images, ${t.epochs} epochs in ${t.seconds.toFixed(0)} s, last loss ${loss?.toFixed(4) ?? '-'}; suggested confidence ${card.threshold}`);
    o.json(JSON.stringify({ train: card.task, out: o.outDir, architecture: card.architecture, classes: card.classNames, images: t.trainSamples, epochs: t.epochs, loss: loss ?? null, seconds: t.seconds, threshold: card.threshold }));
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && BAD_INPUT.has(code)) {
      o.sayError(`${(err as Error).message} (${code})`);
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
