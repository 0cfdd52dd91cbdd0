/**
 * Errors raised while decoding or validating a wire message. `code` is stable so
 * receivers can count rejects by kind; the message names the field that was wrong.
 */
export type ProtocolErrorCode =
  | 'E_PAYLOAD_DECODE'
  | 'E_PAYLOAD_INVALID'
  | 'E_PAYLOAD_TOO_LARGE'
  | 'E_TOPIC_INVALID';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
