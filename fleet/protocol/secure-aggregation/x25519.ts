import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { secAggFail } from './errors.js';

/**
 * X25519 through node:crypto (OpenSSL). A private key is 32 random bytes (the curve clamps
 * them), which is all generateKeyPairSync('x25519') does too; we build keys from bytes so a
 * client's mask key can be secret-shared and rebuilt by the server, and so tests can seed.
 * Keys cross the wire as their 32 raw bytes (RFC 7748); node:crypto takes them in the fixed
 * RFC 8410 DER wrappers below.
 */
export const KEY_BYTES = 32;
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function wrap(prefix: Uint8Array, raw: Uint8Array): Buffer {
  return Buffer.concat([prefix, raw]);
}

export interface X25519KeyPair {
  /** The 32 secret bytes (kept to be secret-shared when this is the mask key). */
  readonly secret: Uint8Array;
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

export function x25519FromSecret(secret: Uint8Array): X25519KeyPair {
  if (secret.byteLength !== KEY_BYTES) throw new RangeError(`an X25519 private key is ${KEY_BYTES} bytes, not ${secret.byteLength}`);
  const privateKey = createPrivateKey({ key: wrap(PKCS8_PREFIX, secret), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { secret: Uint8Array.from(secret), privateKey, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.byteLength)) };
}

/** The X25519 shared secret of our private key and a peer's raw public key; a low-order peer key is E_SECAGG. */
export function agree(privateKey: KeyObject, peerPublicKey: Uint8Array, peer: string): Uint8Array {
  try {
    const publicKey = createPublicKey({ key: wrap(SPKI_PREFIX, peerPublicKey), format: 'der', type: 'spki' });
    return new Uint8Array(diffieHellman({ privateKey, publicKey }));
  } catch (err) {
    return secAggFail('key-agreement', `key agreement with ${peer} failed: its public key is not a usable X25519 key (${(err as Error).message})`, { cause: err });
  }
}
