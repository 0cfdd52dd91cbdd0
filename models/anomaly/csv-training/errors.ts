/**
 * A sensor log (or a set of them) that cannot be trained on or evaluated: `code` is stable,
 * the message names the file, the data row (1-based, the header not counted) or channel, and
 * what to do. `edgewise model` exits 2 on it.
 */
export class SensorDataError extends Error {
  override readonly name = 'SensorDataError';
  readonly code = 'E_DATASET';
}

/** Training stopped by its AbortSignal after a finished epoch; the checkpoint of that epoch is on disk. */
export class TrainingStoppedError extends Error {
  override readonly name = 'TrainingStoppedError';
  readonly code = 'E_TRAINING_STOPPED';
}

/** A training setting out of range (epochs, window, ...): the message names it and its bounds. */
export class TrainingOptionError extends Error {
  override readonly name = 'TrainingOptionError';
  readonly code = 'E_TRAINING_OPTION';
}
