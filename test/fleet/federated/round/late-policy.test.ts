import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QuantizedTensor, TensorLayout } from '../../../../fleet/protocol/federated/index.js';
import { stalenessWeight } from '../../../../fleet/federated/round/index.js';
import { closeOrFail, elements, flatQuantized, gateways, harness, modelOf, openOrFail, rawUpdate, SMALL_LAYOUT, task } from './fixtures.js';

const S = 2 ** -10;
/** Every value of the delta is q x S, exactly. */
const flat = (q: number): QuantizedTensor[] => SMALL_LAYOUT.map((t: TensorLayout) => ({ name: t.name, shape: [...t.shape], scale: S, q: new Int8Array(elements(t)).fill(q) }));
const model = modelOf(SMALL_LAYOUT, (k, j) => k - j / 8);
const buffer = (o: Record<string, number> = {}) => task({ minClients: 2, lateUpdates: { type: 'buffer', stalenessExponent: 1, maxStaleness: 2, maxBuffered: 4, ...o } });

describe('late updates', () => {
  it('buffer: a straggler\'s update joins the next round with its delta scaled by 1 / (1 + staleness)^a', () => {
    const h = harness(buffer());
    openOrFail(h, 1, model, gateways(4));
    h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flat(10), { samples: 100 }));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 1, flat(20), { samples: 100 }));
    h.clock.advance(60_000);
    // After the deadline, before the close was asked for: late, kept for round 2.
    expect(h.rounds.accept('gw-03', rawUpdate('gw-03', 1, flat(-40), { samples: 300 }))).toEqual({ status: 'buffered', round: 1 });
    const r1 = closeOrFail(h);
    expect(r1.record.participants).toEqual(['gw-00', 'gw-01']);
    expect(r1.record.late).toEqual({ buffered: 1, applied: [], expired: 0 });
    const m1 = { version: 2, parameters: r1.model!.parameters };
    m1.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(model.parameters[k]!.values[j]! + 15 * S))));

    h.clock.advance(1000);
    expect(h.rounds.accept('gw-02', rawUpdate('gw-02', 1, flat(60), { samples: 100 }))).toEqual({ status: 'buffered', round: 1 }); // between rounds
    openOrFail(h, 2, m1, gateways(4));
    h.rounds.accept('gw-00', rawUpdate('gw-00', 2, flat(8), { samples: 100 }));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 2, flat(16), { samples: 100 }));
    h.clock.advance(60_000);
    const r2 = closeOrFail(h);
    // Staleness 1, a = 1: weight 1/2. FedAvg over samples: fresh 100 x 8S, 100 x 16S; stale 100 x 30S, 300 x -20S.
    const expected = (100 * 8 + 100 * 16 + 100 * 30 + 300 * -20) / 600;
    r2.model!.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(m1.parameters[k]!.values[j]! + expected * S))));
    expect(r2.record.late).toEqual({
      buffered: 1,
      applied: [
        { gateway: 'gw-02', round: 1, staleness: 1, weight: 0.5 },
        { gateway: 'gw-03', round: 1, staleness: 1, weight: 0.5 },
      ],
      expired: 0,
    });
    expect(r2.record.participants).toEqual(['gw-00', 'gw-01']);
    expect(h.rounds.bufferedLateUpdates).toBe(0);
  });

  it('drop: the same straggler is refused and counted, and the next round is as if it never came', () => {
    const h = harness(task({ minClients: 2 }));
    openOrFail(h, 1, model, gateways(3));
    h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flat(10)));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 1, flat(20)));
    h.clock.advance(60_000);
    const m1 = { version: 2, parameters: closeOrFail(h).model!.parameters };
    expect(h.rounds.accept('gw-02', rawUpdate('gw-02', 1, flat(60)))).toMatchObject({ status: 'rejected', reason: 'late-dropped' });
    openOrFail(h, 2, m1, gateways(3));
    h.rounds.accept('gw-00', rawUpdate('gw-00', 2, flat(8)));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 2, flat(16)));
    h.clock.advance(60_000);
    const r2 = closeOrFail(h);
    r2.model!.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(m1.parameters[k]!.values[j]! + 12 * S))));
    expect(r2.record.rejections['late-dropped']).toBe(1);
    expect(r2.record.late).toEqual({ buffered: 0, applied: [], expired: 0 });
  });

  it('buffer: keeps at most maxBuffered, checks a late update like any other, and drops what grew too stale', () => {
    const h = harness(buffer({ maxBuffered: 1, maxStaleness: 1 }));
    openOrFail(h, 1, model, gateways(4));
    h.clock.advance(60_000);
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flat(5)))).toMatchObject({ status: 'buffered' });
    expect(h.rounds.accept('gw-01', rawUpdate('gw-01', 1, flat(5)))).toMatchObject({ status: 'rejected', reason: 'late-buffer-full' });
    expect(h.rounds.accept('gw-02', rawUpdate('gw-02', 1, flatQuantized(SMALL_LAYOUT, 127, 1)))).toMatchObject({ status: 'rejected', reason: 'norm-over-bound' });
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flat(5)))).toMatchObject({ status: 'rejected', reason: 'duplicate' });
    const r1 = closeOrFail(h).record;
    expect(r1.outcome).toMatchObject({ type: 'no-model', reason: 'below-quorum' });
    expect(r1.rejections).toMatchObject({ 'late-buffer-full': 1, 'norm-over-bound': 1, duplicate: 1 });
    // Round 2 makes no model either: the buffered update waits (staleness 1 is allowed)...
    openOrFail(h, 2, model, gateways(4));
    h.clock.advance(60_000);
    expect(closeOrFail(h).record.late).toEqual({ buffered: 0, applied: [], expired: 0 });
    expect(h.rounds.bufferedLateUpdates).toBe(1);
    // ...and at round 3 it would be 2 rounds stale, over maxStaleness 1: dropped, not applied.
    openOrFail(h, 3, model, gateways(4));
    h.rounds.accept('gw-00', rawUpdate('gw-00', 3, flat(1)));
    h.rounds.accept('gw-01', rawUpdate('gw-01', 3, flat(1)));
    h.clock.advance(60_000);
    const r3 = closeOrFail(h);
    expect(r3.record.late).toEqual({ buffered: 0, applied: [], expired: 1 });
    r3.model!.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(model.parameters[k]!.values[j]! + S))));
  });

  it('buffer: tells late from stale by the window of maxStaleness rounds', () => {
    const h = harness(buffer({ maxStaleness: 2 }));
    for (let r = 1; r <= 3; r += 1) {
      openOrFail(h, r, model, gateways(4));
      h.clock.advance(60_000);
      closeOrFail(h);
    }
    openOrFail(h, 4, model, gateways(4));
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 3, flat(1)))).toMatchObject({ status: 'buffered' });
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 2, flat(1)))).toMatchObject({ status: 'buffered' });
    expect(h.rounds.accept('gw-00', rawUpdate('gw-00', 1, flat(1)))).toMatchObject({ status: 'rejected', reason: 'stale-round' });
  });

  it('the staleness weight is 1 when fresh and falls with staleness, faster for a larger exponent (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 8, noNaN: true }), fc.double({ min: 0, max: 8, noNaN: true }), (tau, a, b) => {
        const w = stalenessWeight(tau, a);
        expect(stalenessWeight(0, a)).toBe(1);
        expect(w).toBeGreaterThan(0);
        expect(w).toBeLessThanOrEqual(1);
        expect(stalenessWeight(tau + 1, a)).toBeLessThanOrEqual(w);
        if (a < b) expect(stalenessWeight(tau, b)).toBeLessThanOrEqual(w);
      }),
    );
    expect(stalenessWeight(3, 0.5)).toBe(0.5);
    expect(() => stalenessWeight(-1, 1)).toThrow(RangeError);
  });
});
