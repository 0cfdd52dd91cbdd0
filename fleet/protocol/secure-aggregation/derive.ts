import { createHash, hkdfSync } from 'node:crypto';

/**
 * Every key, seed, commitment and digest of the protocol comes from one of these functions,
 * each under its own label, so that no value made for one purpose can stand in for another,
 * and each is bound to the round (HKDF salt or hashed in) so nothing carries over between rounds.
 * Variable-length fields (round and client ids) are separated by a zero byte, which neither
 * may contain. Byte layouts are in the README.
 */
const LABEL = 'edgewise/secagg/v1/';
const ZERO = new Uint8Array(1);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function hkdf(ikm: Uint8Array, round: string, info: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, utf8(round), concat(info), 32));
}

function sha256(parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** The pairwise mask seed s_uv of two clients from their X25519 shared secret; the same whichever of the two computes it. */
export function pairMaskSeed(round: string, sharedSecret: Uint8Array, a: string, b: string): Uint8Array {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return hkdf(sharedSecret, round, [utf8(`${LABEL}pair-mask`), ZERO, utf8(lo), ZERO, utf8(hi)]);
}

/** The AES-256-GCM key for the one box of shares `from` sends to `to` (one key per direction). */
export function shareBoxKey(round: string, sharedSecret: Uint8Array, from: string, to: string): Uint8Array {
  return hkdf(sharedSecret, round, [utf8(`${LABEL}share-box`), ZERO, utf8(from), ZERO, utf8(to)]);
}

/** Additional authenticated data of that box: binds it to the round, sender and recipient. */
export function shareBoxAad(round: string, from: string, to: string): Uint8Array {
  return concat([utf8(`${LABEL}share-box`), ZERO, utf8(round), ZERO, utf8(from), ZERO, utf8(to)]);
}

/**
 * The commitment to a client's self-mask seed b_u, sent to the server with its shares: lets
 * the server check a reconstructed b_u. Hiding because b_u is 256 uniformly random bits.
 */
export function selfMaskCommitment(round: string, owner: string, seed: Uint8Array): Uint8Array {
  return sha256([utf8(`${LABEL}self-mask-commitment`), ZERO, utf8(round), ZERO, utf8(owner), ZERO, seed]);
}

export type ShareKind = 'mask-key' | 'self-mask';

/**
 * The digest of one share, published by its dealer to the server: the server checks each
 * share a holder returns and drops a wrong one instead of reconstructing garbage. A share of
 * a threshold-t sharing with t >= 2 is uniformly random on its own, so its digest tells nothing.
 */
export function shareDigest(round: string, kind: ShareKind, dealer: string, holder: string, share: Uint8Array): Uint8Array {
  return sha256([utf8(`${LABEL}share/${kind}`), ZERO, utf8(round), ZERO, utf8(dealer), ZERO, utf8(holder), ZERO, share]);
}

/** The key of the keystream that shuffles clients onto the neighbour ring (SecAgg+). */
export function graphShuffleKey(round: string, seed: Uint8Array): Uint8Array {
  return hkdf(seed, round, [utf8(`${LABEL}graph`)]);
}
