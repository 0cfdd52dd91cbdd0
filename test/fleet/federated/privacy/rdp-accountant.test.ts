import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logErfc } from '../../../../fleet/federated/privacy/log-space.js';
import {
  classicEpsilonFromRdp,
  composedRdp,
  DEFAULT_RDP_ORDERS,
  epsilonAfterRounds,
  epsilonFromRdp,
  sampledGaussianRdp,
  type SampledGaussian,
} from '../../../../fleet/federated/privacy/rdp-accountant.js';
import { expectPrivacyError } from './expect-privacy-error.js';


/**
 * A_alpha - 1 by the trapezoid rule on the defining integral, E_{x ~ N(0, z^2)}[(1 - q + q e^((2x-1)/(2z^2)))^alpha] - 1,
 * written as expm1(alpha log1p(...)) so that a tiny A - 1 keeps its digits. The integrand is
 * smooth and decays like a Gaussian, where the trapezoid rule converges faster than any power of
 * the step: with 100 steps per z its error is far below what the comparison needs.
 */
function rdpByQuadrature({ samplingRate: q, noiseMultiplier: z }: SampledGaussian, alpha: number): number {
  const lo = -14 * z - 1;
  const hi = alpha + 14 * z + 1;
  const h = z / 100;
  const n = Math.ceil((hi - lo) / h);
  let sum = 0;
  for (let i = 0; i <= n; i += 1) {
    const x = lo + i * h;
    const density = Math.exp((-x * x) / (2 * z * z)) / (z * Math.sqrt(2 * Math.PI));
    const ratio = q * Math.expm1((2 * x - 1) / (2 * z * z));
    const f = density * Math.expm1(alpha * Math.log1p(ratio));
    sum += i === 0 || i === n ? f / 2 : f;
  }
  return Math.log1p(sum * h) / (alpha - 1);
}

/** delta(epsilon) of the Gaussian mechanism with sensitivity/sigma = mu, exactly (Balle, Wang 2018, Thm. 8). */
function exactGaussianDelta(mu: number, epsilon: number): number {
  const logPhi = (x: number): number => Math.log(0.5) + logErfc(-x / Math.SQRT2);
  return Math.exp(logPhi(-epsilon / mu + mu / 2)) - Math.exp(epsilon + logPhi(-epsilon / mu - mu / 2));
}

describe('RDP of the sampled Gaussian mechanism', () => {
  it('is alpha / (2 z^2) exactly without sampling (q = 1), at integer and fractional orders (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 100, noNaN: true }), fc.constantFrom(...DEFAULT_RDP_ORDERS), (z, alpha) => {
        expect(sampledGaussianRdp({ samplingRate: 1, noiseMultiplier: z }, alpha)).toBe(alpha / (2 * z * z));
      }),
    );
  });

  it('matches the defining integral, computed by quadrature, at integer and fractional orders', () => {
    const cases: [number, number, number][] = [
      [0.01, 2.5, 1.5], [0.01, 2.5, 2.5], [0.01, 2.5, 5], [0.01, 0.5, 1.25], [0.01, 0.5, 4.5],
      [0.1, 1, 1.25], [0.1, 1, 1.75], [0.1, 1, 3], [0.1, 2, 1.5], [0.1, 2, 12],
      [0.3, 2, 1.25], [0.3, 0.8, 2.25], [0.3, 0.8, 7], [0.7, 1, 1.5], [0.7, 1, 4], [0.99, 3, 3.5],
      // Small q with small z: the fractional series converges like k^-(alpha+1) and ends on its tail bound.
      [1e-4, 0.3, 1.25], [1e-3, 0.5, 1.5], [1e-6, 0.2, 1.25], [0.05, 0.4, 2.25],
    ];
    for (const [q, z, alpha] of cases) {
      const mechanism = { samplingRate: q, noiseMultiplier: z };
      const ours = sampledGaussianRdp(mechanism, alpha);
      const reference = rdpByQuadrature(mechanism, alpha);
      // Never below the integral (it is an upper bound), and above it only by the rounding slack.
      expect(ours, `q=${q} z=${z} alpha=${alpha}`).toBeGreaterThanOrEqual(reference * (1 - 1e-9));
      expect(ours - reference, `q=${q} z=${z} alpha=${alpha}`).toBeLessThan(reference * 1e-8 + 1e-11);
    }
  });

  it("reproduces TF Privacy's compute_rdp values (rdp_accountant_test.py)", () => {
    expect(composedRdp({ samplingRate: 0.1, noiseMultiplier: 2 }, 10, [5])[0]).toBeCloseTo(0.07737, 5);
    const orders = [1.5, 2.5, 5, 50, 100];
    const expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307];
    const rdp = composedRdp({ samplingRate: 0.01, noiseMultiplier: 2.5 }, 50, orders);
    orders.forEach((_, i) => expect(Math.abs((rdp[i] as number) - (expected[i] as number))).toBeLessThan(1e-5));
    expect(composedRdp({ samplingRate: 1, noiseMultiplier: 10 }, 1, [20])[0]).toBe(0.1);
  });

  it("reproduces TF Privacy's compute_dp_sgd_privacy epsilons and optimal orders (compute_dp_sgd_privacy_test.py)", () => {
    // (n, batch, noise, epochs, delta) -> (epsilon, order); q = batch / n, steps = ceil(epochs n / batch).
    const points: [number, number, number, number, number, number, number][] = [
      [60_000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19],
      [100_000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13],
      [100_000_000, 1024, 0.1, 10, 1e-7, 5907982.3113978775, 1.25],
    ];
    for (const [n, batch, z, epochs, delta, epsilon, order] of points) {
      const got = epsilonAfterRounds({ samplingRate: batch / n, noiseMultiplier: z }, Math.ceil((epochs * n) / batch), delta);
      expect(Math.abs(got.epsilon - epsilon) / epsilon, `${got.epsilon} vs ${epsilon}`).toBeLessThan(1e-8);
      expect(got.order).toBe(order);
    }
  });

  it('is non-decreasing in the order, across integer and fractional orders (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-4, max: 0.999, noNaN: true }), fc.double({ min: 0.3, max: 20, noNaN: true }), (q, z) => {
        const orders = DEFAULT_RDP_ORDERS.filter((a) => a <= 64);
        const rdp = composedRdp({ samplingRate: q, noiseMultiplier: z }, 1, orders);
        for (let i = 1; i < rdp.length; i += 1) expect(rdp[i] as number).toBeGreaterThanOrEqual((rdp[i - 1] as number) * (1 - 1e-9));
      }),
      { numRuns: 40 },
    );
  });

  it('grows with the sampling rate and shrinks with the noise (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 1, noNaN: true }),
        fc.double({ min: 1e-4, max: 1, noNaN: true }),
        fc.double({ min: 0.3, max: 20, noNaN: true }),
        fc.double({ min: 0.3, max: 20, noNaN: true }),
        fc.constantFrom(1.25, 1.75, 2, 3.5, 8, 32, 256),
        (qa, qb, za, zb, alpha) => {
          const [qLo, qHi] = qa < qb ? [qa, qb] : [qb, qa];
          const [zLo, zHi] = za < zb ? [za, zb] : [zb, za];
          const rdp = (q: number, z: number): number => sampledGaussianRdp({ samplingRate: q, noiseMultiplier: z }, alpha);
          // Relative slack for rounding: at RDP values near 1e-11 the log-space sums carry about 1e-9 of it
          // (a fresh-clone run drew q values a few ulps apart and saw 2.7105053436e-11 against 2.7105053462e-11).
          expect(rdp(qHi, zLo)).toBeGreaterThanOrEqual(rdp(qLo, zLo) * (1 - 1e-7));
          expect(rdp(qLo, zHi)).toBeLessThanOrEqual(rdp(qLo, zLo) * (1 + 1e-7));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('stays finite and in log space for extreme parameters (tiny noise, high orders, tiny q)', () => {
    const rdp = composedRdp({ samplingRate: 1e-6, noiseMultiplier: 0.05 }, 1, [1.25, 2, 512]);
    rdp.forEach((r) => expect(Number.isFinite(r) && r >= 0).toBe(true));
    expect(rdp[2]).toBeGreaterThan(1000); // e^(k^2 / 2z^2) terms far beyond a double, summed as logs
  });
});

describe('epsilon at delta', () => {
  it("uses the improved conversion: constant RDP 1.1 at orders 2..32 gives TF's 1.32783806176 at order 32", () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const got = epsilonFromRdp(orders, orders.map(() => 1.1), 1e-5);
    expect(got.order).toBe(32);
    expect(got.epsilon).toBeCloseTo(1.32783806176, 10);
  });

  it("reproduces TF's Gaussian calibration: z = 4.530877117 gives exactly (1, 1e-6) over a fine grid of orders", () => {
    const mechanism = { samplingRate: 1, noiseMultiplier: 4.530877117 };
    const coarse = Array.from({ length: 200 }, (_, i) => 1.5 + i * 0.25);
    const near = epsilonAfterRounds(mechanism, 1, 1e-6, coarse).order;
    const fine = Array.from({ length: 256 }, (_, i) => near - 0.25 + i * 0.002);
    expect(epsilonAfterRounds(mechanism, 1, 1e-6, fine).epsilon).toBeCloseTo(1, 7);
  });

  it('is sound without sampling: the exact delta of the composed Gaussian at our epsilon is at most the target (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 2000 }),
        fc.constantFrom(1e-3, 1e-5, 1e-7, 1e-9),
        (z, rounds, delta) => {
          const { epsilon } = epsilonAfterRounds({ samplingRate: 1, noiseMultiplier: z }, rounds, delta);
          // R rounds of the Gaussian mechanism = one Gaussian with mu = sqrt(R) / z.
          expect(exactGaussianDelta(Math.sqrt(rounds) / z, epsilon)).toBeLessThanOrEqual(delta * (1 + 1e-9));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is at most the classic conversion, and grows with rounds and sampling rate, shrinks with noise and delta (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 1, noNaN: true }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.constantFrom(1e-3, 1e-5, 1e-7),
        (q, z, rounds, delta) => {
          const m = { samplingRate: q, noiseMultiplier: z };
          const rdp = composedRdp(m, rounds);
          const eps = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta).epsilon;
          expect(eps).toBeLessThanOrEqual(classicEpsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta).epsilon);
          expect(epsilonAfterRounds(m, rounds + 1, delta).epsilon).toBeGreaterThanOrEqual(eps);
          // 1e-9: at q -> 1 the series (with its rounding slack) meets the closed form within rounding.
          expect(epsilonAfterRounds({ samplingRate: Math.min(1, q * 1.5), noiseMultiplier: z }, rounds, delta).epsilon).toBeGreaterThanOrEqual(eps * (1 - 1e-9));
          expect(epsilonAfterRounds({ samplingRate: q, noiseMultiplier: z * 1.5 }, rounds, delta).epsilon).toBeLessThanOrEqual(eps);
          expect(epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, delta / 10).epsilon).toBeGreaterThanOrEqual(eps);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is 0 after zero rounds and skips orders whose RDP is unbounded', () => {
    expect(epsilonAfterRounds({ samplingRate: 0.5, noiseMultiplier: 1 }, 0, 1e-5).epsilon).toBe(0);
    const got = epsilonFromRdp([2, 4], [Infinity, 0.5], 1e-5);
    expect(got.order).toBe(4);
    expect(Number.isFinite(got.epsilon)).toBe(true);
  });
});

describe('bad parameters are refused with E_FEDERATED_PRIVACY', () => {
  const outside = (ok: (x: number) => boolean): fc.Arbitrary<number> =>
    fc.oneof(fc.double(), fc.constantFrom(0, -0, -1, 1.0000001, Infinity, -Infinity, Number.NaN)).filter((x) => !ok(x));

  it('a noise multiplier <= 0 or not finite (property)', () => {
    fc.assert(
      fc.property(outside((z) => Number.isFinite(z) && z > 0), (z) => {
        expectPrivacyError(() => sampledGaussianRdp({ samplingRate: 0.1, noiseMultiplier: z }, 2), /^noiseMultiplier: must be a finite number > 0/);
      }),
    );
  });

  it('a sampling rate outside (0, 1] (property)', () => {
    fc.assert(
      fc.property(outside((q) => q > 0 && q <= 1), (q) => {
        expectPrivacyError(() => composedRdp({ samplingRate: q, noiseMultiplier: 1 }, 10), /^samplingRate: must be in \(0, 1\]/);
      }),
    );
  });

  it('a delta outside (0, 1) (property)', () => {
    fc.assert(
      fc.property(outside((d) => d > 0 && d < 1), (delta) => {
        expectPrivacyError(() => epsilonAfterRounds({ samplingRate: 0.1, noiseMultiplier: 1 }, 10, delta), /^delta: must be in \(0, 1\)/);
      }),
    );
  });

  it('orders, rounds and RDP lists that make no sense', () => {
    const m = { samplingRate: 0.1, noiseMultiplier: 1 };
    expectPrivacyError(() => composedRdp(m, 1, []), /^orders: must be a list/);
    expectPrivacyError(() => composedRdp(m, 1, [2, 1]), /^orders\[1\]: an RDP order must be a number in \(1, 1024\]/);
    expectPrivacyError(() => composedRdp(m, 1, [2000]), /^orders\[0\]/);
    expectPrivacyError(() => composedRdp(m, 1, Array.from({ length: 300 }, (_, i) => 2 + i)), /^orders: must be a list of 1 to 256/);
    expectPrivacyError(() => composedRdp(m, 1.5), /^rounds: must be an integer/);
    expectPrivacyError(() => composedRdp(m, -1), /^rounds/);
    expectPrivacyError(() => epsilonFromRdp([2, 3], [0.1], 1e-5), /^rdp: has 1 values for 2 orders/);
    expectPrivacyError(() => epsilonFromRdp([2], [Number.NaN], 1e-5), /^rdp\[0\]/);
  });
});
