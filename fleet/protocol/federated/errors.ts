/**
 * Errors of the federated update's wire path. `code` is stable so that a receiver can count
 * rejects by reason; `field` names what was wrong (a message field like `tensors[2].shape`, a
 * tensor and index like `layer0.w[17]`, or a chunk field like `chunk.index`).
 *
 * - E_FEDERATED_UPDATE: an update (tensors handed to the quantiser, or a message on the wire)
 *   that is malformed: wrong type, out of bounds, inconsistent shape, non-finite value.
 * - E_FEDERATED_CHUNK: a chunk that is malformed, or disagrees with the chunks of the same
 *   update received before it.
 * - E_FEDERATED_CHECKSUM: every chunk arrived, but the whole does not hash to the SHA-256 the
 *   chunks carry; the partial update is dropped and must be sent again.
 * - E_FEDERATED_CAPACITY: a reassembler bound (updates at once, per sender, bytes) would be
 *   exceeded by a new update; nothing was kept, the sender may try again later.
 * - E_FEDERATED_SECAGG: a secure-aggregation message (secagg-message.ts) that is malformed:
 *   not CBOR, an unknown step or key, a field the protocol's checks refuse.
 */
export type FederatedErrorCode = 'E_FEDERATED_UPDATE' | 'E_FEDERATED_CHUNK' | 'E_FEDERATED_CHECKSUM' | 'E_FEDERATED_CAPACITY' | 'E_FEDERATED_SECAGG';

export class FederatedError extends Error {
  override readonly name = 'FederatedError';
  constructor(
    readonly code: FederatedErrorCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

export function updateError(field: string, message: string, options?: { cause?: unknown }): FederatedError {
  return new FederatedError('E_FEDERATED_UPDATE', field, message, options);
}
