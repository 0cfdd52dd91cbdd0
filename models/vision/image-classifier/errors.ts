/**
 * A classification dataset the trainer cannot learn from (too few classes, a class with no
 * training image, a class id beyond the names, an image that is not what it says): the message
 * names the file or the class. `edgewise model train` exits 2 on it.
 */
export class TrainingDataError extends Error {
  override readonly name = 'TrainingDataError';
  readonly code = 'E_DATASET';
}

/** A checkpoint left by another training (other classes, input or head) in the same MODEL_DIR. */
export class CheckpointMismatchError extends Error {
  override readonly name = 'CheckpointMismatchError';
  readonly code = 'E_CHECKPOINT';
}
