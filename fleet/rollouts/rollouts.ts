import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/open-database.js';
import { GatewayStore } from '../registry/gateway-store.js';
import { LabelError, parseSelector } from '../registry/labels.js';
import type { ReleaseInfo } from '../repo/releases.js';
import { DEFAULT_GATES, type HealthGates, type WaveTally } from './gates.js';
import { QualityGateError, qualityGates, type QualityGates } from './quality.js';
import { RolloutPlanError, checkWaves, planWaves, selects, type PlanGateway, type RolloutSelector, type WaveSpec } from './plan.js';
import { RolloutStore, type OnGateFailure, type Rollout, type RolloutEvent, type RolloutState } from './rollout-store.js';
import { checkWindow, type MaintenanceWindow } from './window.js';

export type RolloutErrorCode = 'E_ROLLOUT_INVALID' | 'E_ROLLOUT_UNKNOWN' | 'E_ROLLOUT_STATE' | 'E_RELEASE_UNKNOWN';

export class RolloutError extends Error {
  override readonly name = 'RolloutError';
  constructor(
    readonly code: RolloutErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CreateRollout {
  readonly name?: string;
  /** The release's TUF target path (`GET /v1/releases` lists them). */
  readonly target: string;
  readonly selector: RolloutSelector;
  readonly waves: readonly WaveSpec[];
  readonly gates?: Partial<HealthGates>;
  /** Quality gates measured in shadow: each wave runs the release beside the active model first, and activates it only if the numbers pass. */
  readonly quality?: Partial<QualityGates>;
  /** What a failed gate does (default pause): `rollback` also switches every gateway the rollout reached back to its previous release. */
  readonly onGateFailure?: OnGateFailure;
  /** Gateways told per minute at most. */
  readonly ratePerMinute?: number;
  readonly windows?: readonly MaintenanceWindow[];
  /** A gateway with no outcome this long after its notice counts as timed out. */
  readonly gatewayTimeoutMs?: number;
}

export const ROLLOUT_DEFAULTS = { ratePerMinute: 600, gatewayTimeoutMs: 30 * 60_000 } as const;

/** Gateways a preview lists per wave at most (the rest are counted in `more`). */
export const PREVIEW_GATEWAYS_PER_WAVE = 100;

/** The waves a rollout request would get: `POST /v1/rollouts/preview`. */
export interface RolloutPreview {
  readonly target: string;
  readonly model: string;
  readonly release: number;
  /** Gateways the rollout would reach. */
  readonly total: number;
  readonly waves: readonly { readonly index: number; readonly size: number; readonly gateways: readonly string[]; readonly more: number }[];
}

export interface RolloutStatus {
  readonly rollout: Rollout;
  readonly waves: readonly WaveTally[];
  readonly events: readonly RolloutEvent[];
}

/**
 * Rollouts as operators see them: create (checked, planned and stored at once: the waves are
 * fixed when the rollout is made), inspect, pause, resume, abort. The driver advances them.
 */
export class Rollouts {
  readonly store: RolloutStore;
  private readonly gateways: GatewayStore;

  constructor(
    private readonly sql: Sql,
    private readonly releases: () => Promise<readonly ReleaseInfo[]>,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new RolloutStore(sql);
    this.gateways = new GatewayStore(sql);
  }

  /**
   * What `create` would do with this request, changing nothing: the same checks and refusals,
   * and the waves it would plan. The plan is keyed by the release (not the rollout's id), so a
   * preview shows exactly the gateways the created rollout then tells, wave by wave, as long as
   * the fleet's gateways do not change in between.
   */
  async preview(req: CreateRollout): Promise<RolloutPreview> {
    const p = await this.plan(req);
    const members = req.waves.map((): string[] => []);
    for (const [gw, wave] of p.plan) members[wave]?.push(gw);
    return {
      target: p.release.target,
      model: p.release.model,
      release: p.release.release,
      total: p.chosen.length,
      waves: members.map((ids, index) => {
        ids.sort();
        return { index, size: ids.length, gateways: ids.slice(0, PREVIEW_GATEWAYS_PER_WAVE), more: Math.max(0, ids.length - PREVIEW_GATEWAYS_PER_WAVE) };
      }),
    };
  }

  /** The checks and the plan `create` and `preview` share; throws RolloutError naming the field. */
  private async plan(req: CreateRollout): Promise<{ release: ReleaseInfo; chosen: readonly PlanGateway[]; plan: Map<string, number>; checked: ReturnType<typeof checkRolloutRequest> }> {
    const release = (await this.releases()).find((r) => r.target === req.target);
    if (release === undefined) throw new RolloutError('E_RELEASE_UNKNOWN', `target ${JSON.stringify(req.target)} is not a model release in the fleet's TUF repository (GET /v1/releases lists them; publish it with edgewise repo publish)`);
    // Gateways that switched back from a release keep it accepted and refuse it (as "not newer"),
    // which a new rollout would count as done: a rolled-back release is not rolled out again.
    if ((await this.sql.query(`SELECT 1 FROM rollouts r JOIN rollout_events e ON e.rollout_id = r.id WHERE r.target = $1 AND e.kind = 'rolled-back' LIMIT 1`, [release.target])).length > 0) {
      throw new RolloutError('E_ROLLOUT_INVALID', `target ${release.target} was rolled back by an earlier rollout; the gateways that switched back refuse it from now on. Publish the fix as a new release (a higher counter) and roll that out`);
    }
    const checked = checkRolloutRequest(req);
    const all = await this.gateways.allActive();
    const chosen = all.filter((g) => selects(req.selector, g));
    if (req.selector.kind === 'ids') {
      const unknown = req.selector.ids.filter((id) => !chosen.some((g) => g.id === id));
      if (unknown.length > 0) throw new RolloutError('E_ROLLOUT_INVALID', `selector.ids: not provisioned or revoked: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`);
    }
    if (chosen.length === 0) throw new RolloutError('E_ROLLOUT_INVALID', 'selector: no provisioned gateway matches');
    // Keyed by the release: the same release picks the same canary (what a preview showed).
    return { release, chosen, plan: planWaves(release.target, chosen, req.waves), checked };
  }

  async create(req: CreateRollout): Promise<RolloutStatus> {
    const { release, chosen, plan, checked } = await this.plan(req);
    const { gates, ratePerMinute, gatewayTimeoutMs, quality } = checked;
    const now = this.now();
    const id = `ro-${randomBytes(6).toString('hex')}`;
    const rollout: Rollout = {
      id,
      name: req.name ?? `${release.model} ${release.version}`,
      target: release.target,
      model: release.model,
      release: release.release,
      version: release.version,
      selector: req.selector,
      waves: req.waves,
      gates,
      quality,
      latencyBudgetMs: release.budgets.latencyMs,
      evaluationSet: release.evaluationSet !== null,
      onGateFailure: req.onGateFailure ?? 'pause',
      ratePerMinute,
      windows: req.windows ?? [],
      gatewayTimeoutMs,
      probationMs: release.budgets.probationS * 1000,
      state: 'running',
      currentWave: 0,
      phase: quality === null ? 'activate' : 'shadow',
      reason: null,
      createdMs: now,
      updatedMs: now,
    };
    const perWave = req.waves.map((_, i) => [...plan.values()].filter((w) => w === i).length);
    await this.sql.transaction(async (tx) => {
      const store = new RolloutStore(tx);
      await store.insert(rollout, plan);
      await store.event(id, 'created', { target: release.target, model: release.model, release: release.release, gateways: chosen.length, perWave }, now);
      await store.event(id, 'wave-started', { wave: 0 }, now);
    });
    return this.status(id);
  }

  async status(id: string): Promise<RolloutStatus> {
    const rollout = await this.store.get(id);
    if (rollout === undefined) throw new RolloutError('E_ROLLOUT_UNKNOWN', `no rollout ${id}; GET /v1/rollouts lists them`);
    return { rollout, waves: await this.store.tallies(id, rollout.waves.length), events: await this.store.events(id) };
  }

  list(state?: RolloutState): Promise<Rollout[]> {
    return this.store.list(state);
  }

  async pause(id: string): Promise<RolloutStatus> {
    await this.move(id, ['running'], 'paused', 'paused by an operator', 'paused');
    return this.status(id);
  }

  /** Resumes a paused rollout; after a failed gate, the operator's resume accepts the wave and goes on to the next. */
  async resume(id: string): Promise<RolloutStatus> {
    const r = await this.must(id);
    if (r.reason === 'rolled-back' || r.state === 'rolling-back') {
      throw new RolloutError('E_ROLLOUT_STATE', `rollout ${id} ${r.state === 'rolling-back' ? 'is rolling back' : 'was rolled back'}: its gateways refuse release ${r.release} from now on; publish a fixed release with a higher counter and start a new rollout`);
    }
    // What failed decides what resuming means: the newest gate-failed decision says which wave and which half.
    const failed = r.state === 'paused' && r.reason === 'gate-failed' ? (await this.store.lastEvent(id, 'gate-failed'))?.detail : undefined;
    if (failed !== undefined && (failed['phase'] === 'late' || failed['wave'] !== r.currentWave)) {
      throw new RolloutError(
        'E_ROLLOUT_STATE',
        `rollout ${id} stopped because gateways of wave ${Number(failed['wave']) + 1}, which had passed, switched back in probation; resuming would stop it again at once. Abort it (or start a new rollout with --on-gate-failure rollback to switch the rest back), and publish a fixed release`,
      );
    }
    if (failed !== undefined && failed['phase'] === 'shadow') {
      // The operator accepts the candidate despite its shadow numbers: this wave activates it.
      const now = this.now();
      if (!(await this.store.overrideShadowGate(id, r.currentWave, now))) throw new RolloutError('E_ROLLOUT_STATE', `rollout ${id} changed while resuming; look at its status and try again`);
      await this.store.event(id, 'gate-overridden', { wave: r.currentWave, phase: 'shadow' }, now);
    } else if (failed !== undefined) {
      const now = this.now();
      const last = r.currentWave >= r.waves.length - 1;
      if (!(await this.store.overrideGate(id, r.currentWave, last, now))) throw new RolloutError('E_ROLLOUT_STATE', `rollout ${id} changed while resuming; look at its status and try again`);
      await this.store.event(id, 'gate-overridden', { wave: r.currentWave }, now);
      await this.store.event(id, last ? 'completed' : 'wave-started', last ? {} : { wave: r.currentWave + 1 }, now);
    } else {
      await this.move(id, ['paused'], 'running', null, 'resumed');
    }
    return this.status(id);
  }

  /** Stops for good: no gateway is told of the release any more (those that installed it keep it). */
  async abort(id: string): Promise<RolloutStatus> {
    await this.move(id, ['running', 'rolling-back', 'paused'], 'aborted', 'aborted by an operator', 'aborted');
    return this.status(id);
  }

  private async must(id: string): Promise<Rollout> {
    const r = await this.store.get(id);
    if (r === undefined) throw new RolloutError('E_ROLLOUT_UNKNOWN', `no rollout ${id}; GET /v1/rollouts lists them`);
    return r;
  }

  private async move(id: string, from: readonly RolloutState[], to: RolloutState, reason: string | null, event: string): Promise<void> {
    const r = await this.must(id);
    const now = this.now();
    if (!(await this.store.transition(id, from, to, reason, now))) throw new RolloutError('E_ROLLOUT_STATE', `rollout ${id} is ${r.state}; it can be made ${to} only when ${from.join(' or ')}`);
    await this.store.event(id, event, {}, now);
  }
}

/** A rollout's plan as a request gives it, without its release: what a federated task keeps to roll out each round's model. */
export type RolloutSpec = Omit<CreateRollout, 'target' | 'name'>;

/**
 * Checks a rollout request's plan (waves, selectors, windows, gates, rate, quality gates) without
 * looking at the release or the gateways, and fills in the defaults; E_ROLLOUT_INVALID names
 * what is wrong. `create` runs it; a federated task runs it at its creation, so that a bad plan is
 * refused then and not after its first round.
 */
export function checkRolloutRequest(req: RolloutSpec): { gates: HealthGates; ratePerMinute: number; gatewayTimeoutMs: number; quality: QualityGates | null } {
  try {
    checkWaves(req.waves);
    if (req.selector.kind === 'labels') {
      if (req.selector.selector.trim() === '') throw new RolloutPlanError('selector.selector: empty; for every gateway say {"kind": "all"}');
      parseSelector(req.selector.selector, 'selector');
    }
    req.waves.forEach((w, i) => {
      if (w.kind === 'labels' && w.selector.trim() === '') throw new RolloutPlanError(`waves[${i}].selector: empty; a wave of every remaining gateway is {"kind": "share", "share": 1}`);
    });
    (req.windows ?? []).forEach((w, i) => checkWindow(w, `windows[${i}]`));
  } catch (err) {
    if (err instanceof RolloutPlanError || err instanceof LabelError || (err as { code?: string }).code === 'E_ROLLOUT_INVALID') throw new RolloutError('E_ROLLOUT_INVALID', (err as Error).message);
    throw err;
  }
  const gates: HealthGates = { ...DEFAULT_GATES, ...req.gates };
  for (const [k, v] of Object.entries(gates)) if (!(v >= 0 && v <= 1)) throw new RolloutError('E_ROLLOUT_INVALID', `gates.${k}: expected a share from 0 to 1, got ${v}`);
  const ratePerMinute = req.ratePerMinute ?? ROLLOUT_DEFAULTS.ratePerMinute;
  if (!Number.isInteger(ratePerMinute) || ratePerMinute < 1) throw new RolloutError('E_ROLLOUT_INVALID', `ratePerMinute: expected an integer >= 1, got ${ratePerMinute}`);
  const gatewayTimeoutMs = req.gatewayTimeoutMs ?? ROLLOUT_DEFAULTS.gatewayTimeoutMs;
  let quality: QualityGates | null = null;
  try {
    if (req.quality !== undefined) quality = qualityGates(req.quality);
  } catch (err) {
    if (err instanceof QualityGateError) throw new RolloutError('E_ROLLOUT_INVALID', err.message);
    throw err;
  }
  return { gates, ratePerMinute, gatewayTimeoutMs, quality };
}
