import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addGaussianNoise, averageOverExpectedClients, NOISE_LIMITS } from '../../../../fleet/federated/privacy/gaussian-noise.js';
import { logErfc } from '../../../../fleet/federated/privacy/log-space.js';
import { standardNormalSampler } from '../../../../fleet/federated/privacy/standard-normal.js';
import { CRYPTO_POOL_BYTES, cryptoUniformSource, seededUniformSource, uniformFromWords } from '../../../../fleet/federated/privacy/uniform-source.js';
import { expectPrivacyError } from './expect-privacy-error.js';


const normalCdf = (x: number): number => Math.exp(Math.log(0.5) + logErfc(-x / Math.SQRT2));

interface Moments {
  mean: number;
  variance: number;
  skewness: number;
  kurtosis: number;
}

function moments(xs: ArrayLike<number>): Moments {
  const n = xs.length;
  let mean = 0;
  for (let i = 0; i < n; i += 1) mean += xs[i] as number;
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i += 1) {
    const d = (xs[i] as number) - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  return { mean, variance: (m2 * n) / (n - 1), skewness: m3 / n / m2 ** 1.5, kurtosis: m4 / n / (m2 * m2) };
}

/** Kolmogorov-Smirnov distance between the sample and N(0, 1). */
function ksDistance(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((x, i) => {
    const f = normalCdf(x);
    d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
  });
  return d;
}

describe('uniform sources', () => {
  it('turns 53 random bits into every double step of [0, 1)', () => {
    expect(uniformFromWords(0, 0)).toBe(0);
    expect(uniformFromWords(0, 1)).toBe(2 ** -53);
    expect(uniformFromWords(0x1fffff, 0xffffffff)).toBe(1 - 2 ** -53);
    expect(uniformFromWords(0xffffffff, 0)).toBe(uniformFromWords(0x1fffff, 0)); // only 21 high bits count
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (hi, lo) => {
        const u = uniformFromWords(hi, lo);
        expect(u >= 0 && u < 1).toBe(true);
        expect(Number.isInteger(u * 2 ** 53)).toBe(true);
      }),
    );
  });

  it('draws crypto uniforms across pool refills, with low bits that a 32-bit generator would leave at zero', () => {
    const random = cryptoUniformSource();
    const draws = Array.from({ length: (3 * CRYPTO_POOL_BYTES) / 8 + 5 }, () => random());
    draws.forEach((u) => expect(u >= 0 && u < 1).toBe(true));
    expect(new Set(draws).size).toBe(draws.length); // a repeat among 1,541 53-bit draws: p < 1e-10
    expect(draws.some((u) => (u * 2 ** 53) % 2 ** 21 !== 0)).toBe(true);
  });

  it('repeats a seeded source exactly and tells seeds apart', () => {
    const a = seededUniformSource(7);
    const b = seededUniformSource(7);
    const c = seededUniformSource(8);
    const xs = Array.from({ length: 10 }, () => a());
    expect(Array.from({ length: 10 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c())).not.toEqual(xs);
  });
});

describe('standard normal draws (Box-Muller)', () => {
  // Fixed seed: the same 200,000 draws every run, so the statistical bounds cannot flake. The
  // bounds are ~5 standard errors wide, which a correct sampler meets for almost every seed.
  const n = 200_000;
  const normal = standardNormalSampler(seededUniformSource(20240601));
  const draws = Array.from({ length: n }, () => normal());

  it('have mean 0, variance 1, no skew and the normal kurtosis of 3', () => {
    const m = moments(draws);
    expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(n)); // 0.0112
    expect(Math.abs(m.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n)); // 0.0158
    expect(Math.abs(m.skewness)).toBeLessThan(5 * Math.sqrt(6 / n)); // 0.0274
    expect(Math.abs(m.kurtosis - 3)).toBeLessThan(5 * Math.sqrt(24 / n)); // 0.0548
  });

  it('follow the normal distribution function (Kolmogorov-Smirnov below the 1% critical value)', () => {
    expect(ksDistance(draws)).toBeLessThan(1.63 / Math.sqrt(n)); // 0.00364
  });

  it('put the normal share of mass in the tails (beyond 2 and 3 sigma)', () => {
    const beyond = (t: number): number => draws.filter((x) => Math.abs(x) > t).length / n;
    const p2 = 2 * normalCdf(-2);
    const p3 = 2 * normalCdf(-3);
    expect(Math.abs(beyond(2) - p2)).toBeLessThan(5 * Math.sqrt((p2 * (1 - p2)) / n));
    expect(Math.abs(beyond(3) - p3)).toBeLessThan(5 * Math.sqrt((p3 * (1 - p3)) / n));
  });

  it('are uncorrelated with their neighbours (both halves of each Box-Muller pair are used)', () => {
    let lag1 = 0;
    for (let i = 1; i < n; i += 1) lag1 += (draws[i] as number) * (draws[i - 1] as number);
    expect(Math.abs(lag1 / (n - 1))).toBeLessThan(5 / Math.sqrt(n));
  });

  it('refuse a uniform source that leaves [0, 1)', () => {
    for (const bad of [1, -0.1, Number.NaN, 2]) {
      expectPrivacyError(() => standardNormalSampler(() => bad)(), /^random: the uniform source must return numbers in \[0, 1\)/);
    }
    // u = 0 is allowed: 1 - u keeps the logarithm finite.
    expect(Number.isFinite(standardNormalSampler(() => 0)())).toBe(true);
  });
});

describe('Gaussian noise on the clipped sum', () => {
  it('adds noise of mean 0 and standard deviation z * C to every coordinate, in the sum\'s shapes', () => {
    const clipNorm = 0.5;
    const noiseMultiplier = 1.3;
    const sum = [new Float32Array(60_000).fill(2.5), new Float64Array(40_000).map((_, i) => i / 1000)];
    const noisy = addGaussianNoise(sum, { clipNorm, noiseMultiplier }, seededUniformSource(99));
    expect(noisy.map((t) => t.length)).toEqual([60_000, 40_000]);
    expect(sum[0]?.[0]).toBe(2.5); // input untouched
    const noise = noisy.flatMap((t, k) => Array.from(t, (v, i) => v - (sum[k]?.[i] as number)));
    const m = moments(noise);
    const sigma = clipNorm * noiseMultiplier;
    const n = noise.length;
    expect(Math.abs(m.mean)).toBeLessThan((5 * sigma) / Math.sqrt(n));
    expect(Math.abs(m.variance / (sigma * sigma) - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('is the seeded standard normal stream scaled by z * C, draw for draw (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { maxLength: 20 }), { maxLength: 5 }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        fc.integer(),
        (values, clipNorm, noiseMultiplier, seed) => {
          const sum = values.map((v) => Float64Array.from(v));
          const noisy = addGaussianNoise(sum, { clipNorm, noiseMultiplier }, seededUniformSource(seed));
          const normal = standardNormalSampler(seededUniformSource(seed));
          noisy.forEach((t, k) => {
            expect(t.length).toBe(sum[k]?.length);
            t.forEach((v, i) => expect(v).toBe((sum[k]?.[i] as number) + clipNorm * noiseMultiplier * normal()));
          });
        },
      ),
    );
  });

  it('divides by the expected number of clients, whatever number reported', () => {
    const avg = averageOverExpectedClients([Float64Array.of(10, -5), new Float32Array([2])], 2.5);
    expect(avg.map((t) => Array.from(t))).toEqual([[4, -2], [0.8]]);
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      expectPrivacyError(() => averageOverExpectedClients([Float64Array.of(1)], bad), /^expectedClients: must be a finite number > 0/);
    }
  });

  it('refuses bad parameters and sums before drawing any noise', () => {
    const random = seededUniformSource(1);
    const ok = { clipNorm: 1, noiseMultiplier: 1 };
    for (const z of [0, -1, Number.NaN, Infinity]) {
      expectPrivacyError(() => addGaussianNoise([Float64Array.of(1)], { clipNorm: 1, noiseMultiplier: z }, random), /^noiseMultiplier: must be a finite number > 0/);
    }
    for (const c of [0, -0.5, Number.NaN]) {
      expectPrivacyError(() => addGaussianNoise([Float64Array.of(1)], { clipNorm: c, noiseMultiplier: 1 }, random), /^clipNorm: must be a finite number > 0/);
    }
    expectPrivacyError(() => addGaussianNoise([Float64Array.of(1), Float64Array.of(0, Number.NaN)], ok, random), /^clippedSum\[1\]\[1\]: must be finite, got NaN/);
    expectPrivacyError(() => addGaussianNoise([[1, 2] as unknown as Float64Array], ok, random), /^clippedSum\[0\]: must be a Float32Array or Float64Array/);
    expectPrivacyError(() => addGaussianNoise(Array.from({ length: NOISE_LIMITS.maxTensors + 1 }, () => new Float32Array(0)), ok, random), /^clippedSum: must be a list of at most 1024 tensors/);
    // Views of one small buffer: more coordinates than the bound without allocating them.
    const buffer = new Float32Array(16_385).buffer;
    const views = Array.from({ length: 1024 }, () => new Float32Array(buffer));
    expectPrivacyError(() => addGaussianNoise(views, ok, random), /^clippedSum: holds more than 16777216 coordinates/);
  });
});
