import { randomFillSync } from 'node:crypto';

/**
 * Uniform numbers in [0, 1), as Math.random. Stochastic rounding draws one per value. A
 * gateway passes `cryptoRandomSource()`: rounding noise that the fleet (or another client)
 * could predict would let it undo part of the quantisation, which matters once updates are
 * masked for secure aggregation. Tests and the simulator pass `seededRandom(seed)`.
 */
export type RandomSource = () => number;

/**
 * mulberry32, the same generator as models/train/random.ts (copied, because fleet/protocol
 * imports nothing of the project): small, fast, 32 bits per draw, reproducible from a seed.
 */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws per refill of the pool: one system call per 1,024 values instead of one per value. */
const POOL_DRAWS = 1024;

/** Uniform [0, 1) from the operating system's CSPRNG (32 bits per draw). */
export function cryptoRandomSource(): RandomSource {
  const pool = new Uint32Array(POOL_DRAWS);
  let next = POOL_DRAWS;
  return () => {
    if (next === POOL_DRAWS) {
      randomFillSync(pool);
      next = 0;
    }
    const v = pool[next] as number;
    next += 1;
    return v / 4294967296;
  };
}
