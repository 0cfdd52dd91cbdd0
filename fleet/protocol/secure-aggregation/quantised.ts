import { secAggFail } from './errors.js';

/**
 * Integer-quantised updates in the ring the masks live in (uint32, mod 2^32).
 *
 * A quantised value q (int8 from the gateway's quantiser, or wider) enters as its two's
 * complement in 32 bits: q mod 2^32, i.e. sign-extended and read as unsigned. Sums mod 2^32
 * of such words are the two's complement of the true integer sum as long as that sum stays in
 * [-2^31, 2^31 - 1]; with |q| <= maxAbs per client, that holds for up to
 * floor((2^31 - 1) / maxAbs) clients (16,909,320 for int8's 127), and the fleet reads the sum
 * back as a signed int32. (Offsetting q by +maxAbs into [0, 2 maxAbs] works too but has to
 * subtract clients x maxAbs again; the two's complement needs no correction.)
 *
 * Scales: a gateway's own quantiser picks a scale per tensor from its own delta, so two
 * clients' q are in different units and sum(q) means nothing; and the server cannot apply a
 * scale to an input it never sees. A secure round therefore fixes one scale for everyone
 * before training: s = clipNorm / levels. Every client clips its delta to L2 norm <= clipNorm
 * anyway, so no coordinate exceeds clipNorm and q = stochasticRound(delta / s) lies in
 * [-levels, levels] with nothing clipped; the fleet gets sum(delta) ~= s x sum(q). The price is
 * resolution: a delta spread over d coordinates has coordinates near clipNorm / sqrt(d), a few
 * steps of s at levels = 127; stochastic rounding keeps the sum unbiased, with variance at most
 * s^2 / 4 per coordinate and client. Since a masked word is 32 bits whatever q's width, wider
 * levels cost no bytes: `widestLevels(n)` is the most that n clients' sum can take (measured
 * by `npm run bench -- secure-aggregation`: the sum of 20 autoencoder-sized deltas at the clip
 * norm is off by about 27% at 127 shared levels, 1.3% with each client's own int8 scale, and
 * nothing measurable at the widest levels).
 */
export const INT8_LEVELS = 127;
const INT32_MAX = 0x7fff_ffff;

/** The most clients whose values of magnitude <= maxAbs can be summed without leaving int32. */
export function maxSummands(maxAbs: number): number {
  if (!Number.isSafeInteger(maxAbs) || maxAbs < 1 || maxAbs > INT32_MAX) throw new RangeError(`maxAbs must be an integer from 1 to ${INT32_MAX}`);
  return Math.floor(INT32_MAX / maxAbs);
}

/**
 * The most levels a round of `clients` sampled clients can use without the sum leaving int32:
 * the finest shared scale the uint32 ring allows (107,374,182 levels for 20 clients).
 */
export function widestLevels(clients: number): number {
  if (!Number.isSafeInteger(clients) || clients < 1 || clients > INT32_MAX) secAggFail('invalid-params', `clients must be an integer from 1 to ${INT32_MAX}, got ${clients}`);
  return Math.floor(INT32_MAX / clients);
}

/** The shared scale of a secure round: one quantisation step, in the delta's units. */
export function sharedScale(clipNorm: number, levels: number = INT8_LEVELS): number {
  if (!(Number.isFinite(clipNorm) && clipNorm > 0)) secAggFail('invalid-params', `clip norm must be a positive finite number, got ${clipNorm}`);
  maxSummands(levels);
  return clipNorm / levels;
}

/** int8 (or any integer array) values as uint32 words: q mod 2^32. */
export function embedSigned(q: Int8Array | Int16Array | Int32Array): Uint32Array {
  return new Uint32Array(Int32Array.from(q).buffer);
}

/**
 * Quantises a clipped delta with the round's shared scale, stochastically (`uniform` in [0, 1)),
 * straight into uint32 words. A value beyond clipNorm (the delta was not clipped) or not finite
 * is E_SECAGG: it would not fit the levels the fleet decodes with.
 */
export function quantiseShared(delta: ArrayLike<number>, scale: number, levels: number, uniform: () => number): Uint32Array {
  const out = new Uint32Array(delta.length);
  for (let i = 0; i < delta.length; i += 1) {
    const v = (delta[i] as number) / scale;
    if (!Number.isFinite(v) || Math.abs(v) > levels * (1 + 1e-9)) secAggFail('malformed', `delta[${i}] = ${delta[i]} is not finite or lies beyond the clip norm (${levels * scale})`);
    out[i] = Math.max(-levels, Math.min(levels, Math.floor(v + uniform())));
  }
  return out;
}

/**
 * The integer sum of `summands` clients' values of magnitude <= maxAbs, from their sum mod 2^32.
 * Refuses a count for which the sum could have wrapped.
 */
export function decodeSignedSum(sum: Uint32Array, summands: number, maxAbs: number = INT8_LEVELS): Int32Array {
  if (!Number.isSafeInteger(summands) || summands < 1 || summands > maxSummands(maxAbs)) {
    secAggFail('invalid-params', `${summands} clients' values of magnitude up to ${maxAbs} can overflow int32; at most ${maxSummands(maxAbs)} can be summed`);
  }
  return new Int32Array(sum.buffer, sum.byteOffset, sum.length).slice();
}

/** sum(delta) as floats: the decoded integer sum times the shared scale (divide by the survivors for the mean). */
export function sumToFloats(sum: Uint32Array, summands: number, scale: number, maxAbs: number = INT8_LEVELS): Float64Array {
  return Float64Array.from(decodeSignedSum(sum, summands, maxAbs), (q) => q * scale);
}
