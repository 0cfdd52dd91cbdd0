import { checkCount, checkDelta, checkNoiseMultiplier, checkSamplingRate, FederatedPrivacyError } from './privacy-error.js';
import { logAbsBinomial, logAdd, logErfc } from './log-space.js';

/**
 * Renyi-DP accounting for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019,
 * "Renyi Differential Privacy of the Sampled Gaussian Mechanism", arXiv 1908.10530): every
 * gateway joins a round independently with probability q, the fleet adds N(0, (z C)^2) to the sum
 * of updates clipped to L2 norm C. Neighbouring relation: add or remove one gateway (all its data).
 *
 * RDP of one round at order alpha is log(A_alpha) / (alpha - 1), with
 *   A_alpha = E_{x ~ N(0, z^2)} [ ((1 - q) + q exp((2x - 1) / (2 z^2)))^alpha ],
 * computed as a finite binomial sum at integer orders (Sec. 3.2) and as two convergent series
 * with Gaussian tail integrals at fractional orders (Sec. 3.3). Rounds compose by adding RDP per
 * order; (epsilon, delta) comes from the conversion of Balle et al. 2020 (Thm. 21) = Canonne,
 * Kamath, Steinke 2020 (Prop. 12), the one TF Privacy's dp_accounting and Opacus use; the classic
 * conversion (Mironov 2017, Prop. 3) is kept for comparison only.
 */

/**
 * The orders TF Privacy's compute_dp_sgd_privacy searches, so that our numbers can be compared
 * with theirs point for point. Fractional orders below 5 matter for large epsilons (many rounds,
 * little noise), the large ones for tiny epsilons.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, i) => i + 5),
  128, 256, 512,
]);

/** Bounds on the work one accounting call may ask for: an integer order costs alpha + 1 terms. */
export const RDP_LIMITS = { maxOrder: 1024, maxOrders: 256, maxRounds: 1_000_000 } as const;

/**
 * Terms of a fractional order's series before its tail is bounded instead of summed (see
 * logAFractional); an order above this runs to ceil(order), where the bound starts to hold.
 */
const MAX_SERIES_TERMS = 1000;
/** Stop a series once its terms fall this far (in log) below the running total: e^-36 < 1e-15 relative. */
const SERIES_CUTOFF = 36;

export interface SampledGaussian {
  /** q: each eligible gateway's probability of being drawn into a round, independently of the others. */
  readonly samplingRate: number;
  /** z: the noise standard deviation in units of the clip norm. */
  readonly noiseMultiplier: number;
}

export interface EpsilonAtDelta {
  readonly epsilon: number;
  /** The order whose bound gave the smallest epsilon; at the smallest or largest order, more orders might give less. */
  readonly order: number;
}

export function checkOrders(orders: unknown, field = 'orders'): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0 || orders.length > RDP_LIMITS.maxOrders) {
    throw new FederatedPrivacyError(field, `must be a list of 1 to ${RDP_LIMITS.maxOrders} RDP orders`);
  }
  orders.forEach((a: unknown, i) => {
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 1 || a > RDP_LIMITS.maxOrder) {
      throw new FederatedPrivacyError(`${field}[${i}]`, `an RDP order must be a number in (1, ${RDP_LIMITS.maxOrder}], got ${String(a)}`);
    }
  });
  return orders as number[];
}

function checkMechanism(m: SampledGaussian): void {
  checkSamplingRate(m.samplingRate);
  checkNoiseMultiplier(m.noiseMultiplier);
}

/**
 * Relative slack added to every A_alpha: the sums below are exact in real arithmetic, and this
 * covers the rounding of summing up to ~1,000 terms (below 1e-12 of the sum of their
 * magnitudes), so that cancellation in the signed sums cannot make the reported RDP come out
 * below the true one. It moves epsilon by ~1e-12: nothing anyone can see.
 */
const ROUNDING_SLACK = 1e-12;

/** Signed terms, kept as log-magnitudes in two sums: log(P - N) is taken once, at the end. */
class SignedLogSum {
  private logPositive = -Infinity;
  private logNegative = -Infinity;

  add(logMagnitude: number, negative: boolean): void {
    if (negative) this.logNegative = logAdd(this.logNegative, logMagnitude);
    else this.logPositive = logAdd(this.logPositive, logMagnitude);
  }

  /** log((P - N) + slack (P + N)); Infinity when rounding leaves nothing certain (P <= N). */
  logUpperBound(): number {
    const lead = this.logPositive + Math.log1p(ROUNDING_SLACK);
    const rest = this.logNegative + Math.log1p(-ROUNDING_SLACK);
    if (rest === -Infinity) return lead;
    if (rest >= lead) return Infinity;
    return lead + Math.log1p(-Math.exp(rest - lead));
  }
}

/** log A_alpha at an integer order: the binomial expansion of the alpha-th moment is exact and finite. */
function logAInteger(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sum = new SignedLogSum();
  for (let k = 0; k <= alpha; k += 1) {
    sum.add(logAbsBinomial(alpha, k) + k * logQ + (alpha - k) * log1mQ + (k * k - k) / (2 * z * z), false);
  }
  return sum.logUpperBound();
}

/** The sign of the generalised binomial coefficient C(alpha, k) for a fractional alpha > 1. */
function binomialIsNegative(alpha: number, k: number): boolean {
  // Factors (alpha - i) for i < k are negative once i > alpha: there are k - ceil(alpha) of them.
  return k > alpha && (k - Math.ceil(alpha)) % 2 === 1;
}

/**
 * log A_alpha at a fractional order. The integral splits at z0, where q mu1/mu0 = 1 - q; on each
 * side the binomial series of (1 - q + q mu1/mu0)^alpha converges, and each term integrates to a
 * Gaussian tail. Terms are summed with their signs (summing magnitudes, as dp_accounting does,
 * is also an upper bound but overstates the RDP near order 1 by up to 3x, e.g. q = 0.3, z = 2).
 *
 * Where to stop, with a bound rather than a guess: from k = ceil(alpha) on, C(alpha, k)
 * alternates in sign and falls in magnitude, and the integral each term multiplies is the
 * integral of (ratio)^k with ratio <= 1 on its side of z0, so it does not grow with k. Each
 * series' tail from k on is then an alternating series with shrinking terms, which lies between
 * 0 and its first term (Leibniz): adding |term k| of both series to the sum so far bounds A
 * from above. Near z0 the ratio tends to 1 and the terms shrink only like k^-(alpha+1) (small q
 * with small z), so after MAX_SERIES_TERMS the same bound is returned, looser but still valid.
 */
function logAFractional(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const twoZ2 = 2 * z * z;
  const sqrt2Z = Math.SQRT2 * z;
  const alternatingFrom = Math.ceil(alpha);
  const sum = new SignedLogSum();
  for (let k = 0; ; k += 1) {
    const logCoef = logAbsBinomial(alpha, k);
    const j = alpha - k;
    const s0 = logCoef + k * logQ + j * log1mQ + (k * k - k) / twoZ2 + Math.log(0.5) + logErfc((k - z0) / sqrt2Z);
    const s1 = logCoef + j * logQ + k * log1mQ + (j * j - j) / twoZ2 + Math.log(0.5) + logErfc((z0 - j) / sqrt2Z);
    const last = k + 1 >= MAX_SERIES_TERMS;
    if (k >= alternatingFrom && (last || Math.max(s0, s1) < sum.logUpperBound() - SERIES_CUTOFF)) {
      // The Leibniz bound on both tails: this term's magnitude, whatever its sign.
      sum.add(s0, false);
      sum.add(s1, false);
      return sum.logUpperBound();
    }
    const negative = binomialIsNegative(alpha, k);
    sum.add(s0, negative);
    sum.add(s1, negative);
  }
}

/** RDP at one order of one round of the subsampled Gaussian mechanism (sensitivity 1, noise z). */
export function sampledGaussianRdp(mechanism: SampledGaussian, order: number): number {
  checkMechanism(mechanism);
  checkOrders([order], 'order');
  const { samplingRate: q, noiseMultiplier: z } = mechanism;
  // Without sampling it is the Gaussian mechanism, whose RDP is known exactly (Mironov 2017, Prop. 7).
  if (q === 1) return order / (2 * z * z);
  const logA = Number.isInteger(order) ? logAInteger(q, z, order) : logAFractional(q, z, order);
  // A_alpha >= 1 in exact arithmetic (Jensen); rounding can dip a hair below, which is not a gain.
  return Math.max(0, logA / (order - 1));
}

/** RDP per order after `rounds` rounds of the same mechanism: RDP composes by addition. */
export function composedRdp(mechanism: SampledGaussian, rounds: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): Float64Array {
  checkMechanism(mechanism);
  checkCount(rounds, 'rounds', RDP_LIMITS.maxRounds);
  checkOrders(orders);
  // Zero rounds spend nothing, even at an order whose RDP is unbounded (0 * Infinity would be NaN).
  if (rounds === 0) return new Float64Array(orders.length);
  return Float64Array.from(orders, (a) => rounds * sampledGaussianRdp(mechanism, a));
}

/**
 * The smallest epsilon, over the orders, such that RDP (alpha, r) implies (epsilon, delta)-DP:
 *   epsilon = r + log(1 - 1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)
 * (Balle et al. 2020, Thm. 21; Canonne, Kamath, Steinke 2020, Prop. 12). It is below the classic
 * r + log(1/delta) / (alpha - 1) at every order. Where sqrt(1 - e^-r) < delta the total variation
 * distance (bounded through KL <= r, Bretagnolle-Huber) is already below delta, so epsilon = 0.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): EpsilonAtDelta {
  return bestOver(orders, rdp, delta, (alpha, r, logDelta) => {
    if (delta * delta + Math.expm1(-r) > 0) return 0;
    return r + Math.log1p(-1 / alpha) - (logDelta + Math.log(alpha)) / (alpha - 1);
  });
}

/** The classic conversion (Mironov 2017, Prop. 3): epsilon = r + log(1/delta) / (alpha - 1). Looser; for comparison. */
export function classicEpsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): EpsilonAtDelta {
  return bestOver(orders, rdp, delta, (alpha, r, logDelta) => r - logDelta / (alpha - 1));
}

function bestOver(
  orders: readonly number[],
  rdp: ArrayLike<number>,
  delta: number,
  epsilonAt: (alpha: number, r: number, logDelta: number) => number,
): EpsilonAtDelta {
  checkOrders(orders);
  checkDelta(delta);
  if (rdp.length !== orders.length) {
    throw new FederatedPrivacyError('rdp', `has ${rdp.length} values for ${orders.length} orders`);
  }
  const logDelta = Math.log(delta);
  let best: EpsilonAtDelta = { epsilon: Infinity, order: orders[0] as number };
  orders.forEach((alpha, i) => {
    const r = rdp[i] as number;
    if (Number.isNaN(r) || r < 0) throw new FederatedPrivacyError(`rdp[${i}]`, `must be >= 0 (or Infinity), got ${r}`);
    if (r === Infinity) return;
    const epsilon = Math.max(0, epsilonAt(alpha, r, logDelta));
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  });
  return best;
}

/** Epsilon at delta after `rounds` rounds of one mechanism. */
export function epsilonAfterRounds(mechanism: SampledGaussian, rounds: number, delta: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): EpsilonAtDelta {
  checkDelta(delta); // before the RDP is computed, not after
  return epsilonFromRdp(orders, composedRdp(mechanism, rounds, orders), delta);
}
