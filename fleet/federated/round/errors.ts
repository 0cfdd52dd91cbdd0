/**
 * Errors of the round logic. `code` is stable; `field` names what was wrong, so an operator (or
 * the API's problem details) can point at the setting to fix.
 *
 * - E_FEDERATED_TASK: a task definition that cannot run (a field missing, out of range, or at
 *   odds with another field: secure aggregation with a robust rule, DP with a late buffer).
 * - E_FEDERATED_ROUND: the round logic was driven wrongly by its caller (a round opened while
 *   another is open, a round number that does not move forward, an eligible list that is not a
 *   list of distinct gateway ids). A bad UPDATE is never an error: it is a counted rejection.
 */
export type RoundErrorCode = 'E_FEDERATED_TASK' | 'E_FEDERATED_ROUND';

export class FederatedRoundError extends Error {
  override readonly name = 'FederatedRoundError';
  constructor(
    readonly code: RoundErrorCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

export const taskError = (field: string, message: string, options?: { cause?: unknown }): FederatedRoundError => new FederatedRoundError('E_FEDERATED_TASK', field, message, options);
export const roundError = (field: string, message: string): FederatedRoundError => new FederatedRoundError('E_FEDERATED_ROUND', field, message);
