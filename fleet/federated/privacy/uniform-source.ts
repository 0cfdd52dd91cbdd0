import { randomBytes } from 'node:crypto';
import { seededRandom } from '../../../models/train/random.js';

/**
 * Where the noise's randomness comes from: a function returning a uniform double in [0, 1).
 * Injected, so that tests are repeatable from a seed while the fleet draws from the operating
 * system's CSPRNG. The noise is the privacy: a predictable source (Math.random, a seed someone
 * can learn) lets whoever knows it subtract the noise and read the exact sum.
 */
export type UniformSource = () => number;

/** 2^-53: one step of a double's 53-bit significand in [0, 1). */
const TWO_POW_MINUS_53 = 2 ** -53;
/** Bytes fetched from the CSPRNG at a time; bounds the pool and amortises the system call. */
export const CRYPTO_POOL_BYTES = 4096;

/** A uniform double in [0, 1) with all 53 bits random, from a 21-bit high and a 32-bit low word. */
export function uniformFromWords(high21: number, low32: number): number {
  return ((high21 & 0x1fffff) * 2 ** 32 + (low32 >>> 0)) * TWO_POW_MINUS_53;
}

/**
 * Uniform doubles from node:crypto (the kernel's CSPRNG), every one of the 2^53 values in
 * [0, 1) equally likely. Not reproducible by design: use it for rounds, never in tests.
 */
export function cryptoUniformSource(): UniformSource {
  let pool = randomBytes(CRYPTO_POOL_BYTES);
  let offset = 0;
  return () => {
    if (offset + 8 > pool.length) {
      pool = randomBytes(CRYPTO_POOL_BYTES);
      offset = 0;
    }
    const value = uniformFromWords(pool.readUInt32LE(offset), pool.readUInt32LE(offset + 4));
    offset += 8;
    return value;
  };
}

/**
 * A reproducible source for tests and the simulator (mulberry32, the trainer's PRNG: 32 random
 * bits per draw). Never for a real round: anyone who learns the seed can remove the noise.
 */
export function seededUniformSource(seed: number): UniformSource {
  return seededRandom(seed);
}
