/** Complementary error function (Numerical Recipes' erfcc; relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Standard normal cumulative distribution. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

const LOG10_E = Math.LOG10E;
const LOG10_SQRT_2PI = Math.log10(Math.sqrt(2 * Math.PI));

/** -log10 of the upper normal tail P(Z > z), accurate far into the tail (no underflow to 0). */
export function normalTailEvidence(z: number): number {
  if (z < 5) return -Math.log10(0.5 * erfc(z / Math.SQRT2));
  // Mills ratio: P(Z > z) ~ phi(z) / z * (1 - 1/z^2 + 3/z^4).
  return (z * z) / 2 * LOG10_E + LOG10_SQRT_2PI + Math.log10(z) - Math.log10(1 - 1 / (z * z) + 3 / z ** 4);
}

/**
 * The one score scale of every anomaly detector: evidence L = -log10 p (p: how likely a point
 * this unusual is under normal behaviour) mapped to L / (L + 10). Monotone, never saturating,
 * and the same alert thresholds mean the same p whichever detector produced the score
 * (0.4 is p = 1e-7, 0.3 is p = 2e-5, 0.5 is p = 1e-10).
 */
export function evidenceScore(evidence: number): number {
  const l = Math.max(0, evidence);
  return l / (l + 10);
}
