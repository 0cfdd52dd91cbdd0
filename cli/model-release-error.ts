/**
 * `edgewise model release` refused its input (exit 2): a model, dataset or option that does
 * not fit the release; the message names the file or option and what to do.
 */
export class ModelReleaseError extends Error {
  override readonly name = 'ModelReleaseError';
  readonly code = 'E_MODEL_RELEASE';
}
