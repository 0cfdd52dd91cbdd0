import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrivacyBudget, type PrivacyRoundReport } from '../../../../fleet/federated/privacy/privacy-budget.js';
import { composedRdp, DEFAULT_RDP_ORDERS, epsilonAfterRounds, epsilonFromRdp } from '../../../../fleet/federated/privacy/rdp-accountant.js';
import { expectPrivacyError } from './expect-privacy-error.js';


/**
 * Epsilon after r rounds straight from the accountant (RDP of one round times r), and the first
 * round count whose epsilon passes a target, found by walking round by round.
 */
function accountant(mechanism: { samplingRate: number; noiseMultiplier: number }, delta: number) {
  const perRound = composedRdp(mechanism, 1);
  const epsilonAt = (r: number): number => epsilonFromRdp(DEFAULT_RDP_ORDERS, perRound.map((x) => r * x), delta).epsilon;
  const firstRoundOver = (epsilon: number): number => {
    for (let r = 1; ; r += 1) if (epsilonAt(r) > epsilon) return r;
  };
  return { epsilonAt, firstRoundOver };
}

describe('privacy budget of a task', () => {
  it('runs rounds until the next one would pass the target epsilon, and refuses that one (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.double({ min: 0.6, max: 3, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.constantFrom(1e-3, 1e-5),
        (q, z, rounds, between, delta) => {
          const mechanism = { samplingRate: q, noiseMultiplier: z };
          const { epsilonAt, firstRoundOver } = accountant(mechanism, delta);
          // A target between epsilon after `rounds` rounds and after one more.
          const lo = epsilonAt(rounds);
          const hi = epsilonAt(rounds + 1);
          fc.pre(hi > lo && lo > 0);
          const target = lo + between * (hi - lo);
          expect(firstRoundOver(target)).toBe(rounds + 1);

          const budget = new PrivacyBudget({ epsilon: target, delta });
          expect(budget.roundsAffordable(mechanism)).toBe(rounds);
          let report: PrivacyRoundReport | null = null;
          for (let r = 1; r <= rounds; r += 1) {
            expect(budget.decide(mechanism).allowed).toBe(true);
            report = budget.spend(mechanism);
            expect(report.rounds).toBe(r);
            expect(report.roundsLeft).toBe(rounds - r);
            expect(report.nextRoundAllowed).toBe(r < rounds);
            expect(report.epsilon).toBe(epsilonAt(r));
          }
          expect(report?.epsilon).toBeLessThanOrEqual(target);
          const refused = budget.decide(mechanism);
          expect(refused.allowed).toBe(false);
          expect(refused.epsilonAfter).toBeGreaterThan(target);
          expectPrivacyError(() => budget.spend(mechanism), /^round: would spend epsilon .* over the task's budget/);
          expect(budget.roundsSpent).toBe(rounds); // the refused round was not recorded
          expect(budget.spentSoFar().epsilon).toBe(report?.epsilon);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('refuses the very first round when one round alone costs more than the target', () => {
    const budget = new PrivacyBudget({ epsilon: 0.1, delta: 1e-5 });
    const costly = { samplingRate: 1, noiseMultiplier: 0.5 };
    expect(budget.decide(costly).allowed).toBe(false);
    expect(budget.roundsAffordable(costly)).toBe(0);
    expectPrivacyError(() => budget.spend(costly), /^round: would spend epsilon/);
    expect(budget.spentSoFar()).toEqual({ epsilon: 0, order: DEFAULT_RDP_ORDERS[0] });
  });

  it('reports, per round, epsilon at delta with the order and orders used, ready for the round record', () => {
    const budget = new PrivacyBudget({ epsilon: 8, delta: 1e-5 });
    const report = budget.spend({ samplingRate: 0.2, noiseMultiplier: 1.1 });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(report).toMatchObject({
      rounds: 1,
      delta: 1e-5,
      targetEpsilon: 8,
      samplingRate: 0.2,
      noiseMultiplier: 1.1,
      nextRoundAllowed: true,
      accountant: 'rdp-poisson-subsampled-gaussian',
      conversion: 'balle-2020',
    });
    expect(report.orders).toEqual(DEFAULT_RDP_ORDERS);
    expect(DEFAULT_RDP_ORDERS).toContain(report.order);
    expect(report.epsilon).toBe(epsilonAfterRounds({ samplingRate: 0.2, noiseMultiplier: 1.1 }, 1, 1e-5).epsilon);
  });

  it('composes rounds whose sampling rate and noise change, as the sum of their RDP', () => {
    const a = { samplingRate: 0.1, noiseMultiplier: 1.2 };
    const b = { samplingRate: 0.3, noiseMultiplier: 2 };
    const budget = new PrivacyBudget({ epsilon: 50, delta: 1e-6 });
    for (const m of [a, a, a, b, b, a]) budget.spend(m);
    expect(budget.history).toEqual([
      { ...a, rounds: 3 },
      { ...b, rounds: 2 },
      { ...a, rounds: 1 },
    ]);
    const rdpB = composedRdp(b, 2);
    const rdp = composedRdp(a, 4).map((r, i) => r + (rdpB[i] as number));
    expect(budget.spentSoFar().epsilon).toBeCloseTo(epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, 1e-6).epsilon, 12);
  });

  it('is rebuilt bit for bit from its stored history, through JSON (property)', () => {
    const mechanism = fc.record({ samplingRate: fc.double({ min: 0.01, max: 1, noNaN: true }), noiseMultiplier: fc.double({ min: 0.5, max: 5, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(mechanism, { minLength: 1, maxLength: 3 }), fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 8 }), (mechanisms, picks) => {
        const budget = new PrivacyBudget({ epsilon: 1e6, delta: 1e-5 });
        for (const p of picks) budget.spend(mechanisms[p % mechanisms.length] as (typeof mechanisms)[number]);
        const stored = JSON.parse(JSON.stringify(budget.history)) as typeof budget.history;
        const rebuilt = new PrivacyBudget({ epsilon: 1e6, delta: 1e-5 }, { spent: stored });
        expect(rebuilt.roundsSpent).toBe(picks.length);
        expect(rebuilt.spentSoFar()).toEqual(budget.spentSoFar());
        const next = mechanisms[0] as (typeof mechanisms)[number];
        expect(rebuilt.decide(next)).toEqual(budget.decide(next));
      }),
      { numRuns: 30 },
    );
  });

  it('refuses bad targets, mechanisms and histories with E_FEDERATED_PRIVACY', () => {
    for (const epsilon of [0, -1, Number.NaN, Infinity]) {
      expectPrivacyError(() => new PrivacyBudget({ epsilon, delta: 1e-5 }), /^target\.epsilon: must be a finite number > 0/);
    }
    for (const delta of [0, 1, -1e-5, 1.5, Number.NaN]) {
      expectPrivacyError(() => new PrivacyBudget({ epsilon: 1, delta }), /^target\.delta: must be in \(0, 1\)/);
    }
    const budget = new PrivacyBudget({ epsilon: 1, delta: 1e-5 });
    expectPrivacyError(() => budget.decide({ samplingRate: 0, noiseMultiplier: 1 }), /^next\.samplingRate: must be in \(0, 1\]/);
    expectPrivacyError(() => budget.decide({ samplingRate: 1.5, noiseMultiplier: 1 }), /^next\.samplingRate/);
    expectPrivacyError(() => budget.spend({ samplingRate: 0.5, noiseMultiplier: 0 }), /^round\.noiseMultiplier: must be a finite number > 0/);
    expectPrivacyError(() => budget.spend({ samplingRate: 0.5, noiseMultiplier: -2 }), /^round\.noiseMultiplier/);
    expectPrivacyError(() => budget.spend(null as unknown as { samplingRate: number; noiseMultiplier: number }), /^round: must be \{ samplingRate, noiseMultiplier \}/);
    expectPrivacyError(
      () => new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, { spent: [{ samplingRate: 0.1, noiseMultiplier: 1, rounds: -1 }] }),
      /^spent\[0\]\.rounds: must be an integer/,
    );
    expectPrivacyError(() => new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, { orders: [0.5] }), /^orders\[0\]/);
    expectPrivacyError(
      () => new PrivacyBudget({ epsilon: 1, delta: 1e-5 }, { spent: [{ samplingRate: 0.1, noiseMultiplier: 1, rounds: 1_000_000 }, { samplingRate: 0.2, noiseMultiplier: 1, rounds: 1 }] }),
      /^rounds: a task may account for at most 1000000 rounds/,
    );
  });
});
