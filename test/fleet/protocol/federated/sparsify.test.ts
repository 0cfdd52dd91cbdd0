import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorFeedback, FederatedError, dequantizeTensor, keepCount, seededRandom, sparsifyTensor, topKIndices, type FloatTensor } from '../../../../fleet/protocol/federated/index.js';
import { deltaFloat32, floatTensor, modelUpdate } from './arbitraries.js';

const where = (i: number): string => `w[${i}]`;
const addInto = (sum: Float64Array, values: Float32Array): void => values.forEach((x, j) => (sum[j] = (sum[j] as number) + x));
const density = fc.double({ min: 0.01, max: 1, noNaN: true });

describe('top-k sparsification', () => {
  it('keeps exactly the k largest magnitudes, in ascending index order, ties to the lower index', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(deltaFloat32, fc.constantFrom(0.5, -0.5)), { minLength: 1, maxLength: 300 }), fc.nat(), (raw, kRaw) => {
        const values = Float32Array.from(raw);
        const k = 1 + (kRaw % values.length);
        const idx = topKIndices(values, k, where);
        expect(idx.length).toBe(k);
        for (let j = 1; j < idx.length; j += 1) expect(idx[j] as number).toBeGreaterThan(idx[j - 1] as number);
        const kept = new Set(idx);
        const keptMin = Math.min(...[...idx].map((i) => Math.abs(values[i] as number)));
        values.forEach((v, i) => {
          if (kept.has(i)) return;
          expect(Math.abs(v)).toBeLessThanOrEqual(keptMin);
          // a dropped value as large as the smallest kept one lies after every kept one of that size
          if (Math.abs(v) === keptMin) expect([...idx].filter((j) => Math.abs(values[j] as number) === keptMin).every((j) => j < i)).toBe(true);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('sends ceil(density x elements) values per tensor (at least one), dense when that is all of them', () => {
    fc.assert(
      fc.property(floatTensor(deltaFloat32), density, fc.nat(), (t, d, seed) => {
        const q = sparsifyTensor(t, d, seededRandom(seed));
        const n = t.values.length;
        const k = Math.min(n, Math.max(1, Math.ceil(d * n)));
        expect(keepCount(n, d)).toBe(k);
        if (k === n) expect(q.indices).toBeUndefined();
        else expect(q.indices?.length).toBe(k);
        expect(q.q.length).toBe(k);
        const back = dequantizeTensor(q).values;
        const kept = new Set(q.indices ?? t.values.keys());
        t.values.forEach((x, i) => {
          if (kept.has(i)) expect(Math.abs((back[i] as number) - x)).toBeLessThanOrEqual(q.scale);
          else expect(back[i]).toBe(0);
        });
      }),
      { numRuns: 500 },
    );
    expect(() => keepCount(10, 0)).toThrow(FederatedError);
    expect(() => keepCount(10, 1.5)).toThrow(/density/);
  });
});

describe('error feedback', () => {
  const layoutOf = (u: readonly FloatTensor[]): { name: string; shape: number[] }[] => u.map((t) => ({ name: t.name, shape: [...t.shape] }));

  it('owes exactly what was not sent: sum of sent plus residual equals the sum of updates', () => {
    fc.assert(
      fc.property(
        modelUpdate(deltaFloat32).chain((first) =>
          fc.tuple(
            fc.constant(first),
            fc.array(fc.tuple(...first.map((t) => fc.array(deltaFloat32, { minLength: t.values.length, maxLength: t.values.length }))), { minLength: 1, maxLength: 8 }),
          ),
        ),
        density,
        fc.nat(),
        ([first, rounds], d, seed) => {
          const ef = new ErrorFeedback(layoutOf(first));
          const random = seededRandom(seed);
          const truth = first.map((t) => new Float64Array(t.values.length));
          const sent = first.map((t) => new Float64Array(t.values.length));
          for (const values of rounds) {
            const update = first.map((t, i) => ({ ...t, values: Float32Array.from(values[i] as number[]) }));
            update.forEach((t, i) => addInto(truth[i] as Float64Array, t.values));
            ef.compress(update, random, { density: d }).forEach((q, i) => addInto(sent[i] as Float64Array, dequantizeTensor(q).values));
          }
          first.forEach((t, i) => {
            const r = ef.residual(t.name);
            expect(r.length).toBe(t.values.length);
            // each round adds float32 rounding (relative 2^-24) to values of magnitude <= rounds x 2
            r.forEach((x, j) => expect(Math.abs((sent[i] as Float64Array)[j]! + x - (truth[i] as Float64Array)[j]!)).toBeLessThanOrEqual(rounds.length * 4 * 2 ** -22));
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sends every coordinate in time at low density, where top-k alone starves the small ones', () => {
    // One tensor with a few large and many small coordinates, the same update every round.
    const n = 200;
    const values = Float32Array.from({ length: n }, (_, i) => (i < 10 ? 1 : 0.01 * (1 + (i % 7))));
    const layout = [{ name: 'w', shape: [n] }];
    const rounds = 400;
    const ef = new ErrorFeedback(layout);
    const withFeedback = new Float64Array(n);
    const without = new Float64Array(n);
    const random = seededRandom(11);
    for (let r = 0; r < rounds; r += 1) {
      const [q] = ef.compress([{ name: 'w', shape: [n], values }], random, { density: 0.05 });
      addInto(withFeedback, dequantizeTensor(q!).values);
      addInto(without, dequantizeTensor(sparsifyTensor({ name: 'w', shape: [n], values }, 0.05, random)).values);
    }
    values.forEach((v, i) => {
      // With feedback every coordinate's total lags the truth by at most what one residual holds.
      expect(Math.abs((withFeedback[i] as number) / rounds - v)).toBeLessThan(0.02);
      if (i >= 10) expect(without[i]).toBe(0);
    });
  });

  it('with a clip norm, sends a vector of norm <= C before rounding and keeps what clipping took off in the residual', () => {
    fc.assert(
      fc.property(
        modelUpdate(deltaFloat32).chain((first) =>
          fc.tuple(
            fc.constant(first),
            fc.array(fc.tuple(...first.map((t) => fc.array(deltaFloat32, { minLength: t.values.length, maxLength: t.values.length }))), { minLength: 1, maxLength: 6 }),
          ),
        ),
        density,
        fc.double({ min: 0.01, max: 4, noNaN: true }),
        fc.nat(),
        ([first, rounds], d, clipNorm, seed) => {
          const ef = new ErrorFeedback(layoutOf(first));
          const random = seededRandom(seed);
          const truth = first.map((t) => new Float64Array(t.values.length));
          const sent = first.map((t) => new Float64Array(t.values.length));
          for (const values of rounds) {
            const update = first.map((t, i) => ({ ...t, values: Float32Array.from(values[i] as number[]) }));
            update.forEach((t, i) => addInto(truth[i] as Float64Array, t.values));
            const message = ef.compress(update, random, { density: d, clipNorm });
            // Each sent value is within one scale step of a vector of norm <= C.
            let norm2 = 0;
            let slack2 = 0;
            message.forEach((q, i) => {
              const v = dequantizeTensor(q).values;
              addInto(sent[i] as Float64Array, v);
              v.forEach((x) => (norm2 += x * x));
              slack2 += q.q.length * q.scale * q.scale;
            });
            expect(Math.sqrt(norm2)).toBeLessThanOrEqual((clipNorm + Math.sqrt(slack2)) * (1 + 2 ** -20));
          }
          first.forEach((t, i) => {
            const r = ef.residual(t.name);
            r.forEach((x, j) => expect(Math.abs((sent[i] as Float64Array)[j]! + x - (truth[i] as Float64Array)[j]!)).toBeLessThanOrEqual(rounds.length * 4 * 2 ** -22 * Math.max(1, Math.abs((truth[i] as Float64Array)[j]!))));
          });
        },
      ),
      { numRuns: 300 },
    );
    expect(() => new ErrorFeedback([{ name: 'w', shape: [1] }]).compress([{ name: 'w', shape: [1], values: Float32Array.of(1) }], seededRandom(1), { clipNorm: 0 })).toThrow(/clipNorm/);
  });

  it('refuses an update of another layout or with a non-finite value, and keeps its residual', () => {
    const layout = [
      { name: 'a', shape: [2, 2] },
      { name: 'b', shape: [3] },
    ];
    const ef = new ErrorFeedback(layout);
    const random = seededRandom(1);
    const good = [
      { name: 'a', shape: [2, 2], values: Float32Array.from([1, -2, 0.5, 0.25]) },
      { name: 'b', shape: [3], values: Float32Array.from([0.1, 0.2, 0.3]) },
    ];
    ef.compress(good, random, { density: 0.5 });
    const before = [ef.residual('a'), ef.residual('b')];
    expect(() => ef.compress([good[0]!], random)).toThrow(/1 tensors, the model has 2/);
    expect(() => ef.compress([good[0]!, { name: 'b', shape: [1, 3], values: good[1]!.values }], random)).toThrow(/\[3\] in the model/);
    expect(() => ef.compress([good[0]!, { name: 'c', shape: [3], values: good[1]!.values }], random)).toThrow(/expected "b"/);
    try {
      ef.compress([good[0]!, { name: 'b', shape: [3], values: Float32Array.from([0, Number.NaN, 0]) }], random);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FederatedError);
      expect((err as FederatedError).field).toBe('b[1]');
    }
    expect([ef.residual('a'), ef.residual('b')]).toEqual(before);
    ef.reset();
    expect([...ef.residual('a'), ...ef.residual('b')].every((x) => x === 0)).toBe(true);
    expect(() => ef.residual('c')).toThrow(/no tensor "c"/);
  });
});
