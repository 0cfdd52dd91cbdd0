import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededUniformSource } from '../../../../fleet/federated/privacy/index.js';
import { FederatedRoundError, openRound, REJECTION_REASONS, type RoundRecord, type UpdateVerdict } from '../../../../fleet/federated/round/index.js';
import type { UpdateMessage } from '../../../../fleet/protocol/federated/index.js';
import { secureScale } from '../../../../fleet/federated/round/secure-sum.js';
import { closeOrFail, delta, FakeClock, flatQuantized, gatewayUpdate, gateways, harness, modelOf, openOrFail, rawUpdate, SMALL_LAYOUT, task } from './fixtures.js';

const DEADLINE = 60_000;
const model = modelOf(SMALL_LAYOUT, (k, j) => k + j / 10);
const good = (gateway: string, round = 1, scale = 0.01, samples = 100): UpdateMessage =>
  gatewayUpdate({ gateway, round, deltas: delta(SMALL_LAYOUT, (k, j) => scale * (1 + k + j)), samples, clipNorm: 1 });
const wrongShape = (gateway: string, round = 1): UpdateMessage => rawUpdate(gateway, round, flatQuantized([{ name: 'layers.0.w', shape: [3, 2] }, SMALL_LAYOUT[1]!], 1, 0.01));

const totalRejections = (r: RoundRecord): number => REJECTION_REASONS.reduce((n, k) => n + r.rejections[k], 0);

describe('a round closes on quorum plus deadline', () => {
  it('closes at the deadline with the updates it has; a straggler never blocks it', () => {
    const h = harness(task({ minClients: 3 }));
    const drawn = openOrFail(h, 1, model, gateways(5));
    expect(drawn).toEqual(gateways(5));
    for (const g of drawn.slice(0, 4)) {
      h.clock.advance(1000);
      expect(h.rounds.accept(g, good(g))).toEqual({ status: 'accepted', round: 1 });
      expect(h.rounds.closeIfDue()).toBeNull();
    }
    h.clock.t = h.rounds.openRound!.deadlineAtMs - 1;
    expect(h.rounds.closeIfDue()).toBeNull();
    h.clock.advance(1);
    const { record, model: next } = closeOrFail(h);
    expect(record).toMatchObject({ round: 1, closedBy: 'deadline', durationMs: DEADLINE, sampled: 5, eligible: 5, participants: gateways(4), outcome: { type: 'model' } });
    expect(next?.basedOnVersion).toBe(1);
    // The straggler's update comes after the close: late, dropped and counted, never in round 1.
    h.clock.advance(5000);
    expect(h.rounds.accept('gw-04', good('gw-04'))).toMatchObject({ status: 'rejected', reason: 'late-dropped' });
    expect(h.rounds.accept('gw-04', good('gw-04'))).toMatchObject({ status: 'rejected', reason: 'duplicate' });
  });

  it('takes nothing once the deadline has passed, even before the close was asked for', () => {
    const h = harness(task({ minClients: 1 }));
    openOrFail(h, 1, model, gateways(2));
    h.rounds.accept('gw-00', good('gw-00'));
    h.clock.advance(DEADLINE);
    expect(h.rounds.accept('gw-01', good('gw-01'))).toMatchObject({ status: 'rejected', reason: 'late-dropped' });
    const { record } = closeOrFail(h);
    expect(record).toMatchObject({ closedBy: 'deadline', participants: ['gw-00'], closedAtMs: record.openedAtMs + DEADLINE });
    expect(record.rejections['late-dropped']).toBe(1);
  });

  it('closes early when every drawn gateway has answered', () => {
    const h = harness(task({ minClients: 3 }));
    openOrFail(h, 1, model, gateways(5));
    for (const g of gateways(5)) {
      expect(h.rounds.closeIfDue()).toBeNull();
      h.clock.advance(10);
      h.rounds.accept(g, good(g));
    }
    const { record } = closeOrFail(h);
    expect(record).toMatchObject({ closedBy: 'all-answered', durationMs: 50, participants: gateways(5), outcome: { type: 'model' } });
  });

  it('closes without a model when the deadline passes with too few good updates, and says why', () => {
    const h = harness(task({ minClients: 3 }));
    openOrFail(h, 1, model, gateways(5));
    h.rounds.accept('gw-00', good('gw-00'));
    h.rounds.accept('gw-01', good('gw-01'));
    expect(h.rounds.accept('gw-02', wrongShape('gw-02'))).toMatchObject({ status: 'rejected', reason: 'wrong-shape' });
    h.clock.advance(DEADLINE);
    const { record, model: next } = closeOrFail(h);
    expect(next).toBeNull();
    expect(record.outcome).toEqual({ type: 'no-model', reason: 'below-quorum', detail: '2 good updates of 5 drawn gateways, minClients is 3' });
    expect(record).toMatchObject({ closedBy: 'deadline', participants: ['gw-00', 'gw-01'], privacy: null });
    expect(record.rejections['wrong-shape']).toBe(1);
  });

  it('closes as soon as the quorum is out of reach, and at once when too few were drawn', () => {
    const h = harness(task({ minClients: 3 }));
    openOrFail(h, 1, model, gateways(4));
    h.clock.advance(100);
    h.rounds.accept('gw-00', wrongShape('gw-00'));
    expect(h.rounds.closeIfDue()).toBeNull();
    h.clock.advance(100);
    h.rounds.accept('gw-01', wrongShape('gw-01'));
    // 0 accepted + 2 still waiting < 3: no answer can make a model any more.
    h.clock.advance(100);
    const { record } = closeOrFail(h);
    expect(record).toMatchObject({ closedBy: 'quorum-unreachable', durationMs: 200, outcome: { type: 'no-model', reason: 'below-quorum' } });

    // A share of 0.3 of 4 gateways with this seed draws 1: the round is due the moment it opens.
    const h2 = harness(task({ minClients: 3, samplingShare: 0.3 }));
    const drawn = openOrFail(h2, 1, model, gateways(4), 3);
    expect(drawn.length).toBeLessThan(3);
    expect(closeOrFail(h2).record).toMatchObject({ closedBy: 'quorum-unreachable', durationMs: 0, sampled: drawn.length });
  });

  it('refuses to be driven wrongly: a second open, a round number that does not grow, a bad model or eligible list', () => {
    const h = harness(task());
    openOrFail(h, 3, model, gateways(3));
    expect(() => openOrFail(h, 4, model, gateways(3))).toThrow(/round 3 of task "motor-ae" is still open: close it first/);
    h.clock.advance(DEADLINE);
    closeOrFail(h);
    expect(() => openOrFail(h, 3, model, gateways(3))).toThrow(/round numbers grow: expected more than 3, got 3/);
    const nan = modelOf(SMALL_LAYOUT, (k, j) => (k === 1 && j === 1 ? Number.NaN : 0));
    expect(() => openOrFail(h, 4, nan, gateways(3))).toThrow(/globalModel.parameters\[1\].values\[1\]: NaN is not finite/);
    expect(() => openOrFail(h, 4, model, ['gw-00', 'gw-00'])).toThrow(FederatedRoundError);
    expect(() => openOrFail(h, 4, { version: -1, parameters: model.parameters }, gateways(3))).toThrow(/globalModel.version/);
    expect(h.rounds.closeIfDue()).toBeNull();
  });

  it('opens a secure-aggregation round with a shared int8 scale from the clip norm, refuses plain updates, and closes only with the protocol\'s sum: global + scale x sum / survivors', () => {
    const clock = new FakeClock();
    const t = task({ secureAggregation: true, clipNorm: 2, minClients: 2 });
    const opened = openRound({ task: t, round: 1, globalModel: model, eligibleGateways: gateways(3), random: seededUniformSource(1), now: clock.now, isActiveGateway: () => true });
    if (opened.status !== 'opened') throw new Error('not opened');
    const scale = opened.announcement.sharedScale as number;
    expect(scale).toBe(secureScale(2));
    expect(Math.fround(scale)).toBe(scale);
    expect(scale * 127).toBeGreaterThanOrEqual(2);
    expect(scale * 127).toBeLessThan(2 * (1 + 1e-6));
    const plain = opened.round.accept('gw-00', gatewayUpdate({ gateway: 'gw-00', round: 1, deltas: delta(SMALL_LAYOUT, () => 0.01), clipNorm: 2 }));
    expect(plain).toMatchObject({ status: 'rejected', reason: 'malformed', detail: expect.stringMatching(/runs secure aggregation: a plain update is refused/) });
    clock.advance(t.deadlineMs);
    expect(opened.round.closeIfDue()).toMatchObject({ model: null });
    const clock2 = new FakeClock();
    const again = openRound({ task: t, round: 2, globalModel: model, eligibleGateways: gateways(3), random: seededUniformSource(1), now: clock2.now, isActiveGateway: () => true });
    if (again.status !== 'opened') throw new Error('not opened');
    const n = model.parameters.reduce((a, p) => a + p.values.length, 0);
    // Two survivors summed to -3 (two's complement in the ring) at every coordinate.
    const sum = new Uint32Array(n).fill(0xffff_fffd);
    const summary = { scale, levels: 127, threshold: 2, graph: 'complete' as const, advertised: 3, dealt: 3, masked: 2, responded: 2, dropped: ['gw-02'], weighting: 'mean-over-survivors' as const, refusals: { duplicate: 1 }, rejectedShares: 0 };
    const closed = again.round.closeSecure({ ok: true, sum, survivors: ['gw-01', 'gw-00'], closedBy: 'deadline', closedAtMs: clock2.now(), summary });
    expect(closed.record).toMatchObject({ participants: ['gw-00', 'gw-01'], outcome: { type: 'model' }, secureAggregation: summary, validationLoss: { reported: 0 } });
    const first = model.parameters[0]?.values[0] as number;
    expect(closed.model?.parameters[0]?.values[0]).toBe(Math.fround(first + -3 * (scale / 2)));
    // Fewer survivors than minClients: no model, whatever the sum.
    const third = openRound({ task: t, round: 3, globalModel: model, eligibleGateways: gateways(3), random: seededUniformSource(1), now: clock2.now, isActiveGateway: () => true });
    if (third.status !== 'opened') throw new Error('not opened');
    expect(third.round.closeSecure({ ok: true, sum, survivors: ['gw-00'], closedBy: 'deadline', closedAtMs: clock2.now(), summary })).toMatchObject({ model: null, record: { outcome: { type: 'no-model', reason: 'below-quorum' } } });
  });

  it('announces the round to everyone without naming who was drawn; each drawn gateway gets its own invitation', () => {
    const clock = new FakeClock(5000);
    const t = task({ strategy: { type: 'fedprox', options: { mu: 0.1 } }, samplingShare: 0.5, quantisation: { type: 'top-k', density: 0.25 } });
    const opened = openRound({ task: t, round: 7, globalModel: { ...model, version: 12 }, eligibleGateways: gateways(10), random: seededUniformSource(9), now: clock.now, isActiveGateway: () => true });
    if (opened.status !== 'opened') throw new Error('not opened');
    expect(opened.announcement).toEqual({
      v: 1,
      task: 'motor-ae',
      round: 7,
      model: 'motor-anomaly',
      globalModelVersion: 12,
      localEpochs: 2,
      learningRate: 0.01,
      clipNorm: 1,
      strategy: { type: 'fedprox', options: { mu: 0.1 } },
      quantisation: { type: 'top-k', density: 0.25 },
      secureAggregation: false,
      sharedScale: null,
      openedAtMs: 5000,
      deadlineAtMs: 65_000,
    });
    expect(JSON.stringify(opened.announcement)).not.toMatch(/gw-/);
    expect(opened.invitations.map((i) => i.gateway)).toEqual([...opened.round.roster.sampled]);
    expect(opened.invitations.every((i) => i.v === 1 && i.task === 'motor-ae' && i.round === 7)).toBe(true);
  });

  it('whatever the arrivals, closes by the deadline, makes a model exactly at quorum, and counts every refusal (property)', () => {
    const arrival = fc.record({ atMs: fc.option(fc.integer({ min: 0, max: 2 * DEADLINE }), { nil: undefined }), kind: fc.constantFrom('good', 'good', 'good', 'wrong-shape', 'norm-over-bound', 'non-finite') });
    fc.assert(
      fc.property(fc.array(arrival, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 2 * DEADLINE }), { maxLength: 5 }), (arrivals, minClients, polls) => {
        const h = harness(task({ minClients }));
        const ids = gateways(arrivals.length);
        openOrFail(h, 1, model, ids);
        const opened = h.clock.t;
        const events = [
          ...arrivals.flatMap((a, i) => (a.atMs === undefined ? [] : [{ atMs: a.atMs, gateway: ids[i] as string, kind: a.kind }])),
          ...polls.map((atMs) => ({ atMs, gateway: null, kind: 'poll' })),
          { atMs: DEADLINE, gateway: null, kind: 'poll' }, // the service's deadline timer
        ].sort((a, b) => a.atMs - b.atMs || (a.gateway === null ? 1 : 0) - (b.gateway === null ? 1 : 0));
        // The service asks after every event, the open included.
        let closed: RoundRecord | null = h.rounds.closeIfDue()?.record ?? null;
        const verdicts: { atMs: number; kind: string; verdict: UpdateVerdict; beforeClose: boolean }[] = [];
        for (const e of events) {
          h.clock.t = opened + e.atMs;
          if (e.gateway !== null) {
            const m =
              e.kind === 'good'
                ? good(e.gateway)
                : e.kind === 'wrong-shape'
                  ? wrongShape(e.gateway)
                  : rawUpdate(e.gateway, 1, flatQuantized(SMALL_LAYOUT, 127, e.kind === 'non-finite' ? Number.POSITIVE_INFINITY : 1));
            verdicts.push({ atMs: e.atMs, kind: e.kind, verdict: h.rounds.accept(e.gateway, m), beforeClose: closed === null });
          }
          closed ??= h.rounds.closeIfDue()?.record ?? null;
          if (e.gateway === null && e.atMs >= DEADLINE) expect(closed).not.toBeNull();
        }
        const r = closed as RoundRecord;
        expect(r.closedAtMs).toBeLessThanOrEqual(opened + DEADLINE);
        const accepted = verdicts.filter((v) => v.verdict.status === 'accepted');
        expect(accepted.every((v) => v.atMs < DEADLINE && v.kind === 'good' && v.beforeClose && opened + v.atMs <= r.closedAtMs)).toBe(true);
        expect(r.participants.length).toBe(accepted.length);
        expect(r.outcome.type).toBe(accepted.length >= minClients ? 'model' : 'no-model');
        for (const v of verdicts.filter((x) => x.beforeClose && x.kind !== 'good' && x.atMs < DEADLINE)) expect(v.verdict).toMatchObject({ status: 'rejected', reason: v.kind });
        expect(totalRejections(r)).toBe(verdicts.filter((v) => v.beforeClose && v.verdict.status === 'rejected').length);
        const answeredInTime = verdicts.filter((v) => v.atMs < DEADLINE && v.beforeClose && (v.verdict.status === 'accepted' || v.verdict.status === 'rejected' && v.verdict.reason !== 'late-dropped')).length;
        if (r.closedBy === 'deadline') expect(r.closedAtMs).toBe(opened + DEADLINE);
        if (r.closedBy === 'all-answered') expect(answeredInTime).toBe(arrivals.length);
        if (r.closedBy === 'quorum-unreachable') expect(accepted.length + arrivals.length - answeredInTime).toBeLessThan(minClients);
        else expect(arrivals.length).toBeGreaterThanOrEqual(minClients);
      }),
      { numRuns: 300 },
    );
  });
});
