/** A fleet API answer the scorecard reads was not in the documented shape; the message names the field. */
export class ScoreInputError extends Error {
  readonly code = 'E_SCORE_INPUT';
  override readonly name = 'ScoreInputError';
}
