import { combine, split } from 'shamir-secret-sharing';

/**
 * t-of-n sharing of 32-byte secrets with shamir-secret-sharing (Privy; audited by Cure53 and
 * Zellic): byte-wise Shamir over GF(2^8), a share being the 32 evaluated bytes followed by its
 * x coordinate (distinct, random in 1..255). The library neither records the threshold nor
 * checks what `combine` returns (fewer than t shares, or a wrong one, silently give a wrong
 * secret), so callers check every share against its dealer's digest before combining and
 * the result against a commitment after.
 */
export const SECRET_BYTES = 32;
export const SHARE_BYTES = SECRET_BYTES + 1;

export async function splitSecret(secret: Uint8Array, holders: number, threshold: number): Promise<Uint8Array[]> {
  if (secret.byteLength !== SECRET_BYTES) throw new RangeError(`a shared secret is ${SECRET_BYTES} bytes, not ${secret.byteLength}`);
  // The library checks `secret.constructor === Uint8Array`: a Buffer (a subclass) is refused.
  return split(Uint8Array.from(secret), holders, threshold);
}

/** Interpolates the secret from shares already checked against their digests (at least the threshold, distinct holders). */
export async function combineShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  return combine(shares.map((s) => Uint8Array.from(s)));
}
