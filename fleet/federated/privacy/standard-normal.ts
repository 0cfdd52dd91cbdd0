import { FederatedPrivacyError } from './privacy-error.js';
import type { UniformSource } from './uniform-source.js';

/**
 * Standard normal draws by the Box-Muller transform: two uniforms give two independent N(0, 1)
 * values, r cos(theta) and r sin(theta), with r = sqrt(-2 ln u1), theta = 2 pi u2.
 *
 * Why Box-Muller and not a Ziggurat: the transform is exact (given exact uniforms) and is five
 * lines a reviewer can check against the textbook, with no tables and no rejection branches.
 * Ziggurat is 2-3x faster, but its speed buys nothing here (a round noises a few thousand
 * coordinates: microseconds either way) and its layer tables and tail fallback are where
 * published implementations went wrong (Marsaglia-Tsang 2000 took the layer and the value from
 * the same random bits, a correlation Doornik 2005 found), and a skewed tail is exactly what
 * weakens a DP guarantee. Limit: with 53-bit uniforms the radius never exceeds
 * sqrt(2 * 53 ln 2) = 8.57, which cuts off a probability of 2^-53 per pair of draws; see the
 * README on floating-point noise.
 */
export function standardNormalSampler(random: UniformSource): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    // 1 - u lies in (0, 1], so the logarithm is finite.
    const u1 = 1 - checkedUniform(random());
    const u2 = checkedUniform(random());
    const radius = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    spare = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  };
}

/** A source that leaves [0, 1) is broken; noise drawn from it would not be Gaussian, so stop. */
function checkedUniform(u: number): number {
  if (typeof u !== 'number' || !(u >= 0 && u < 1)) {
    throw new FederatedPrivacyError('random', `the uniform source must return numbers in [0, 1), got ${String(u)}`);
  }
  return u;
}
