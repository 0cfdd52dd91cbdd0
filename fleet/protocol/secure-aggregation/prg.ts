import { createCipheriv } from 'node:crypto';

/**
 * The pseudorandom generator that expands a 32-byte seed into a mask: the AES-256-CTR
 * keystream under the seed as key, from a zero counter block (16 zero bytes), read as
 * unsigned 32-bit integers, little-endian. Every seed is fresh per round and used for one
 * stream only, so the fixed counter start never repeats a keystream. Both sides must expand
 * bit for bit alike: the README gives the same rule for other implementations.
 */
export const SEED_BYTES = 32;

/** Keystream is produced in blocks of this many words (64 KiB), so a long mask never needs a buffer of its own size. */
const CHUNK_WORDS = 16_384;
const ZERO_IV = new Uint8Array(16);
const ZERO_CHUNK = new Uint8Array(CHUNK_WORDS * 4);

function keystream(seed: Uint8Array) {
  if (seed.byteLength !== SEED_BYTES) throw new RangeError(`a PRG seed is ${SEED_BYTES} bytes, not ${seed.byteLength}`);
  return createCipheriv('aes-256-ctr', seed, ZERO_IV);
}

/** target += sign * PRG(seed), element-wise mod 2^32 (a Uint32Array store wraps). */
export function addMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  const cipher = keystream(seed);
  for (let start = 0; start < target.length; start += CHUNK_WORDS) {
    const words = Math.min(CHUNK_WORDS, target.length - start);
    const block = cipher.update(ZERO_CHUNK.subarray(0, words * 4));
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    if (sign === 1) {
      for (let i = 0; i < words; i += 1) target[start + i] = (target[start + i] as number) + view.getUint32(i * 4, true);
    } else {
      for (let i = 0; i < words; i += 1) target[start + i] = (target[start + i] as number) - view.getUint32(i * 4, true);
    }
  }
}

/** PRG(seed) as a vector of `length` words. */
export function expandSeed(seed: Uint8Array, length: number): Uint32Array {
  const out = new Uint32Array(length);
  addMask(out, seed, 1);
  return out;
}

/** The same keystream as a source of words drawn one at a time (the neighbour graph's shuffle). */
export function wordStream(seed: Uint8Array): () => number {
  const cipher = keystream(seed);
  let view = new DataView(new ArrayBuffer(0));
  let next = 0;
  return () => {
    if (next >= view.byteLength) {
      const block = cipher.update(ZERO_CHUNK.subarray(0, 4096));
      view = new DataView(block.buffer, block.byteOffset, block.byteLength);
      next = 0;
    }
    const word = view.getUint32(next, true);
    next += 4;
    return word;
  };
}
