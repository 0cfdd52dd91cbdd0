/**
 * Errors of the round service, each with a stable code the API maps to a problem:
 * - E_LEARNING_TASK_EXISTS: a task with that id exists already (409);
 * - E_LEARNING_TASK_UNKNOWN: no such task (404);
 * - E_LEARNING_TASK_STATE: the task cannot make that move from its state (409);
 * - E_RELEASE_UNKNOWN: the task's model has no such release in the repository, or its file is not there (400);
 * - E_RELEASE_UNSIGNED: a round's model could not be signed (no signer, or the task's role not delegated yet).
 * A task definition that does not parse is the round logic's E_FEDERATED_TASK, naming the field.
 */
export type ServiceErrorCode = 'E_LEARNING_TASK_EXISTS' | 'E_LEARNING_TASK_UNKNOWN' | 'E_LEARNING_TASK_STATE' | 'E_RELEASE_UNKNOWN' | 'E_RELEASE_UNSIGNED';

export class FederatedServiceError extends Error {
  override readonly name = 'FederatedServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const serviceError = (code: ServiceErrorCode, message: string): FederatedServiceError => new FederatedServiceError(code, message);
