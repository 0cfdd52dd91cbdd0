import type { Sql } from '../db/open-database.js';
import { GatewayStore, type GatewaySummary } from '../registry/gateway-store.js';
import { evaluateGates, type GateResult, type WaveTally } from './gates.js';
import { Lease } from './lease.js';
import type { ReleaseNotice, ShadowSpec } from '../protocol/update.js';
import { releaseOutcomes, revertOutcomes, shadowReports } from './outcomes.js';
import { evaluateQuality } from './quality.js';
import { RolloutStore, type Rollout, type TargetRow, type TargetState } from './rollout-store.js';
import { mayNotifyNow } from './window.js';

/** Tells one gateway that a release exists (the release notice topic): to install it, run it in shadow, or switch back from it. */
export interface ReleaseNotifier {
  notify(gatewayId: string, notice: ReleaseNotice): Promise<void>;
}

export interface DriverLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RolloutDriverOptions {
  readonly sql: Sql;
  readonly notifier: ReleaseNotifier;
  /** This fleet instance's name in the lease (pid@host, say). */
  readonly holder: string;
  readonly now?: () => number;
  /** A driver that stops renewing loses the lease after this long; another instance takes over. */
  readonly leaseTtlMs?: number;
  /** How often the driver looks at its rollouts. */
  readonly tickMs?: number;
  readonly log?: DriverLog;
  /** This instance became the leader (true) or stopped being it (false). */
  readonly onLeadership?: (leader: boolean) => void;
}

export const DRIVER_DEFAULTS = { leaseTtlMs: 10_000, tickMs: 1000 } as const;

/** Notices one tick sends at most, whatever the rate: a tick must end well inside the lease. */
const MAX_NOTICES_PER_TICK = 500;
/** A notice the broker does not take within this long is given up (logged): the gateway times out. */
const NOTIFY_TIMEOUT_MS = 5000;
/** A nudge runs a pass this soon (reports of a batch arrive together). */
const NUDGE_DELAY_MS = 100;
/** Steps of one rollout in one pass at most while it moves on (a wave passes, the next starts at once). */
const STEPS_PER_PASS = 3;
/** Target states the registry no longer changes (see step). */
const SETTLED: ReadonlySet<TargetState> = new Set(['active', 'confirmed', 'failed', 'rolled-back']);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}

const online = (g: GatewaySummary | undefined): boolean => g !== undefined && (g.status === 'online' || g.status === 'degraded');

/**
 * Drives every running rollout, one idempotent step per tick, while this fleet instance holds
 * the `rollouts` lease. All state is in the database: a restarted or second instance carries
 * on where the last step left it. A gateway is marked notified in the database before its
 * notice goes out, so no step tells a gateway twice; a crash between the two costs that
 * gateway its notice (it then times out, or gets the release with its next check).
 */
export class RolloutDriver {
  private readonly store: RolloutStore;
  private readonly gateways: GatewayStore;
  private readonly lease: Lease;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private holding = false;

  constructor(private readonly o: RolloutDriverOptions) {
    this.store = new RolloutStore(o.sql);
    this.gateways = new GatewayStore(o.sql);
    this.now = o.now ?? Date.now;
    this.lease = new Lease(o.sql, 'rollouts', o.holder, o.leaseTtlMs ?? DRIVER_DEFAULTS.leaseTtlMs);
  }

  /** True while this instance holds the lease (drives the rollouts; with an external broker, also ingests). */
  get leader(): boolean {
    return this.holding;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? DRIVER_DEFAULTS.tickMs);
    this.timer.unref();
    void this.tick();
  }

  private nudged: NodeJS.Timeout | undefined;

  /**
   * Something happened that a rollout may be waiting for (update reports came in): look soon
   * rather than at the next tick. Coalesced: one extra pass at most per NUDGE_DELAY_MS.
   */
  nudge(): void {
    if (this.nudged !== undefined || this.timer === undefined) return;
    this.nudged = setTimeout(() => {
      this.nudged = undefined;
      void this.tick();
    }, NUDGE_DELAY_MS);
    this.nudged.unref();
  }

  /** One pass over every running rollout (skipped while the previous pass runs). */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const had = this.holding;
    // The lease runs from the database's moment of renewal, which is after this.
    const asked = this.now();
    try {
      this.holding = await this.lease.acquire();
    } catch (err) {
      // Cut off from the database: no longer sure of the lease, so no longer the leader.
      this.holding = false;
      this.o.log?.warn({ event: 'rollouts.lease_unknown', code: (err as { code?: string }).code ?? 'E_DB', reason: (err as Error).message }, 'cannot renew the rollouts lease; standing down');
    }
    if (this.holding !== had) {
      this.o.log?.info({ event: this.holding ? 'rollouts.lease_taken' : 'rollouts.lease_lost', holder: this.o.holder }, this.holding ? 'this fleet instance leads: it drives rollouts' : 'another fleet instance leads');
      this.o.onLeadership?.(this.holding);
    }
    if (!this.holding) return;
    // Stop before the lease could run out under us: another instance may take it then.
    const until = asked + (this.o.leaseTtlMs ?? DRIVER_DEFAULTS.leaseTtlMs) / 2;
    try {
      const rollouts = [...(await this.store.list('rolling-back', 1000)), ...(await this.store.list('running', 1000)), ...(await this.store.completedWithOffline()), ...(await this.store.rolledBackWithHolders())];
      for (const first of rollouts) {
        // A step that moved the rollout on (next wave, or shadow to activation) is followed by
        // another at once, so the next wave is told now rather than a tick later.
        let r: Rollout | undefined = first;
        for (let i = 0; i < STEPS_PER_PASS && r !== undefined && this.now() <= until; i += 1) {
          const before: string = `${r.state}/${r.currentWave}/${r.phase}`;
          await this.step(r);
          const after: Rollout | undefined = await this.store.get(r.id);
          r = after !== undefined && after.state === 'running' && `${after.state}/${after.currentWave}/${after.phase}` !== before ? after : undefined;
        }
      }
    } catch (err) {
      this.o.log?.warn({ event: 'rollouts.step_failed', code: (err as { code?: string }).code ?? 'E_ROLLOUT', reason: (err as Error).message }, 'rollout step failed; tried again next tick');
    }
  }

  /** Notices per tick at most: the rate spread over the minute, and never a burst that outlasts the lease. */
  private perTick(r: Rollout): number {
    return Math.min(MAX_NOTICES_PER_TICK, Math.max(1, Math.ceil((r.ratePerMinute * (this.o.tickMs ?? DRIVER_DEFAULTS.tickMs)) / 60_000)));
  }

  /**
   * One step of one rollout: outcomes, timeouts, notices, and the gates when its wave is done.
   * A completed rollout is still stepped while it has gateways that were offline: they get the
   * release when they come back.
   */
  async step(r: Rollout): Promise<void> {
    if (r.state === 'rolling-back' || (r.state === 'paused' && r.reason === 'rolled-back')) return this.stepRollback(r);
    const now = this.now();
    const targets = await this.store.targets(r.id);
    const reached = targets.filter((t) => t.wave <= r.currentWave);
    // The registry (online, labels, active releases) matters only for targets still on their
    // way: a gateway that activated, confirmed, failed or rolled back is decided by its reports.
    // Read only those: late in a wave most of it is settled, and each pass read all of it.
    const unsettled = reached.filter((t) => !SETTLED.has(t.state));
    const registry = new Map((await this.gateways.byIds(unsettled.map((t) => t.gatewayId))).map((g) => [g.id, g]));

    // 1. Outcomes from update reports (and gateways that have the release, or a newer one, already).
    const watching = reached.filter((t) => t.state !== 'failed' && t.state !== 'rolled-back' && t.state !== 'confirmed');
    const outcomes = await releaseOutcomes(this.o.sql, r, new Map(watching.map((t) => [t.gatewayId, t.notifiedMs])), r.createdMs);
    const changes: { gw: string; state: TargetRow['state']; detail: string | null }[] = [];
    for (const t of watching) {
      const o = outcomes.get(t.gatewayId);
      const active = registry.get(t.gatewayId)?.releases[r.model]?.active?.release;
      const hasIt = active !== undefined && active >= r.release;
      const next = o?.state ?? (hasIt && t.state !== 'active' ? 'active' : undefined);
      if (next !== undefined && next !== t.state) changes.push({ gw: t.gatewayId, state: next, detail: o?.detail ?? 'has this release or a newer one' });
    }
    await this.store.setOutcomes(r.id, changes, now);
    const changed = new Map(changes.map((c) => [c.gw, c.state]));
    const state = (t: TargetRow): TargetRow['state'] => changed.get(t.gatewayId) ?? t.state;

    // 1b. Shadow reports of the gateways told to shadow it.
    const shadowing = reached.filter((t) => state(t) === 'shadowing' && t.notifiedMs !== null);
    await this.store.setShadowed(r.id, await shadowReports(this.o.sql, r, new Map(shadowing.map((t) => [t.gatewayId, t.notifiedMs as number]))), now);

    // 2. Timeouts (a shadow takes its own time on top).
    await this.store.timeOut(r.id, now - r.gatewayTimeoutMs, now, r.quality?.maxMs ?? 0);

    // 3. Waves already passed keep their rollback gate: a probation that fails late stops the
    //    rollout, before anyone else is told.
    if (r.state === 'running') {
      const passed = await this.store.tallies(r.id, r.waves.length);
      for (let w = 0; w < r.currentWave; w += 1) {
        const t = passed[w];
        if (t === undefined) continue;
        const gates = evaluateGates(t, r.gates);
        const rollback = gates.results.find((g) => g.gate === 'rollback');
        if (rollback !== undefined && !rollback.pass) {
          await this.fail(r, w, t, gates.results, now, 'late');
          return;
        }
      }
    }

    // 4. Notices: the current wave's gateways (to shadow the release, or to activate it), and (to shadow the release, or to activate it), and
    //    earlier waves' that were offline and are back (to activate it: their wave passed).
    const shadowPhase = r.quality !== null && r.phase === 'shadow';
    const reachable = (t: TargetRow): boolean => online(registry.get(t.gatewayId)) && mayNotifyNow(now, r.windows, registry.get(t.gatewayId)?.labels ?? {});
    const current = (t: TargetRow): boolean => t.wave === r.currentWave && r.state === 'running';
    const toShadow = shadowPhase ? reached.filter((t) => current(t) && state(t) === 'pending' && reachable(t)) : [];
    const toActivate = reached.filter((t) => ((current(t) && !shadowPhase && (state(t) === 'pending' || state(t) === 'shadowed')) || state(t) === 'offline') && reachable(t));
    let budget = Math.min(this.perTick(r), Math.max(0, r.ratePerMinute - (await this.store.notifiedSince(r.id, now - 60_000))));
    const send = async (group: readonly TargetRow[], from: TargetRow['state'][], to: 'notified' | 'shadowing', shadow?: ShadowSpec): Promise<void> => {
      const chosen = group.slice(0, budget).map((t) => t.gatewayId);
      const marked = await this.store.markNotified(r.id, chosen, from, now, to);
      budget -= marked.length;
      for (const gw of marked) {
        await withTimeout(this.o.notifier.notify(gw, shadow === undefined ? { target: r.target } : { target: r.target, shadow }), NOTIFY_TIMEOUT_MS).catch((err: unknown) => this.o.log?.warn({ event: 'rollouts.notify_failed', rollout: r.id, gw, reason: (err as Error).message }, 'release notice not sent'));
      }
      if (marked.length > 0) await this.store.event(r.id, 'notified', { wave: r.currentWave, gateways: marked.length, ...(shadow === undefined ? {} : { shadow: true }) }, now);
    };
    if (r.quality !== null) await send(toShadow, ['pending'], 'shadowing', { inferences: r.quality.inferences, maxMs: r.quality.maxMs });
    await send(toActivate, ['pending', 'offline', 'shadowed'], 'notified');
    if (r.state !== 'running') return;

    const tallies = await this.store.tallies(r.id, r.waves.length);
    const wave = await this.store.targets(r.id, r.currentWave);
    if (shadowPhase && r.quality !== null) {
      // 5a. The shadow half is done when nobody in the wave is still to be told (online) or
      //     shadowing. Then the health gates and the quality gate decide whether it activates.
      if (wave.some((t) => t.state === 'shadowing' || (t.state === 'pending' && online(registry.get(t.gatewayId))))) return;
      const tally = tallies[r.currentWave];
      if (tally === undefined) return;
      const health = evaluateGates(tally, r.gates).results.filter((g) => g.gate !== 'rollback');
      const quality = evaluateQuality(
        wave.filter((t) => t.state === 'shadowed' && t.shadow !== null).map((t) => ({ gw: t.gatewayId, shadow: t.shadow as NonNullable<TargetRow['shadow']> })),
        r.quality,
        r.latencyBudgetMs,
        r.evaluationSet,
      );
      const results = [...health, quality];
      if (!results.every((g) => g.pass)) {
        await this.fail(r, r.currentWave, tally, results, now, 'shadow');
        return;
      }
      if (await this.store.toActivate(r.id, r.currentWave, now)) await this.store.event(r.id, 'shadow-passed', { wave: r.currentWave, tally, gates: results }, now);
      return;
    }

    // 5b. The wave is done when nobody in it is still to be told (online), waiting for an outcome,
    //     or in probation.
    const waiting = (t: TargetRow): boolean => t.state === 'pending' || t.state === 'shadowed';
    const open = wave.filter((t) => t.state === 'notified' || (waiting(t) && online(registry.get(t.gatewayId))) || (t.state === 'active' && (t.outcomeMs ?? 0) + r.probationMs > now));
    if (open.length > 0) return;
    // Offline gateways are counted, not waited for: they get the release when they come back.
    const offline = wave.filter(waiting).map((t) => t.gatewayId);
    if (offline.length > 0) await this.store.setOutcomes(r.id, offline.map((gw) => ({ gw, state: 'offline', detail: 'offline when its wave ended' })), now);
    const tally = (await this.store.tallies(r.id, r.waves.length))[r.currentWave];
    if (tally === undefined) return;
    const gates = evaluateGates(tally, r.gates);
    if (!gates.pass) {
      await this.fail(r, r.currentWave, tally, gates.results, now);
      return;
    }
    const last = r.currentWave >= r.waves.length - 1;
    if (last) {
      if (await this.store.transition(r.id, ['running'], 'completed', null, now)) {
        await this.store.event(r.id, 'wave-passed', { wave: r.currentWave, tally, gates: gates.results }, now);
        await this.store.event(r.id, 'completed', { offline: tallies.reduce((n, t) => n + t.offline, 0) + offline.length }, now);
        this.o.log?.info({ event: 'rollouts.completed', rollout: r.id }, 'rollout completed');
      }
    } else if (await this.store.advance(r.id, r.currentWave, now)) {
      await this.store.event(r.id, 'wave-passed', { wave: r.currentWave, tally, gates: gates.results }, now);
      await this.store.event(r.id, 'wave-started', { wave: r.currentWave + 1 }, now);
    }
  }

  /**
   * A rollout rolling back after a failed gate: every gateway it brought the release to is told
   * to switch back (online ones, at once, windows or not: a bad model is worse than a switch),
   * and when none is left to tell or to hear from, the rollout pauses as `rolled-back`.
   * Gateways offline meanwhile are named in the `rolled-back` event, and switched back when
   * they return (a rolled-back rollout is still stepped while it has any).
   */
  private async stepRollback(r: Rollout): Promise<void> {
    const now = this.now();
    const targets = await this.store.targets(r.id);
    const registry = new Map((await this.gateways.byIds(targets.filter((t) => t.state !== 'pending').map((t) => t.gatewayId))).map((g) => [g.id, g]));
    const reverting = targets.filter((t) => t.state === 'reverting' && t.notifiedMs !== null);
    const outcomes = await revertOutcomes(this.o.sql, r, new Map(reverting.map((t) => [t.gatewayId, t.notifiedMs as number])));
    const changes: { gw: string; state: TargetRow['state']; detail: string | null }[] = [];
    for (const t of reverting) {
      const o = outcomes.get(t.gatewayId);
      const active = registry.get(t.gatewayId)?.releases[r.model]?.active?.release;
      if (o !== undefined) changes.push({ gw: t.gatewayId, state: o.state, detail: o.detail });
      else if (active !== undefined && active < r.release) changes.push({ gw: t.gatewayId, state: 'reverted', detail: `runs release ${active}` });
    }
    await this.store.setOutcomes(r.id, changes, now);
    await this.store.timeOut(r.id, now - r.gatewayTimeoutMs, now);
    // Told to install it (or silent since): they may activate it yet, so they are told to switch
    // back too (a gateway that does not run it answers "not active", which counts as reverted).
    // (A gateway that timed out on the switch back itself is not told again: it would never end.)
    const holding = (t: TargetRow): boolean => t.state === 'active' || t.state === 'confirmed' || t.state === 'notified' || (t.state === 'timed-out' && t.detail?.startsWith('told to switch back') !== true);
    const toTell = targets.filter((t) => holding(t) && online(registry.get(t.gatewayId))).slice(0, MAX_NOTICES_PER_TICK);
    const marked = await this.store.markReverting(r.id, toTell.map((t) => t.gatewayId), now);
    for (const gw of marked) {
      await withTimeout(this.o.notifier.notify(gw, { target: r.target, rollback: true }), NOTIFY_TIMEOUT_MS).catch((err: unknown) => this.o.log?.warn({ event: 'rollouts.notify_failed', rollout: r.id, gw, reason: (err as Error).message }, 'rollback notice not sent'));
    }
    if (marked.length > 0) await this.store.event(r.id, 'notified', { rollback: true, gateways: marked.length }, now);
    const after = await this.store.targets(r.id);
    if (after.some((t) => t.state === 'reverting' || (holding(t) && online(registry.get(t.gatewayId))))) return;
    if (!(await this.store.transition(r.id, ['rolling-back'], 'paused', 'rolled-back', now))) return;
    // Offline and running the release, or told to install it (they may when they come back).
    const offline = after.filter(holding).map((t) => t.gatewayId);
    const count = (s: TargetRow['state']): number => after.filter((t) => t.state === s).length;
    const noAnswer = after.filter((t) => t.state === 'timed-out' && t.detail?.startsWith('told to switch back') === true).length;
    await this.store.event(r.id, 'rolled-back', { reverted: count('reverted'), failed: after.filter((t) => t.state === 'failed' && t.detail?.startsWith('rollback:') === true).length, noAnswer, stillActiveOffline: offline.length, offline: offline.slice(0, 50) }, now);
    this.o.log?.warn({ event: 'rollouts.rolled_back', code: 'E_ROLLOUT_GATE', rollout: r.id, reverted: count('reverted'), offline: offline.length }, 'rollout rolled back after a failed gate');
  }

  /** `late`: a wave that had passed failed its rollback gate afterwards (a probation failed late). */
  private async fail(r: Rollout, wave: number, tally: WaveTally, results: readonly GateResult[], now: number, phase: 'shadow' | 'activate' | 'late' = 'activate'): Promise<void> {
    const rollback = r.onGateFailure === 'rollback';
    if (!(await this.store.transition(r.id, ['running'], rollback ? 'rolling-back' : 'paused', 'gate-failed', now))) return;
    await this.store.event(r.id, 'gate-failed', { wave, phase, tally, gates: results }, now);
    if (rollback) await this.store.event(r.id, 'rollback-started', { wave }, now);
    this.o.log?.warn({ event: 'rollouts.gate_failed', code: 'E_ROLLOUT_GATE', rollout: r.id, wave, phase, gates: results.filter((g) => !g.pass) }, phase === 'shadow' ? 'a gate failed in shadow: rollout paused, the release was activated nowhere in this wave' : 'a health gate failed: rollout paused');
  }

  /** Stops ticking and gives the lease up, so another instance takes over at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.nudged);
    this.nudged = undefined;
    await this.running;
    if (this.holding) {
      await this.lease.release().catch(() => undefined);
      this.o.onLeadership?.(false);
    }
    this.holding = false;
  }
}
