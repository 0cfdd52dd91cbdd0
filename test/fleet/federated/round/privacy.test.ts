import { describe, expect, it } from 'vitest';
import { addGaussianNoise, averageOverExpectedClients, PrivacyBudget, seededUniformSource } from '../../../../fleet/federated/privacy/index.js';
import { FederatedTaskRounds, openRound } from '../../../../fleet/federated/round/index.js';
import { closeOrFail, elements, FakeClock, gateways, harness, modelOf, openOrFail, rawUpdate, SMALL_LAYOUT, task } from './fixtures.js';
import type { QuantizedTensor, TensorLayout } from '../../../../fleet/protocol/federated/index.js';

const S = 2 ** -10;
const flat = (q: number): QuantizedTensor[] => SMALL_LAYOUT.map((t: TensorLayout) => ({ name: t.name, shape: [...t.shape], scale: S, q: new Int8Array(elements(t)).fill(q) }));
const model = modelOf(SMALL_LAYOUT, (k, j) => k + j / 4);
const privacy = { noiseMultiplier: 2, targetEpsilon: 3, delta: 1e-5, population: 10 };
const privateTask = (o: Record<string, unknown> = {}) => task({ minClients: 2, samplingShare: 0.5, clipNorm: 0.1, privacy, ...o });

describe('a private task', () => {
  it('adds noise to the unweighted sum of clipped updates and divides by the expected client count q x N', () => {
    const h = harness(privateTask());
    const seed = 21;
    const drawn = openOrFail(h, 1, model, gateways(10), seed);
    expect(drawn.length).toBeGreaterThanOrEqual(2);
    // Sample counts differ wildly: with privacy they must not weigh (the sensitivity is one clip norm per gateway).
    drawn.forEach((g, i) => h.rounds.accept(g, rawUpdate(g, 1, flat(10 + i), { samples: i === 0 ? 1_000_000 : 1, calibration: { n: 20, sum: -60, sumSq: 190 } })));
    const { record, model: next } = closeOrFail(h);
    expect(record.strategy.combination).toBe('dp-noised-sum');
    // Calibration moments are pooled only without privacy: they would leave the fleet un-noised in the release.
    expect(record.calibration).toBeNull();
    expect(record.privacy).toMatchObject({ rounds: 1, delta: 1e-5, targetEpsilon: 3, samplingRate: 0.5, noiseMultiplier: 2, nextRoundAllowed: true });
    // The same source, drawn as the round drew it: one coin per eligible gateway, then the noise.
    const random = seededUniformSource(seed);
    for (let i = 0; i < 10; i += 1) random();
    const sum = SMALL_LAYOUT.map((t) => Float64Array.from({ length: elements(t) }, () => drawn.reduce((s, _, i) => s + (10 + i) * S, 0)));
    const expected = averageOverExpectedClients(addGaussianNoise(sum, { clipNorm: 0.1, noiseMultiplier: 2 }, random), 0.5 * 10);
    next!.parameters.forEach((t, k) => t.values.forEach((v, j) => expect(v).toBe(Math.fround(model.parameters[k]!.values[j]! + expected[k]![j]!))));
  });

  it('stops training when the budget is spent: the round that would pass the target is refused before anything is drawn', () => {
    const t = privateTask();
    const affordable = new PrivacyBudget({ epsilon: 3, delta: 1e-5 }).roundsAffordable({ samplingRate: 0.5, noiseMultiplier: 2 });
    expect(affordable).toBeGreaterThan(1);
    const h = harness(t);
    const released: number[] = [];
    let refusedAt = 0;
    for (let r = 1; r <= 100 && refusedAt === 0; r += 1) {
      const opened = h.rounds.open({ round: r, globalModel: model, eligibleGateways: gateways(10), random: seededUniformSource(r) });
      if (opened.status === 'refused') {
        expect(opened.reason).toBe('privacy-budget-spent');
        expect(opened.detail).toMatch(/one more round would spend epsilon [\d.]+ at delta 0.00001, over targetEpsilon 3; training of task "motor-ae" stops/);
        refusedAt = r;
        break;
      }
      opened.invitations.forEach(({ gateway }) => h.rounds.accept(gateway, rawUpdate(gateway, r, flat(5))));
      h.clock.advance(60_000);
      const { record } = closeOrFail(h);
      // A round with too few drawn gateways releases nothing and spends nothing.
      if (record.outcome.type === 'no-model') {
        expect(record.privacy).toBeNull();
        continue;
      }
      const report = record.privacy!;
      expect(report.rounds).toBe(released.length + 1);
      expect(report.epsilon).toBeGreaterThan(released.at(-1) ?? 0);
      expect(report.epsilon).toBeLessThanOrEqual(3);
      expect(report.nextRoundAllowed).toBe(report.rounds < affordable);
      released.push(report.epsilon);
    }
    expect(released).toHaveLength(affordable);
    expect(refusedAt).toBeGreaterThan(affordable);
    const r = refusedAt;
    expect(h.rounds.openRound).toBeNull();
    expect(h.rounds.privacyHistory).toEqual([{ samplingRate: 0.5, noiseMultiplier: 2, rounds: affordable }]);
    // A restart rebuilds the budget from the stored history and refuses as well.
    const again = new FederatedTaskRounds({ task: t, now: h.clock.now, isActiveGateway: () => true, privacyHistory: h.rounds.privacyHistory, lastRound: r });
    expect(again.open({ round: r + 1, globalModel: model, eligibleGateways: gateways(10), random: seededUniformSource(1) })).toMatchObject({ status: 'refused', reason: 'privacy-budget-spent' });
  });

  it('spends nothing for a round without a model, and refuses the model when the budget was spent meanwhile', () => {
    const t = privateTask();
    const budget = new PrivacyBudget({ epsilon: 3, delta: 1e-5 });
    const clock = new FakeClock();
    const open = (round: number) => {
      const o = openRound({ task: t, round, globalModel: model, eligibleGateways: gateways(10), random: seededUniformSource(round), now: clock.now, isActiveGateway: () => true, privacyBudget: budget });
      if (o.status !== 'opened') throw new Error('refused');
      return o;
    };
    const a = open(1);
    clock.advance(60_000);
    expect(a.round.closeIfDue()?.record.outcome).toMatchObject({ type: 'no-model', reason: 'below-quorum' });
    expect(budget.roundsSpent).toBe(0);

    const b = open(2);
    b.invitations.forEach(({ gateway }) => b.round.accept(gateway, rawUpdate(gateway, 2, flat(5))));
    // Another writer spends the rest of the budget while round 2 is open.
    const mechanism = { samplingRate: 0.5, noiseMultiplier: 2 };
    while (budget.decide(mechanism).allowed) budget.spend(mechanism);
    clock.advance(60_000);
    const closed = b.round.closeIfDue()!;
    expect(closed.model).toBeNull();
    expect(closed.record.privacy).toBeNull();
    expect(closed.record.outcome).toMatchObject({ type: 'no-model', reason: 'privacy-budget-spent', detail: expect.stringMatching(/over the task's budget of 3; discard this round's noised sum/) });
  });

  it('needs the budget for a private task and refuses one for a task without privacy', () => {
    const clock = new FakeClock();
    const base = { round: 1, globalModel: model, eligibleGateways: gateways(3), random: seededUniformSource(1), now: clock.now, isActiveGateway: () => true };
    expect(() => openRound({ ...base, task: privateTask() })).toThrow(/privacyBudget: required: the task is private/);
    expect(() => openRound({ ...base, task: task(), privacyBudget: new PrivacyBudget({ epsilon: 1, delta: 1e-5 }) })).toThrow(/privacyBudget: given for a task without privacy/);
  });
});
