import { beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait-for.js';
import { RolloutDriver } from '../../../fleet/rollouts/rollout-driver.js';
import { Rollouts } from '../../../fleet/rollouts/rollouts.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';
import { RELEASE, SimulatedGateways, addGateways, setOnline, shadowSummary, threeInTenFail } from './rollout-sim.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0); // a Friday, noon UTC

describe.each(BACKENDS)('rollout driver on %s', (backend) => {
  const db = useFleetDb(backend);
  let now: number;
  const clock = (): number => now;
  beforeEach(async () => {
    await db.reset();
    now = T0;
  });

  /** Ticks until the rollout stops running (or the ticks run out), with gateways answering between ticks. */
  /** Ticks until the rollout leaves `from` (or the ticks run out), with gateways answering between ticks. */
  async function drive(driver: RolloutDriver, sim: SimulatedGateways, rollouts: Rollouts, id: string, maxTicks = 50, stepMs = 1000, from = 'running'): Promise<string> {
    for (let i = 0; i < maxTicks; i += 1) {
      await driver.tick();
      await sim.respond(now);
      now += stepMs;
      const state = (await rollouts.store.get(id))?.state;
      if (state !== from) return state ?? 'gone';
    }
    return from;
  }

  it('takes 50 gateways through three waves to 100%, each told once, each reporting the release active', async () => {
    const ids = await addGateways(db.sql, 50);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const created = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 5 }, { kind: 'share', share: 0.5 }, { kind: 'share', share: 1 }] });
    expect(created.waves.map((w) => w.total)).toEqual([5, 20, 25]);
    expect(await drive(driver, sim, rollouts, created.rollout.id)).toBe('completed');
    expect(new Set(sim.notices.map((n) => n.gw))).toEqual(new Set(ids));
    expect(ids.every((gw) => sim.count(gw) === 1)).toBe(true);
    const status = await rollouts.status(created.rollout.id);
    expect(status.waves.map((w) => w.active)).toEqual([5, 20, 25]);
    expect(status.events.map((e) => e.kind).filter((k) => k !== 'notified')).toEqual(['created', 'wave-started', 'wave-passed', 'wave-started', 'wave-passed', 'wave-started', 'wave-passed', 'completed']);
  });

  it('stops after the canary when 30% fail their health check; the rest are never told', async () => {
    const ids = await addGateways(db.sql, 50);
    const { behaviour, failing } = threeInTenFail();
    const sim = new SimulatedGateways(db.sql, behaviour);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 10 }, { kind: 'share', share: 1 }], gates: { maxFailureShare: 0.1 } });
    expect(await drive(driver, sim, rollouts, rollout.id)).toBe('paused');
    expect(sim.notices).toHaveLength(10);
    const status = await rollouts.status(rollout.id);
    expect(status.rollout).toMatchObject({ state: 'paused', reason: 'gate-failed', currentWave: 0 });
    const gateFailed = status.events.find((e) => e.kind === 'gate-failed');
    expect(gateFailed?.detail).toMatchObject({ wave: 0, gates: expect.arrayContaining([expect.objectContaining({ gate: 'failure', count: 3, share: 0.3, limit: 0.1, pass: false })]) as unknown });
    expect(status.waves[1]).toMatchObject({ pending: 40, notified: 0 });
    // More ticks change nothing while paused.
    await drive(driver, sim, rollouts, rollout.id, 5);
    expect(sim.notices).toHaveLength(10);
    expect(ids.length).toBe(50);
  });

  it('counts a rollback in probation against the rollback gate', async () => {
    await addGateways(db.sql, 4);
    const sim = new SimulatedGateways(db.sql, (gw) => (gw === 'gw-000' || gw === 'gw-001' || gw === 'gw-002' || gw === 'gw-003' ? 'rollback' : 'ok'));
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }], gates: { maxRollbackShare: 0.25 } });
    expect(await drive(driver, sim, rollouts, rollout.id)).toBe('paused');
    const status = await rollouts.status(rollout.id);
    expect(status.waves[0]).toMatchObject({ rolledBack: 2 });
  });

  it('tells at most ratePerMinute gateways a minute', async () => {
    await addGateways(db.sql, 30);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], ratePerMinute: 10 });
    for (let s = 0; s < 59; s += 1) {
      await driver.tick();
      now += 1000;
    }
    expect(sim.notices).toHaveLength(10);
    expect(await drive(driver, sim, rollouts, rollout.id, 200, 1000)).toBe('completed');
    // 30 gateways at 10 a minute: three minutes, not less.
    expect(now - T0).toBeGreaterThanOrEqual(120_000);
  });

  it('tells gateways inside a maintenance window only when it is open in their time zone', async () => {
    await addGateways(db.sql, 6, (i) => ({ site: i < 3 ? 'plant-2' : 'plant-1' }));
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    // Noon UTC is 13:00 in Berlin: plant-2's 22:00-05:00 window is shut.
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], windows: [{ selector: 'site=plant-2', from: '22:00', to: '05:00', timeZone: 'Europe/Berlin' }] });
    expect(await drive(driver, sim, rollouts, rollout.id, 10)).toBe('running');
    expect(sim.notices.map((n) => n.gw).sort()).toEqual(['gw-003', 'gw-004', 'gw-005']);
    now = Date.UTC(2026, 11, 4, 21, 30, 0); // 22:30 in Berlin
    expect(await drive(driver, sim, rollouts, rollout.id, 10)).toBe('completed');
    expect(sim.notices).toHaveLength(6);
  });

  it('counts offline gateways without waiting for them, and tells them when they come back', async () => {
    await addGateways(db.sql, 5);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 0.6 }, { kind: 'share', share: 1 }] });
    // Two of the first wave's three offline (the waves are a fair shuffle: pick them from the plan,
    // so the wave still has one gateway to be told and judged on).
    const away = (await rollouts.store.targets(rollout.id, 0)).slice(0, 2).map((t) => t.gatewayId);
    for (const gw of away) await setOnline(db.sql, gw, false, 2);
    expect(await drive(driver, sim, rollouts, rollout.id)).toBe('completed');
    const status = await rollouts.status(rollout.id);
    expect(status.waves.reduce((n, w) => n + w.offline, 0)).toBe(2);
    for (const gw of away) expect(sim.count(gw)).toBe(0);
    expect(status.rollout.state).toBe('completed');
  });

  it('catches up a gateway that comes back while the rollout is still going', async () => {
    await addGateways(db.sql, 4);
    await setOnline(db.sql, 'gw-000', false, 2);
    const sim = new SimulatedGateways(db.sql, (gw) => (gw === 'gw-003' ? 'silent' : 'ok'));
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], gatewayTimeoutMs: 60_000, gates: { maxTimeoutShare: 1 } });
    await drive(driver, sim, rollouts, rollout.id, 5);
    expect(sim.count('gw-000')).toBe(0);
    await setOnline(db.sql, 'gw-000', true, now);
    await drive(driver, sim, rollouts, rollout.id, 5);
    expect(sim.count('gw-000')).toBe(1);
    expect((await rollouts.status(rollout.id)).rollout.state).toBe('running');
    // The silent one times out and the rollout completes (the timeout gate allows it here).
    expect(await drive(driver, sim, rollouts, rollout.id, 100, 1000)).toBe('completed');
    expect((await rollouts.store.targets(rollout.id)).find((t) => t.gatewayId === 'gw-003')?.state).toBe('timed-out');
  });

  it('carries on after a restart without telling anyone twice, and only the lease holder drives', async () => {
    const ids = await addGateways(db.sql, 20);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    // The lease expires by the database's clock: a real 3 s, whatever the fake clock says.
    const first = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'fleet-a', now: clock, leaseTtlMs: 3000 });
    const second = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'fleet-b', now: clock, leaseTtlMs: 3000 });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 4 }, { kind: 'share', share: 1 }] });
    await first.tick();
    await second.tick();
    expect(first.leader).toBe(true);
    expect(second.leader).toBe(false);
    expect(sim.notices).toHaveLength(4);
    // fleet-a dies (no more ticks, no release of the lease): fleet-b takes over once it expires,
    // and a fake clock far ahead does not make it expire sooner.
    now += 60_000;
    await second.tick();
    expect(second.leader).toBe(false);
    expect(sim.notices).toHaveLength(4);
    await waitFor(async () => (await second.tick(), second.leader), 'fleet-b to take the lease once it expired', 15_000, 100);
    expect(await drive(second, sim, rollouts, rollout.id)).toBe('completed');
    expect(second.leader).toBe(true);
    expect(ids.every((gw) => sim.count(gw) === 1)).toBe(true);
  });

  it('pauses, resumes and aborts on an operator\'s word, refusing moves that make no sense', async () => {
    await addGateways(db.sql, 10);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }] });
    await rollouts.pause(rollout.id);
    await drive(driver, sim, rollouts, rollout.id, 3);
    expect(sim.notices).toHaveLength(0);
    await expect(rollouts.pause(rollout.id)).rejects.toMatchObject({ code: 'E_ROLLOUT_STATE' });
    await rollouts.resume(rollout.id);
    await driver.tick();
    expect(sim.notices).toHaveLength(2);
    await rollouts.abort(rollout.id);
    await sim.respond(now);
    await drive(driver, sim, rollouts, rollout.id, 5);
    expect(sim.notices).toHaveLength(2);
    await expect(rollouts.resume(rollout.id)).rejects.toMatchObject({ code: 'E_ROLLOUT_STATE' });
    expect((await rollouts.status(rollout.id)).events.map((e) => e.kind)).toEqual(expect.arrayContaining(['paused', 'resumed', 'aborted']));
  });

  it('refuses a rollout of an unknown release, bad waves, bad windows or a selector that matches nobody', async () => {
    await addGateways(db.sql, 3);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    const base = { target: RELEASE.target, selector: { kind: 'all' as const }, waves: [{ kind: 'share' as const, share: 1 }] };
    await expect(rollouts.create({ ...base, target: 'models/press/9/model.onnx' })).rejects.toMatchObject({ code: 'E_RELEASE_UNKNOWN' });
    await expect(rollouts.create({ ...base, waves: [] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID' });
    await expect(rollouts.create({ ...base, waves: [{ kind: 'share', share: 0.5 }, { kind: 'share', share: 0.2 }] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('waves[1].share') as unknown });
    await expect(rollouts.create({ ...base, windows: [{ selector: 'site=x', from: '25:00', to: '05:00', timeZone: 'UTC' }] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('windows[0].from') as unknown });
    await expect(rollouts.create({ ...base, windows: [{ selector: 'site=x', from: '22:00', to: '05:00', timeZone: 'Mars/Olympus' }] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID' });
    await expect(rollouts.create({ ...base, selector: { kind: 'labels', selector: 'site=nowhere' } })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('no provisioned gateway') as unknown });
    await expect(rollouts.create({ ...base, selector: { kind: 'ids', ids: ['gw-000', 'ghost'] } })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('ghost') as unknown });
    expect(await rollouts.list()).toEqual([]);
  });

  const setup = (sim: SimulatedGateways, release = RELEASE): { rollouts: Rollouts; driver: RolloutDriver } => ({
    rollouts: new Rollouts(db.sql, async () => [release], clock),
    driver: new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock }),
  });
  async function ticks(driver: RolloutDriver, sim: SimulatedGateways, n: number, stepMs = 1000): Promise<void> {
    for (let i = 0; i < n; i += 1) {
      await driver.tick();
      await sim.respond(now);
      now += stepMs;
    }
  }

  it('waits out the release\'s probation before judging a wave, and a late rollback stops the rollout', async () => {
    await addGateways(db.sql, 10);
    const sim = new SimulatedGateways(db.sql);
    const { rollouts, driver } = setup(sim, { ...RELEASE, budgets: { ...RELEASE.budgets, probationS: 60 } });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }] });
    await ticks(driver, sim, 10);
    expect((await rollouts.store.get(rollout.id))?.currentWave).toBe(0);
    // Both canaries switch back in probation, 30 s after activating.
    const store = new (await import('../../../fleet/registry/gateway-store.js')).GatewayStore(db.sql);
    for (const { gw } of sim.notices) await store.addUpdateSteps([{ gw, model: 'press', target: '', release: 2, version: '1.2', step: 'probation', outcome: 'failed', reason: 'E_UPDATE_PROBATION: error rate', ts: now, receivedMs: now }]);
    await ticks(driver, sim, 3);
    const status = await rollouts.status(rollout.id);
    expect(status.rollout).toMatchObject({ state: 'paused', reason: 'gate-failed', currentWave: 0 });
    expect(status.waves[0]?.rolledBack).toBe(2);
    expect(sim.notices).toHaveLength(2);
  });

  it('stops at a probation failure in a wave that had passed, before telling anyone else, and will not resume into it', async () => {
    await addGateways(db.sql, 10);
    const sim = new SimulatedGateways(db.sql);
    const { rollouts, driver } = setup(sim);
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'count', count: 3 }, { kind: 'share', share: 1 }], ratePerMinute: 60 });
    for (let i = 0; i < 20 && (await rollouts.store.get(rollout.id))?.currentWave === 0; i += 1) await ticks(driver, sim, 1);
    expect((await rollouts.store.get(rollout.id))?.currentWave).toBe(1);
    // A canary switches back in probation now, while wave 2 is under way.
    const canary = (await rollouts.store.targets(rollout.id, 0))[0]?.gatewayId as string;
    const store = new (await import('../../../fleet/registry/gateway-store.js')).GatewayStore(db.sql);
    await store.addUpdateSteps([{ gw: canary, model: 'press', target: '', release: 2, version: '1.2', step: 'probation', outcome: 'failed', reason: 'E_UPDATE_PROBATION: error rate', ts: now, receivedMs: now }]);
    const told = sim.notices.length;
    await ticks(driver, sim, 3);
    const status = await rollouts.status(rollout.id);
    expect(status.rollout).toMatchObject({ state: 'paused', reason: 'gate-failed' });
    expect([...status.events].reverse().find((e) => e.kind === 'gate-failed')?.detail).toMatchObject({ wave: 0, phase: 'late' });
    expect(sim.notices).toHaveLength(told);
    await expect(rollouts.resume(rollout.id)).rejects.toMatchObject({ code: 'E_ROLLOUT_STATE', message: expect.stringContaining('switched back in probation') as unknown });
  });

  it('passes a wave once every probation has passed, before the probation time is up', async () => {
    await addGateways(db.sql, 4);
    const sim = new SimulatedGateways(db.sql);
    const { rollouts, driver } = setup(sim, { ...RELEASE, budgets: { ...RELEASE.budgets, probationS: 3600 } });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }] });
    await ticks(driver, sim, 3);
    const store = new (await import('../../../fleet/registry/gateway-store.js')).GatewayStore(db.sql);
    for (const { gw } of sim.notices) await store.addUpdateSteps([{ gw, model: 'press', target: '', release: 2, version: '1.2', step: 'probation', outcome: 'ok', reason: null, ts: now, receivedMs: now }]);
    await ticks(driver, sim, 3);
    expect((await rollouts.store.get(rollout.id))?.currentWave).toBe(1);
  });

  it('counts a gateway that already runs a newer release as done, not failed, and ignores refusals from before its notice', async () => {
    await addGateways(db.sql, 3);
    const store = new (await import('../../../fleet/registry/gateway-store.js')).GatewayStore(db.sql);
    // gw-000 refused this release in an earlier attempt, before this rollout told it anything.
    await store.addUpdateSteps([{ gw: 'gw-000', model: 'press', target: RELEASE.target, release: 2, version: '1.2', step: 'health', outcome: 'refused', reason: 'E_UPDATE_GOLDEN: old', ts: T0, receivedMs: T0 }]);
    const sim = new SimulatedGateways(db.sql, (gw) => (gw === 'gw-001' ? 'silent' : 'ok'));
    const { rollouts, driver } = setup(sim);
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] });
    now += 1;
    await driver.tick();
    // gw-001 has release 3 already and refuses as the real updater does.
    await store.addUpdateSteps([{ gw: 'gw-001', model: 'press', target: RELEASE.target, release: 2, version: '1.2', step: 'check', outcome: 'refused', reason: 'E_UPDATE_ROLLBACK: press release 2 is not newer than release 3, already accepted', ts: now, receivedMs: now }]);
    await ticks(driver, sim, 5);
    const status = await rollouts.status(rollout.id);
    expect(status.rollout.state).toBe('completed');
    expect(status.waves[0]).toMatchObject({ active: 3, failed: 0 });
    expect(sim.count('gw-000')).toBe(1);
  });

  it('tells nobody more once aborted, even mid-step', async () => {
    await addGateways(db.sql, 5);
    const sim = new SimulatedGateways(db.sql);
    const { rollouts } = setup(sim);
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] });
    await rollouts.abort(rollout.id);
    expect(await rollouts.store.markNotified(rollout.id, ['gw-000', 'gw-001'], ['pending'], now)).toEqual([]);
  });

  it('goes on to the next wave when an operator resumes after a failed gate', async () => {
    await addGateways(db.sql, 6);
    const sim = new SimulatedGateways(db.sql, () => 'fail');
    const { rollouts, driver } = setup(sim);
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }] });
    await ticks(driver, sim, 5);
    expect((await rollouts.store.get(rollout.id))?.state).toBe('paused');
    const resumed = await rollouts.resume(rollout.id);
    expect(resumed.rollout).toMatchObject({ state: 'running', currentWave: 1 });
    expect(resumed.events.map((e) => e.kind).slice(-2)).toEqual(['gate-overridden', 'wave-started']);
  });

  it('stops when none of a wave could be told, and still tells a gateway that returns after completion', async () => {
    await addGateways(db.sql, 3);
    for (const gw of ['gw-000', 'gw-001', 'gw-002']) await setOnline(db.sql, gw, false, 2);
    const sim = new SimulatedGateways(db.sql);
    const { rollouts, driver } = setup(sim);
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] });
    await ticks(driver, sim, 3);
    const paused = await rollouts.status(rollout.id);
    expect(paused.rollout).toMatchObject({ state: 'paused', reason: 'gate-failed' });
    // The operator goes on; two come back later and get it.
    await setOnline(db.sql, 'gw-000', true, now);
    expect((await rollouts.resume(rollout.id)).rollout.state).toBe('completed');
    await ticks(driver, sim, 3);
    await setOnline(db.sql, 'gw-001', true, now);
    await ticks(driver, sim, 3);
    expect(sim.count('gw-000')).toBe(1);
    expect(sim.count('gw-001')).toBe(1);
    expect(sim.count('gw-002')).toBe(0);
  });

  it('refuses an empty selector (say all for everyone)', async () => {
    await addGateways(db.sql, 2);
    const { rollouts } = setup(new SimulatedGateways(db.sql));
    await expect(rollouts.create({ target: RELEASE.target, selector: { kind: 'labels', selector: ' ' }, waves: [{ kind: 'share', share: 1 }] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('"kind": "all"') as unknown });
  });

  describe('quality gates measured in shadow', () => {
    const quality = { inferences: 200, maxMs: 60_000, minAgreement: 0.9 };

    it('has each wave shadow the release first and activate it only after the shadow reports pass; each gateway told once for each', async () => {
      const ids = await addGateways(db.sql, 30);
      const sim = new SimulatedGateways(db.sql);
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 3 }, { kind: 'share', share: 0.5 }, { kind: 'share', share: 1 }], quality });
      expect(rollout.phase).toBe('shadow');
      expect(await drive(driver, sim, rollouts, rollout.id, 80)).toBe('completed');
      for (const gw of ids) {
        expect(sim.notices.filter((n) => n.gw === gw).map((n) => (n.shadow === undefined ? 'activate' : 'shadow'))).toEqual(['shadow', 'activate']);
      }
      expect(sim.notices.find((n) => n.shadow !== undefined)?.shadow).toEqual({ inferences: 200, maxMs: 60_000 });
      const status = await rollouts.status(rollout.id);
      expect(status.waves.map((w) => w.active)).toEqual([3, 12, 15]);
      expect(status.events.map((e) => e.kind).filter((k) => k !== 'notified')).toEqual(['created', 'wave-started', 'shadow-passed', 'wave-passed', 'wave-started', 'shadow-passed', 'wave-passed', 'wave-started', 'shadow-passed', 'wave-passed', 'completed']);
      const passed = status.events.find((e) => e.kind === 'shadow-passed')?.detail as { gates: { gate: string; pass: boolean; detail?: { shadowed: number; agreement: { min: number } } }[] };
      expect(passed.gates.find((g) => g.gate === 'quality')).toMatchObject({ pass: true, detail: { shadowed: 3, agreement: { min: 1 } } });
    });

    it('stops at the canary when the candidate disagrees with the active model; nobody activates it, the numbers are in the record', async () => {
      await addGateways(db.sql, 30);
      const sim = new SimulatedGateways(db.sql, () => 'ok', () => shadowSummary(0.42));
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 3 }, { kind: 'share', share: 1 }], quality });
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('paused');
      expect(sim.activations()).toBe(0);
      expect(sim.notices).toHaveLength(3);
      const status = await rollouts.status(rollout.id);
      expect(status.rollout).toMatchObject({ state: 'paused', reason: 'gate-failed', currentWave: 0, phase: 'shadow' });
      expect(status.waves[0]).toMatchObject({ shadowed: 3, active: 0 });
      expect(status.waves[1]?.pending).toBe(27);
      const failed = status.events.find((e) => e.kind === 'gate-failed')?.detail as { phase: string; gates: { gate: string; pass: boolean; count: number; detail?: { agreement: { min: number }; failing: { why: string[] }[] } }[] };
      expect(failed.phase).toBe('shadow');
      const q = failed.gates.find((g) => g.gate === 'quality');
      expect(q).toMatchObject({ pass: false, count: 3, detail: { agreement: { min: 0.42 } } });
      expect(q?.detail?.failing[0]?.why).toContain('alert agreement 0.420 below 0.9');
      // More ticks change nothing: a paused rollout tells nobody.
      await ticks(driver, sim, 5);
      expect(sim.notices).toHaveLength(3);
    });

    it('fails a gateway that measured nothing (no stage runs the model), too slow, or with errors', async () => {
      await addGateways(db.sql, 3);
      const reports = [shadowSummary(1, { stages: 0, inferences: 0, latencyMs: null, anomaly: null }), shadowSummary(1, { latencyMs: { p50: 50, p99: 900 } }), shadowSummary(1, { errors: 7 })];
      let i = 0;
      const sim = new SimulatedGateways(db.sql, () => 'ok', () => reports[i++ % 3]);
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], quality });
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('paused');
      const failed = (await rollouts.status(rollout.id)).events.find((e) => e.kind === 'gate-failed')?.detail as { gates: { gate: string; detail?: { failing: { why: string[] }[] } }[] };
      const why = failed.gates.find((g) => g.gate === 'quality')?.detail?.failing.flatMap((f) => f.why).join('; ');
      expect(why).toContain('no stage on the gateway runs this model');
      // The release's latency budget (100 ms) is the default p99 limit.
      expect(why).toContain('latency p99 900.0 ms over 100 ms');
      expect(why).toContain('7 of 200 runs failed');
    });

    it('goes on to activate the wave when an operator accepts the shadow numbers, and times out a gateway that never reports its shadow', async () => {
      await addGateways(db.sql, 4);
      const sim = new SimulatedGateways(db.sql, () => 'ok', (gw) => (gw === 'gw-003' ? undefined : shadowSummary(0.5)));
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], quality, gatewayTimeoutMs: 10_000, gates: { maxTimeoutShare: 0.5 } });
      // The silent one times out after the gateway timeout and the shadow time, not before.
      await ticks(driver, sim, 20);
      expect((await rollouts.status(rollout.id)).waves[0]).toMatchObject({ shadowing: 1, shadowed: 3 });
      expect(await drive(driver, sim, rollouts, rollout.id, 80)).toBe('paused');
      expect((await rollouts.status(rollout.id)).waves[0]).toMatchObject({ timedOut: 1, shadowed: 3 });
      await rollouts.resume(rollout.id);
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('completed');
      expect(sim.activations()).toBe(3);
      const kinds = (await rollouts.status(rollout.id)).events.map((e) => e.kind);
      expect(kinds).toContain('gate-overridden');
    });

    it('refuses quality gates out of range, naming the field', async () => {
      await addGateways(db.sql, 2);
      const { rollouts } = setup(new SimulatedGateways(db.sql));
      await expect(rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], quality: { minAgreement: 1.5 } })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('quality.minAgreement') as unknown });
      await expect(rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], quality: { inferences: 0 } })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('quality.inferences') as unknown });
    });
  });

  describe('rolling back after a failed gate', () => {
    it('switches every gateway that activated the release back, then pauses as rolled back; resume is refused', async () => {
      await addGateways(db.sql, 20);
      const { behaviour, failing } = threeInTenFail();
      const sim = new SimulatedGateways(db.sql, behaviour);
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 10 }, { kind: 'share', share: 1 }], gates: { maxFailureShare: 0.1 }, onGateFailure: 'rollback' });
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('rolling-back');
      expect(await drive(driver, sim, rollouts, rollout.id, 50, 1000, 'rolling-back')).toBe('paused');
      const reverts = sim.notices.filter((n) => n.rollback === true).map((n) => n.gw);
      // The seven that activated it, each once; the three that failed never ran it.
      expect(new Set(reverts).size).toBe(7);
      expect(reverts).toHaveLength(7);
      expect(reverts.some((gw) => failing.has(gw))).toBe(false);
      const status = await rollouts.status(rollout.id);
      expect(status.rollout).toMatchObject({ state: 'paused', reason: 'rolled-back' });
      expect(status.waves[0]).toMatchObject({ reverted: 7, failed: 3, active: 0 });
      expect(status.events.map((e) => e.kind).filter((k) => k !== 'notified').slice(-3)).toEqual(['gate-failed', 'rollback-started', 'rolled-back']);
      expect(status.events.at(-1)?.detail).toMatchObject({ reverted: 7, stillActiveOffline: 0 });
      await expect(rollouts.resume(rollout.id)).rejects.toMatchObject({ code: 'E_ROLLOUT_STATE', message: expect.stringContaining('publish a fixed release') as unknown });
      // Nobody beyond the canary was ever told to install it.
      expect(sim.activations()).toBe(10);
      // The gateways that switched back refuse the release now: a new rollout of it is refused too.
      await expect(rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] })).rejects.toMatchObject({ code: 'E_ROLLOUT_INVALID', message: expect.stringContaining('rolled back by an earlier rollout') as unknown });
    });

    it('tells a gateway that was told to install it and never answered to switch back too (it may activate it late)', async () => {
      await addGateways(db.sql, 4);
      const sim = new SimulatedGateways(db.sql, (gw) => (gw === 'gw-003' ? 'rollback' : gw === 'gw-002' ? 'silent' : 'ok'));
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], onGateFailure: 'rollback', gatewayTimeoutMs: 10_000, gates: { maxTimeoutShare: 1 } });
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('rolling-back');
      expect(await drive(driver, sim, rollouts, rollout.id, 50, 1000, 'rolling-back')).toBe('paused');
      expect(sim.notices.filter((n) => n.rollback === true).map((n) => n.gw).sort()).toEqual(['gw-000', 'gw-001', 'gw-002']);
      expect((await rollouts.status(rollout.id)).events.at(-1)).toMatchObject({ kind: 'rolled-back', detail: { reverted: 3, noAnswer: 0, stillActiveOffline: 0 } });
    });

    it('names a gateway that is offline with the release in the record, and switches it back when it returns', async () => {
      await addGateways(db.sql, 4);
      const sim = new SimulatedGateways(db.sql, (gw) => (gw === 'gw-003' ? 'rollback' : 'ok'));
      const { rollouts, driver } = setup(sim);
      const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }], onGateFailure: 'rollback' });
      // gw-000 activates, then goes offline before the gate fails on gw-003's probation rollback.
      await ticks(driver, sim, 1);
      await setOnline(db.sql, 'gw-000', false, now);
      expect(await drive(driver, sim, rollouts, rollout.id)).toBe('rolling-back');
      expect(await drive(driver, sim, rollouts, rollout.id, 50, 1000, 'rolling-back')).toBe('paused');
      const status = await rollouts.status(rollout.id);
      expect(status.events.at(-1)).toMatchObject({ kind: 'rolled-back', detail: { reverted: 2, stillActiveOffline: 1, offline: ['gw-000'] } });
      expect(sim.notices.filter((n) => n.rollback === true).map((n) => n.gw).sort()).toEqual(['gw-001', 'gw-002']);
      // Back on Monday: it is switched back too, and the rollout stays rolled back.
      await setOnline(db.sql, 'gw-000', true, now);
      await ticks(driver, sim, 3);
      expect(sim.notices.filter((n) => n.rollback === true).map((n) => n.gw).sort()).toEqual(['gw-000', 'gw-001', 'gw-002']);
      const after = await rollouts.status(rollout.id);
      expect(after.rollout).toMatchObject({ state: 'paused', reason: 'rolled-back' });
      expect(after.waves[0]).toMatchObject({ reverted: 3, active: 0 });
      await ticks(driver, sim, 2);
      expect(sim.notices.filter((n) => n.rollback === true)).toHaveLength(3);
    });
  });

  it('moves on when nudged by incoming reports, and tells the next wave in the same pass, without waiting for ticks', async () => {
    await addGateways(db.sql, 10);
    const sim = new SimulatedGateways(db.sql);
    const rollouts = new Rollouts(db.sql, async () => [RELEASE], clock);
    // Ticks an hour apart: only the first pass and nudges can move it.
    const driver = new RolloutDriver({ sql: db.sql, notifier: sim, holder: 'test', now: clock, tickMs: 3_600_000 });
    const { rollout } = await rollouts.create({ target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }] });
    driver.start();
    try {
      await waitFor(() => sim.notices.length === 2, 'the canary told by the first pass', 10_000);
      await sim.respond(now);
      driver.nudge();
      // One nudge: the canary's outcomes, its gate, and the notices of the next wave.
      await waitFor(() => sim.notices.length === 10, 'the second wave told after one nudge', 10_000);
      await sim.respond(now);
      driver.nudge();
      await waitFor(async () => (await rollouts.store.get(rollout.id))?.state === 'completed', 'completed after the second nudge', 10_000);
    } finally {
      await driver.stop();
    }
  });
});
