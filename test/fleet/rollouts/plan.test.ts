import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planWaves, type WaveSpec } from '../../../fleet/rollouts/plan.js';
import { evaluateGates } from '../../../fleet/rollouts/gates.js';
import { insideWindow, localMinutes, mayNotifyNow } from '../../../fleet/rollouts/window.js';

const gatewaysArb = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { minLength: 0, maxLength: 60 }).map((ids) => ids.map((id, i) => ({ id, labels: { site: `plant-${i % 3}` } })));
const wavesArb = fc
  .tuple(fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }), fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { maxLength: 4 }))
  .map(([canary, shares]): WaveSpec[] => [...(canary === undefined ? [] : [{ kind: 'count' as const, count: canary }]), ...shares.sort((a, b) => a - b).map((s) => ({ kind: 'share' as const, share: s / 100 }))])
  .filter((w) => w.length > 0);

describe('wave planning', () => {
  it('puts every selected gateway in exactly one wave, the canary first and the shares cumulative', () => {
    fc.assert(
      fc.property(gatewaysArb, wavesArb, fc.string(), (gateways, waves, id) => {
        const plan = planWaves(id, gateways, waves);
        expect([...plan.keys()].sort()).toEqual(gateways.map((g) => g.id).sort());
        const perWave = waves.map((_, i) => [...plan.values()].filter((w) => w === i).length);
        let cumulative = 0;
        waves.forEach((w, i) => {
          cumulative += perWave[i] as number;
          if (i === waves.length - 1) return;
          if (w.kind === 'count') expect(perWave[i]).toBe(Math.min(w.count, gateways.length - (cumulative - (perWave[i] as number))));
          if (w.kind === 'share') expect(cumulative).toBe(Math.max(cumulative - (perWave[i] as number), Math.ceil(w.share * gateways.length)));
        });
      }),
    );
  });

  it('picks the same canary for the same rollout, and another for another rollout', () => {
    const gateways = Array.from({ length: 100 }, (_, i) => ({ id: `gw-${i}`, labels: {} }));
    const canary = (id: string): string[] => [...planWaves(id, gateways, [{ kind: 'count', count: 5 }, { kind: 'share', share: 1 }])].filter(([, w]) => w === 0).map(([gw]) => gw);
    expect(canary('ro-1')).toEqual(canary('ro-1'));
    expect(canary('ro-1')).not.toEqual(canary('ro-2'));
  });

  it('takes a label group as a wave', () => {
    const gateways = Array.from({ length: 9 }, (_, i) => ({ id: `gw-${i}`, labels: { site: `plant-${i % 3}` } }));
    const plan = planWaves('ro', gateways, [{ kind: 'labels', selector: 'site=plant-1' }, { kind: 'share', share: 1 }]);
    expect([...plan].filter(([, w]) => w === 0).map(([gw]) => gw).sort()).toEqual(['gw-1', 'gw-4', 'gw-7']);
  });
});

describe('health gates', () => {
  it('pass at the limit, fail above it, and count shares of the gateways that were told', () => {
    const tally = { total: 12, notified: 10, active: 8, failed: 1, rolledBack: 0, timedOut: 1, offline: 2, pending: 0, shadowing: 0, shadowed: 0, reverting: 0, reverted: 0 };
    expect(evaluateGates(tally, { maxFailureShare: 0.1, maxRollbackShare: 0, maxTimeoutShare: 0.1 }).pass).toBe(true);
    const r = evaluateGates(tally, { maxFailureShare: 0.05, maxRollbackShare: 0, maxTimeoutShare: 0.1 });
    expect(r.pass).toBe(false);
    expect(r.results.find((g) => g.gate === 'failure')).toEqual({ gate: 'failure', count: 1, share: 0.1, limit: 0.05, pass: false });
    // Gateways, but none could be told (all offline): no evidence, no pass. An empty wave passes.
    const unreached = evaluateGates({ ...tally, notified: 0, active: 0, failed: 0, timedOut: 0 }, { maxFailureShare: 0, maxRollbackShare: 0, maxTimeoutShare: 0 });
    expect(unreached.pass).toBe(false);
    expect(unreached.results.find((g) => g.gate === 'reached')?.pass).toBe(false);
    expect(evaluateGates({ total: 0, notified: 0, active: 0, failed: 0, rolledBack: 0, timedOut: 0, offline: 0, pending: 0, shadowing: 0, shadowed: 0, reverting: 0, reverted: 0 }, { maxFailureShare: 0, maxRollbackShare: 0, maxTimeoutShare: 0 }).pass).toBe(true);
  });
});

describe('maintenance windows', () => {
  const w = { selector: 'site=plant-2', from: '22:00', to: '05:00', timeZone: 'Europe/Berlin' };

  it('span midnight in the site\'s time zone, daylight saving included', () => {
    expect(insideWindow(Date.UTC(2026, 11, 4, 21, 30), w)).toBe(true); // 22:30 CET
    expect(insideWindow(Date.UTC(2026, 11, 5, 3, 59), w)).toBe(true); // 04:59 CET
    expect(insideWindow(Date.UTC(2026, 11, 5, 4, 0), w)).toBe(false); // 05:00 CET
    expect(insideWindow(Date.UTC(2026, 6, 4, 20, 30), w)).toBe(true); // 22:30 CEST
    expect(insideWindow(Date.UTC(2026, 6, 4, 19, 30), w)).toBe(false); // 21:30 CEST
  });

  it('hold only for the gateways their selector matches', () => {
    const noon = Date.UTC(2026, 11, 4, 12, 0);
    expect(mayNotifyNow(noon, [w], { site: 'plant-2' })).toBe(false);
    expect(mayNotifyNow(noon, [w], { site: 'plant-1' })).toBe(true);
    expect(mayNotifyNow(noon, [], { site: 'plant-2' })).toBe(true);
  });

  it('agree with local minutes for any instant: inside exactly when from <= local < to (wrapping)', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }), fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 0, max: 1439 }), (t, a, b) => {
        const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const win = { selector: '', from: hhmm(a), to: hhmm(b), timeZone: 'America/Chicago' };
        const local = localMinutes(t, 'America/Chicago');
        const expected = a === b ? true : a < b ? local >= a && local < b : local >= a || local < b;
        expect(insideWindow(t, win)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
