/**
 * A model and a dataset that cannot be evaluated together (a detector on a folder-per-class
 * dataset, a class the model does not know, a card that does not describe its model): `code` is
 * stable, the message names both sides. `edgewise model eval` exits 2 on it, as on a bad dataset.
 */
export class EvalError extends Error {
  override readonly name = 'EvalError';
  readonly code = 'E_EVAL_MISMATCH';
}
