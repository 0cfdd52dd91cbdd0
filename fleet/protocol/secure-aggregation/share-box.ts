import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { secAggFail } from './errors.js';

/**
 * The box that carries one client's shares to a peer through the server: AES-256-GCM under a
 * key only the two can derive, with the round, sender and recipient as additional
 * authenticated data. Layout: nonce (12) || ciphertext || tag (16). A relay that flips a bit,
 * or moves a box to another recipient or round, makes opening fail.
 */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const BOX_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

export function sealShares(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_BYTES)): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()]));
}

export function openShares(key: Uint8Array, box: Uint8Array, aad: Uint8Array, from: string): Uint8Array {
  if (box.byteLength < BOX_OVERHEAD_BYTES) return secAggFail('malformed', `the share box from ${from} is ${box.byteLength} bytes, shorter than its nonce and tag`);
  const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(box.subarray(box.byteLength - TAG_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(box.subarray(NONCE_BYTES, box.byteLength - TAG_BYTES)), decipher.final()]));
  } catch (err) {
    return secAggFail('tampered-share', `the share box from ${from} fails authentication: altered on the way, or not made for this client and round`, { cause: err });
  }
}
