/** Errors of the inference engine; `code` is stable, the message says what to do. */
export type ModelErrorCode = 'E_MODEL_INVALID' | 'E_MODEL_PROVIDER' | 'E_MODEL_INPUT' | 'E_MODEL_OUTPUT' | 'E_MODEL_RUN' | 'E_MODEL_CLOSED';

export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
