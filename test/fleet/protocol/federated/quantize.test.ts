import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FederatedError, cryptoRandomSource, dequantizeTensor, dequantizeUpdate, quantizeTensor, quantizeUpdate, scaleFor, seededRandom, type FloatTensor } from '../../../../fleet/protocol/federated/index.js';
import { MAX_QUANTISABLE, deltaFloat32, floatTensor, modelUpdate } from './arbitraries.js';

const maxAbsOf = (v: Float32Array): number => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

function codeOf(fn: () => unknown): { code: string; field: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof FederatedError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a FederatedError');
}

describe('int8 quantisation with stochastic rounding', () => {
  it('keeps every dequantised value within one scale of its input, q within -127..127', () => {
    fc.assert(
      fc.property(floatTensor(), fc.nat(), (t, seed) => {
        const q = quantizeTensor(t, seededRandom(seed));
        const back = dequantizeTensor(q).values;
        expect(back.length).toBe(t.values.length);
        q.q.forEach((x) => expect(Math.abs(x)).toBeLessThanOrEqual(127));
        t.values.forEach((x, i) => expect(Math.abs((back[i] as number) - x)).toBeLessThanOrEqual(q.scale));
      }),
      { numRuns: 1000 },
    );
    // The edges: the largest quantisable magnitude dequantises to a finite value; the two float32 above it are refused.
    const top = quantizeTensor({ name: 'w', shape: [2], values: Float32Array.from([MAX_QUANTISABLE, -MAX_QUANTISABLE]) }, seededRandom(1));
    expect(dequantizeTensor(top).values.every((x) => Number.isFinite(x))).toBe(true);
    const e = codeOf(() => quantizeTensor({ name: 'w', shape: [2], values: Float32Array.from([1, 3.4028234663852886e38]) }, seededRandom(1)));
    expect([e.code, e.field]).toEqual(['E_FEDERATED_UPDATE', 'w[1]']);
    expect(e.message).toContain('largest magnitude');
  });

  it('uses the smallest float32 scale that maps the largest value into range (max-abs / 127)', () => {
    fc.assert(
      fc.property(floatTensor(), (t) => {
        const m = maxAbsOf(t.values);
        const { scale } = quantizeTensor(t, seededRandom(1));
        expect(Math.fround(scale)).toBe(scale);
        if (m === 0) {
          expect(scale).toBe(0);
          return;
        }
        expect(scale * 127).toBeGreaterThanOrEqual(m);
        const below = new Float32Array([scale]);
        const bits = new Uint32Array(below.buffer);
        bits[0] = (bits[0] as number) - 1;
        expect((below[0] as number) * 127).toBeLessThan(m);
        // float32 rounding moves the scale by at most one unit in the last place (subnormals: 2^-149) from max-abs / 127
        expect(Math.abs(scale - m / 127)).toBeLessThanOrEqual(Math.max(scale * 2 ** -23, 2 ** -149));
      }),
      { numRuns: 1000 },
    );
    expect(scaleFor(127)).toBe(1);
    expect(scaleFor(1.4e-45)).toBe(1.401298464324817e-45);
  });

  it('is unbiased: the mean of many seeded draws converges to the value, where nearest rounding stays off', () => {
    fc.assert(
      fc.property(floatTensor(deltaFloat32), fc.nat(), (t, seed) => {
        const draws = 4000;
        const sums = new Float64Array(t.values.length);
        const random = seededRandom(seed);
        let scale = 0;
        for (let d = 0; d < draws; d += 1) {
          const q = quantizeTensor(t, random);
          scale = q.scale;
          dequantizeTensor(q).values.forEach((x, i) => (sums[i] = (sums[i] as number) + x));
        }
        // Each draw is off by at most one scale, so its standard deviation is at most scale / 2;
        // six standard errors make a false alarm rarer than one in 10^8 per value.
        const tolerance = (6 * (scale / 2)) / Math.sqrt(draws) + scale * 1e-6;
        t.values.forEach((x, i) => expect(Math.abs((sums[i] as number) / draws - x)).toBeLessThanOrEqual(tolerance));
      }),
      { numRuns: 40 },
    );
    // A value at 0.3 scale: nearest rounding sends 0 every time (30% of a scale lost for good);
    // stochastic rounding sends 1 about 30% of the time.
    const t: FloatTensor = { name: 'w', shape: [2], values: Float32Array.from([127, 0.3]) };
    const random = seededRandom(7);
    let sum = 0;
    for (let d = 0; d < 20_000; d += 1) sum += dequantizeTensor(quantizeTensor(t, random)).values[1] as number;
    expect(sum / 20_000).toBeCloseTo(0.3, 2);
  });

  it('is reproducible from a seed, and works from the OS random source', () => {
    fc.assert(
      fc.property(modelUpdate(), fc.nat(), (u, seed) => {
        const a = quantizeUpdate(u, seededRandom(seed));
        const b = quantizeUpdate(u, seededRandom(seed));
        expect(a).toEqual(b);
        const c = quantizeUpdate(u, cryptoRandomSource());
        c.forEach((q, i) => {
          expect(q.scale).toBe(a[i]?.scale);
          const back = dequantizeTensor(q).values;
          u[i]?.values.forEach((x, j) => expect(Math.abs((back[j] as number) - x)).toBeLessThanOrEqual(q.scale));
        });
      }),
      { numRuns: 200 },
    );
    const random = cryptoRandomSource();
    const draws = Array.from({ length: 5000 }, () => random());
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(draws).size).toBeGreaterThan(4990);
  });

  it('dequantises to q x scale rounded once to float32, so both sides get the same bits', () => {
    fc.assert(
      fc.property(floatTensor(), fc.nat(), (t, seed) => {
        const q = quantizeTensor(t, seededRandom(seed));
        const back = dequantizeTensor(q).values;
        q.q.forEach((x, i) => expect(Object.is(back[i], Math.fround(x * q.scale)) || (x === 0 && back[i] === 0)).toBe(true));
      }),
    );
  });

  it('refuses a non-finite value, naming the tensor and the index', () => {
    fc.assert(
      fc.property(floatTensor(deltaFloat32), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity), (t, at, bad) => {
        const i = at % t.values.length;
        const values = t.values.slice();
        values[i] = bad;
        const e = codeOf(() => quantizeTensor({ ...t, values }, seededRandom(1)));
        expect(e.code).toBe('E_FEDERATED_UPDATE');
        expect(e.field).toBe(`${t.name}[${i}]`);
        expect(e.message).toContain('not finite');
      }),
      { numRuns: 300 },
    );
  });

  it('sends an all-zero tensor as scale 0 and zeros', () => {
    const q = quantizeTensor({ name: 'b', shape: [4], values: new Float32Array(4) }, seededRandom(1));
    expect(q.scale).toBe(0);
    expect([...q.q]).toEqual([0, 0, 0, 0]);
    expect([...dequantizeTensor(q).values]).toEqual([0, 0, 0, 0]);
  });

  it('uses a scale fixed by the round when given (for summing integer updates), refusing values beyond it', () => {
    const t: FloatTensor = { name: 'w', shape: [3], values: Float32Array.from([0.5, -1, 0.25]) };
    const q = quantizeTensor(t, seededRandom(3), { scale: 1 / 64 });
    expect(q.scale).toBe(1 / 64);
    expect([...q.q]).toEqual([32, -64, 16]);
    expect(codeOf(() => quantizeTensor(t, seededRandom(3), { scale: 1 / 128 })).field).toBe('w[1]');
    expect(codeOf(() => quantizeTensor(t, seededRandom(3), { scale: 0.1 })).field).toBe('scale');
  });

  it('refuses tensors whose values do not fit their shape, bad names and repeated names', () => {
    expect(codeOf(() => quantizeTensor({ name: 'w', shape: [2, 3], values: new Float32Array(5) }, seededRandom(1))).message).toContain('5 values for shape [2, 3]');
    expect(codeOf(() => quantizeTensor({ name: 'w x', shape: [1], values: new Float32Array(1) }, seededRandom(1))).field).toBe('w x.name');
    expect(codeOf(() => quantizeTensor({ name: 'w', shape: [0], values: new Float32Array(0) }, seededRandom(1))).field).toBe('w.shape[0]');
    const w: FloatTensor = { name: 'w', shape: [1], values: new Float32Array(1) };
    expect(codeOf(() => quantizeUpdate([w, w], seededRandom(1))).field).toBe('tensors[1].name');
    expect(dequantizeUpdate(quantizeUpdate([w], seededRandom(1)))).toEqual([w]);
  });
});
