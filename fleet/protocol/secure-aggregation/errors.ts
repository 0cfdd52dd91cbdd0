/**
 * Every failure of the secure-aggregation protocol is one error class with the stable code
 * E_SECAGG; `reason` says which rule was broken, so a round service can count refusals by
 * kind, and the message names the client, field or share at fault.
 */
export type SecAggReason =
  /** A parameter of the round is out of bounds or inconsistent. */
  | 'invalid-params'
  /** A message is not of the shape the protocol defines (a field missing, of the wrong type or size). */
  | 'malformed'
  /** A message names another round than the one in progress. */
  | 'wrong-round'
  /** A message arrived in a phase that does not take it. */
  | 'wrong-phase'
  /** A message from, to or about a client that is not in the round (or not in the set it must be in). */
  | 'unknown-client'
  /** A second message of the same kind from the same client. */
  | 'duplicate'
  /** Two clients advertised the same public key. */
  | 'duplicate-key'
  /** A message disagrees with what the receiver already knows (a survivor that never sent shares, a holder list that is not the round's). */
  | 'inconsistent'
  /** A share failed its authentication (encrypted box) or its digest, or a reconstructed secret failed its commitment. */
  | 'tampered-share'
  /** Fewer clients are left than the threshold: the protocol stops rather than reveal a sum of too few inputs. */
  | 'too-few-clients'
  /** Fewer valid shares than the threshold for a secret the server must reconstruct. */
  | 'too-few-shares'
  /** A client refuses to reveal a share of the other kind for a peer it already revealed one for. */
  | 'refused-reveal'
  /** X25519 key agreement failed (a low-order public key). */
  | 'key-agreement';

export class SecureAggregationError extends Error {
  override readonly name = 'SecureAggregationError';
  readonly code = 'E_SECAGG';
  constructor(
    readonly reason: SecAggReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function secAggFail(reason: SecAggReason, message: string, options?: { cause?: unknown }): never {
  throw new SecureAggregationError(reason, message, options);
}
