/**
 * Errors of the aggregation rules. `code` is stable so a round can count refusals by kind;
 * the message names what was wrong and why, for an operator reading a log.
 *
 * - `E_FEDERATED_TASK`: the task's choice of rule or its options cannot work (an unknown rule,
 *   a trim share out of range, Krum's f too large for the updates there are, a robust rule
 *   with secure aggregation).
 * - `E_FEDERATED_UPDATE`: an update handed to a rule is malformed (no updates, shapes that
 *   differ, a sample count that is not a positive integer, a value that is not finite).
 */
export type StrategyErrorCode = 'E_FEDERATED_TASK' | 'E_FEDERATED_UPDATE';

export class StrategyError extends Error {
  override readonly name = 'StrategyError';
  constructor(
    readonly code: StrategyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const taskError = (message: string): StrategyError => new StrategyError('E_FEDERATED_TASK', message);
export const updateError = (message: string): StrategyError => new StrategyError('E_FEDERATED_UPDATE', message);
