import erfcx from '@stdlib/math-base-special-erfcx';
import gammaln from '@stdlib/math-base-special-gammaln';

/**
 * Arithmetic on logarithms for the RDP accountant. The terms it sums reach e^(10^5) and
 * e^(-10^5) for small noise multipliers and high orders, far outside a double, so every sum is a
 * log-sum-exp and every special function is taken in log form. The special functions come from
 * stdlib (`gammaln`: log |Gamma(x)| for every real x, also negative non-integers; `erfcx`:
 * e^(x^2) erfc(x), which keeps log erfc(x) accurate where erfc(x) itself underflows, x > 26).
 */

/** log(e^a + e^b), exact for -Infinity (a zero) on either side. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  if (hi === Infinity) return Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * log |C(n, k)|: the (generalised) binomial coefficient for a real n >= 0 and an integer k >= 0.
 * For a fractional n and k > n + 1 the coefficient alternates in sign; callers sum magnitudes,
 * which bounds the true sum from above (the safe side for a privacy loss).
 */
export function logAbsBinomial(n: number, k: number): number {
  if (Number.isInteger(n) && k > n) return -Infinity;
  return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1);
}

/** log erfc(x) for every finite x, without underflow in the right tail. */
export function logErfc(x: number): number {
  if (x >= 0) return Math.log(erfcx(x)) - x * x;
  // erfc(x) = 2 - erfc(-x) lies in (1, 2]: no cancellation to fear.
  return Math.log(2 - erfcx(-x) * Math.exp(-x * x));
}
