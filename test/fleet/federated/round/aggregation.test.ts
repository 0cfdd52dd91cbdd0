import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QuantizedTensor, TensorLayout } from '../../../../fleet/protocol/federated/index.js';
import { closeOrFail, elements, gateways, harness, modelOf, openOrFail, rawUpdate, SMALL_LAYOUT, task } from './fixtures.js';

/** Dense tensors of SMALL_LAYOUT whose dequantised values are exactly q[j] x scale. */
const exact = (q: (k: number, j: number) => number, scale: number): QuantizedTensor[] =>
  SMALL_LAYOUT.map((t: TensorLayout, k) => ({ name: t.name, shape: [...t.shape], scale, q: Int8Array.from({ length: elements(t) }, (_, j) => q(k, j)) }));

const model = modelOf(SMALL_LAYOUT, (k, j) => 0.5 * k - 0.1 * j);
const values = (k: number): Float32Array => model.parameters[k]!.values;

describe('aggregation at the close of a round', () => {
  it('applies the sample-weighted mean of the deltas to the global model (FedAvg)', () => {
    const h = harness(task({ minClients: 2, clipNorm: 10 }));
    openOrFail(h, 1, model, gateways(2));
    const s = 2 ** -7; // exact in float32, and q x s is exact too
    h.rounds.accept('gw-00', rawUpdate('gw-00', 1, exact((k, j) => j + 1, s), { samples: 100, validationLoss: 0.5, calibration: { n: 20, sum: -60, sumSq: 190 } }));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 1, exact((k, j) => -(j + 1) * (k + 1), s), { samples: 300, validationLoss: 0.25 }));
    const { record, model: next } = closeOrFail(h);
    // One update's moments: mean -3, E[x^2] 9.5, spread sqrt(0.5).
    expect(record.calibration).toEqual({ windows: 20, logMean: -3, logStd: Math.sqrt(190 / 20 - 9) });
    expect(record.clipped).toBe(0);
    expect(record.strategy).toEqual({ type: 'fedavg', options: {}, combination: 'rule', selected: null });
    expect(record.validationLoss).toEqual({ reported: 2, mean: 0.375, weightedMean: (100 * 0.5 + 300 * 0.25) / 400 });
    next!.parameters.forEach((t, k) => {
      t.values.forEach((v, j) => {
        const d = (100 * (j + 1) * s + 300 * -(j + 1) * (k + 1) * s) / 400;
        expect(v).toBe(Math.fround(values(k)[j]! + d));
      });
    });
    expect(record.outcome).toMatchObject({ type: 'model' });
  });

  it('clips on the fleet an update over C but within the rounding tolerance, and counts it', () => {
    const C = 1;
    const h = harness(task({ minClients: 1, clipNorm: C }));
    openOrFail(h, 1, model, gateways(1));
    // 8 values of 127 x s: norm 1.01 C, over C but within the tolerance for tensors of at most 6 values (1.019).
    const s = Math.fround((1.01 * C) / (127 * Math.sqrt(8)));
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 1, exact(() => 127, s)))).toMatchObject({ status: 'accepted' });
    const { record, model: next } = closeOrFail(h);
    expect(record.clipped).toBe(1);
    let norm2 = 0;
    next!.parameters.forEach((t, k) => t.values.forEach((v, j) => (norm2 += (v - values(k)[j]!) ** 2)));
    expect(Math.sqrt(norm2)).toBeCloseTo(C, 5);
    expect((record.outcome as { deltaNorm: number }).deltaNorm).toBeLessThanOrEqual(C);
  });

  it('gives the same model bit for bit whatever order the updates came in (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(fc.integer({ min: -127, max: 127 }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 1000 })), { minLength: 1, maxLength: 6 }),
        fc.constantFrom({ type: 'fedavg' }, { type: 'trimmed-mean', options: { trimShare: 0.4 } }, { type: 'median' }),
        fc.nat(),
        (updates, strategy, seed) => {
          const ids = gateways(updates.length);
          const run = (order: number[]): Float32Array[] => {
            const h = harness(task({ minClients: strategy.type === 'trimmed-mean' ? 3 : 1, strategy, clipNorm: 1 }));
            openOrFail(h, 1, model, ids);
            for (const i of order) {
              const [q, samples] = updates[i]!;
              h.rounds.accept(ids[i]!, rawUpdate(ids[i]!, 1, exact((k, j) => q[k * 6 + j]!, 2 ** -12), { samples }));
            }
            h.clock.advance(60_000);
            const closed = closeOrFail(h);
            return closed.model === null ? [] : closed.model.parameters.map((t) => t.values);
          };
          const forward = updates.map((_, i) => i);
          const shuffled = [...forward].sort((a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101));
          expect(run(shuffled)).toEqual(run(forward));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('runs the task\'s robust rule: a trimmed mean drops an outlier that stayed within the norm bound', () => {
    const h = harness(task({ minClients: 5, strategy: { type: 'trimmed-mean', options: { trimShare: 0.2 } } }));
    openOrFail(h, 1, model, gateways(5));
    const s = 2 ** -10;
    gateways(4).forEach((g, i) => h.rounds.accept(g, rawUpdate(g, 1, exact(() => 10 + i, s))));
    h.rounds.accept('gw-04', rawUpdate('gw-04', 1, exact(() => -127, 2 ** -9)));
    const { record, model: next } = closeOrFail(h);
    expect(record).toMatchObject({ closedBy: 'all-answered', strategy: { type: 'trimmed-mean', options: { trimShare: 0.2 } } });
    // Per coordinate: sorted values -0.248, 10s, 11s, 12s, 13s; one trimmed per side: mean of 10s, 11s, 12s.
    next!.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(values(k)[j]! + 11 * s))));
  });

  it('names the gateways multi-Krum chose', () => {
    const h = harness(task({ minClients: 5, strategy: { type: 'multi-krum', options: { byzantineClients: 1, selectedUpdates: 2 } } }));
    openOrFail(h, 1, model, gateways(5));
    gateways(5).forEach((g, i) => h.rounds.accept(g, rawUpdate(g, 1, exact(() => (i === 2 ? -100 : 10 + (i % 2)), 2 ** -10))));
    const { record } = closeOrFail(h);
    expect(record.strategy.selected).toHaveLength(2);
    expect(record.strategy.selected).not.toContain('gw-02');
  });
});
