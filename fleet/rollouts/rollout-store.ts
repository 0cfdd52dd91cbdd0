import type { Queryable } from '../db/open-database.js';
import { jsonParam } from '../db/json.js';
import type { ShadowSummary } from '../protocol/update.js';
import type { HealthGates, WaveTally } from './gates.js';
import type { QualityGates } from './quality.js';
import type { RolloutSelector, WaveSpec } from './plan.js';
import type { MaintenanceWindow } from './window.js';

export type RolloutState = 'running' | 'rolling-back' | 'paused' | 'aborted' | 'completed';
/** What a failed gate does: pause the rollout, or also switch every gateway it reached back to its previous release. */
export type OnGateFailure = 'pause' | 'rollback';
export type TargetState = 'pending' | 'shadowing' | 'shadowed' | 'notified' | 'active' | 'confirmed' | 'failed' | 'rolled-back' | 'timed-out' | 'offline' | 'reverting' | 'reverted';
/** With quality gates, each wave first runs the release in shadow, then activates it. */
export type WavePhase = 'shadow' | 'activate';

export interface Rollout {
  readonly id: string;
  readonly name: string;
  readonly target: string;
  readonly model: string;
  readonly release: number;
  readonly version: string;
  readonly selector: RolloutSelector;
  readonly waves: readonly WaveSpec[];
  readonly gates: HealthGates;
  /** null: no shadow, the waves activate the release straight away. */
  readonly quality: QualityGates | null;
  /** The release's latency budget (the default p99 limit of the quality gate). */
  readonly latencyBudgetMs: number;
  /** The release carries a labelled evaluation set: the quality gate judges the candidate on it. */
  readonly evaluationSet: boolean;
  readonly onGateFailure: OnGateFailure;
  readonly ratePerMinute: number;
  readonly windows: readonly MaintenanceWindow[];
  readonly gatewayTimeoutMs: number;
  /** The release's probation (its budgets.probationS): a wave is judged after it. */
  readonly probationMs: number;
  readonly state: RolloutState;
  readonly currentWave: number;
  readonly phase: WavePhase;
  readonly reason: string | null;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface RolloutEvent {
  readonly seq: number;
  readonly ts: number;
  readonly kind: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface TargetRow {
  readonly gatewayId: string;
  readonly wave: number;
  readonly state: TargetState;
  readonly notifiedMs: number | null;
  readonly outcomeMs: number | null;
  readonly detail: string | null;
  /** Its shadow report, once in. */
  readonly shadow: ShadowSummary | null;
}

interface RolloutRow {
  id: string;
  name: string;
  target: string;
  model: string;
  release: number;
  version: string;
  selector: RolloutSelector;
  waves: WaveSpec[];
  gates: HealthGates;
  quality: StoredQuality | null;
  on_gate_failure: OnGateFailure;
  rate_per_minute: number;
  windows: MaintenanceWindow[];
  gateway_timeout_ms: number;
  probation_ms: number;
  state: RolloutState;
  current_wave: number;
  phase: WavePhase;
  reason: string | null;
  created_ms: number;
  updated_ms: number;
}

function rollout(r: RolloutRow): Rollout {
  return {
    id: r.id,
    name: r.name,
    target: r.target,
    model: r.model,
    release: r.release,
    version: r.version,
    selector: r.selector,
    waves: r.waves,
    gates: r.gates,
    quality: r.quality === null ? null : withoutBudget(r.quality),
    latencyBudgetMs: r.quality?.latencyBudgetMs ?? 0,
    evaluationSet: r.quality?.evaluationSet ?? false,
    onGateFailure: r.on_gate_failure,
    ratePerMinute: r.rate_per_minute,
    windows: r.windows,
    gatewayTimeoutMs: r.gateway_timeout_ms,
    probationMs: r.probation_ms,
    state: r.state,
    currentWave: r.current_wave,
    phase: r.phase,
    reason: r.reason,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
  };
}

/** The quality gates as stored: with the release's facts they are judged against (older rows lack some). */
type StoredQuality = Omit<QualityGates, 'maxEvaluationDrop'> & { maxEvaluationDrop?: number; latencyBudgetMs?: number; evaluationSet?: boolean };

function withoutBudget(q: StoredQuality): QualityGates {
  const { latencyBudgetMs: _budget, evaluationSet: _set, ...gates } = q;
  return { ...gates, maxEvaluationDrop: gates.maxEvaluationDrop ?? 0 };
}

const EMPTY_TALLY: WaveTally = { total: 0, notified: 0, active: 0, failed: 0, rolledBack: 0, timedOut: 0, offline: 0, pending: 0, shadowing: 0, shadowed: 0, reverting: 0, reverted: 0 };

type TargetDbRow = { gateway_id: string; wave: number; state: TargetState; notified_ms: number | null; outcome_ms: number | null; detail: string | null; shadow: ShadowSummary | null };

/** The rollout tables' queries. */
export class RolloutStore {
  constructor(private readonly db: Queryable) {}

  async insert(r: Rollout, targets: ReadonlyMap<string, number>): Promise<void> {
    await this.db.query(
      `INSERT INTO rollouts (id, name, target, model, release, version, selector, waves, gates, rate_per_minute, windows, gateway_timeout_ms, probation_ms, state, current_wave, reason, created_ms, updated_ms, quality, phase, on_gate_failure)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12, $13, $14, $15, $16, $17, $18, $19::jsonb, $20, $21)`,
      [
        r.id, r.name, r.target, r.model, r.release, r.version, jsonParam(r.selector), jsonParam(r.waves), jsonParam(r.gates), r.ratePerMinute, jsonParam(r.windows), r.gatewayTimeoutMs, r.probationMs, r.state, r.currentWave, r.reason, r.createdMs, r.updatedMs,
        r.quality === null ? null : jsonParam({ ...r.quality, latencyBudgetMs: r.latencyBudgetMs, evaluationSet: r.evaluationSet }),
        r.phase,
        r.onGateFailure,
      ],
    );
    if (targets.size > 0) {
      await this.db.query(
        `INSERT INTO rollout_targets (rollout_id, gateway_id, wave, state)
         SELECT $1, x.gw, x.wave, 'pending' FROM jsonb_to_recordset($2::jsonb) AS x(gw text, wave integer)`,
        [r.id, jsonParam([...targets].map(([gw, wave]) => ({ gw, wave })))],
      );
    }
  }

  async get(id: string): Promise<Rollout | undefined> {
    const r = (await this.db.query<RolloutRow>('SELECT * FROM rollouts WHERE id = $1', [id]))[0];
    return r === undefined ? undefined : rollout(r);
  }

  async list(state?: RolloutState, limit = 100): Promise<Rollout[]> {
    const rows = state === undefined ? await this.db.query<RolloutRow>('SELECT * FROM rollouts ORDER BY created_ms DESC, id LIMIT $1', [limit]) : await this.db.query<RolloutRow>('SELECT * FROM rollouts WHERE state = $1 ORDER BY created_ms DESC, id LIMIT $2', [state, limit]);
    return rows.map(rollout);
  }

  /** Moves a rollout from one state to another; false when it was not in `from` (someone else moved it first). */
  async transition(id: string, from: readonly RolloutState[], to: RolloutState, reason: string | null, nowMs: number): Promise<boolean> {
    const rows = await this.db.query('UPDATE rollouts SET state = $2, reason = $3, updated_ms = $4 WHERE id = $1 AND state IN (SELECT jsonb_array_elements_text($5::jsonb)) RETURNING id', [id, to, reason, nowMs, JSON.stringify(from)]);
    return rows.length === 1;
  }

  /** Resumes a rollout paused by a failed gate at `wave`, on to the next wave, in one statement (a step between two would fail the gate again). */
  async overrideGate(id: string, wave: number, last: boolean, nowMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE rollouts SET state = $4, reason = NULL, current_wave = CASE WHEN $4 = 'running' THEN $2 + 1 ELSE current_wave END,
         phase = CASE WHEN quality IS NULL THEN 'activate' ELSE 'shadow' END, updated_ms = $3
       WHERE id = $1 AND state = 'paused' AND reason = 'gate-failed' AND current_wave = $2 AND phase = 'activate' RETURNING id`,
      [id, wave, nowMs, last ? 'completed' : 'running'],
    );
    return rows.length === 1;
  }

  /** Resumes a rollout whose wave failed its shadow gates: the operator accepts the candidate, and the wave activates it. */
  async overrideShadowGate(id: string, wave: number, nowMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE rollouts SET state = 'running', reason = NULL, phase = 'activate', updated_ms = $3
       WHERE id = $1 AND state = 'paused' AND reason = 'gate-failed' AND current_wave = $2 AND phase = 'shadow' RETURNING id`,
      [id, wave, nowMs],
    );
    return rows.length === 1;
  }

  /** The wave's shadow passed: it activates the release now (once: only from the shadow phase of the wave the caller saw). */
  async toActivate(id: string, wave: number, nowMs: number): Promise<boolean> {
    const rows = await this.db.query(`UPDATE rollouts SET phase = 'activate', updated_ms = $3 WHERE id = $1 AND current_wave = $2 AND phase = 'shadow' AND state = 'running' RETURNING id`, [id, wave, nowMs]);
    return rows.length === 1;
  }

  /** Completed rollouts that still have gateways to catch up when they come back. */
  async completedWithOffline(limit = 100): Promise<Rollout[]> {
    const rows = await this.db.query<RolloutRow>(
      `SELECT r.* FROM rollouts r WHERE r.state = 'completed' AND EXISTS (SELECT 1 FROM rollout_targets t WHERE t.rollout_id = r.id AND t.state IN ('offline', 'notified')) ORDER BY r.created_ms DESC LIMIT $1`,
      [limit],
    );
    return rows.map(rollout);
  }

  /** Rolled-back rollouts with gateways that may still run the release (offline when it rolled back): they are switched back when they return. */
  async rolledBackWithHolders(limit = 100): Promise<Rollout[]> {
    const rows = await this.db.query<RolloutRow>(
      `SELECT r.* FROM rollouts r WHERE r.state = 'paused' AND r.reason = 'rolled-back' AND EXISTS (
         SELECT 1 FROM rollout_targets t WHERE t.rollout_id = r.id
           AND (t.state IN ('active', 'confirmed', 'notified', 'reverting') OR (t.state = 'timed-out' AND t.detail NOT LIKE 'told to switch back%')))
       ORDER BY r.created_ms DESC LIMIT $1`,
      [limit],
    );
    return rows.map(rollout);
  }

  /** Advances to the next wave, once: only from the wave the caller saw. */
  async advance(id: string, fromWave: number, nowMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE rollouts SET current_wave = $2 + 1, phase = CASE WHEN quality IS NULL THEN 'activate' ELSE 'shadow' END, updated_ms = $3
       WHERE id = $1 AND current_wave = $2 AND state = 'running' RETURNING id`,
      [id, fromWave, nowMs],
    );
    return rows.length === 1;
  }

  async event(id: string, kind: string, detail: Readonly<Record<string, unknown>>, nowMs: number): Promise<void> {
    await this.db.query('INSERT INTO rollout_events (rollout_id, ts, kind, detail) VALUES ($1, $2, $3, $4::jsonb)', [id, nowMs, kind, jsonParam(detail)]);
  }

  async events(id: string, limit = 500): Promise<RolloutEvent[]> {
    const rows = await this.db.query<{ seq: number; ts: number; kind: string; detail: Record<string, unknown> }>('SELECT seq, ts, kind, detail FROM rollout_events WHERE rollout_id = $1 ORDER BY seq LIMIT $2', [id, limit]);
    return rows;
  }

  /** Decisions of every rollout after `afterSeq`, oldest first (the fleet's rollout event stream). */
  async eventsAfter(afterSeq: number, limit: number): Promise<(RolloutEvent & { rolloutId: string })[]> {
    const rows = await this.db.query<{ rollout_id: string; seq: number; ts: number; kind: string; detail: Record<string, unknown> }>('SELECT rollout_id, seq, ts, kind, detail FROM rollout_events WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    return rows.map((r) => ({ rolloutId: r.rollout_id, seq: Number(r.seq), ts: Number(r.ts), kind: r.kind, detail: r.detail }));
  }

  /** The newest decision of this kind of one rollout. */
  async lastEvent(id: string, kind: string): Promise<RolloutEvent | undefined> {
    const rows = await this.db.query<{ seq: number; ts: number; kind: string; detail: Record<string, unknown> }>('SELECT seq, ts, kind, detail FROM rollout_events WHERE rollout_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1', [id, kind]);
    return rows[0];
  }

  /** The newest decision's seq (0: none yet). */
  async lastEventSeq(): Promise<number> {
    const rows = await this.db.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM rollout_events');
    return Number(rows[0]?.seq ?? 0);
  }

  async targets(id: string, wave?: number): Promise<TargetRow[]> {
    const rows =
      wave === undefined
        ? await this.db.query<TargetDbRow>('SELECT * FROM rollout_targets WHERE rollout_id = $1 ORDER BY wave, gateway_id', [id])
        : await this.db.query<TargetDbRow>('SELECT * FROM rollout_targets WHERE rollout_id = $1 AND wave = $2 ORDER BY gateway_id', [id, wave]);
    return rows.map((r) => ({ gatewayId: r.gateway_id, wave: r.wave, state: r.state, notifiedMs: r.notified_ms, outcomeMs: r.outcome_ms, detail: r.detail, shadow: r.shadow }));
  }

  /** Per wave: how many gateways stand where. */
  async tallies(id: string, waves: number): Promise<WaveTally[]> {
    const rows = await this.db.query<{ wave: number; state: TargetState; n: number }>('SELECT wave, state, count(*) AS n FROM rollout_targets WHERE rollout_id = $1 GROUP BY wave, state', [id]);
    const out: { -readonly [K in keyof WaveTally]: number }[] = Array.from({ length: waves }, () => ({ ...EMPTY_TALLY }));
    for (const r of rows) {
      const t = out[r.wave];
      if (t === undefined) continue;
      const n = Number(r.n);
      t.total += n;
      if (r.state === 'pending') t.pending += n;
      else if (r.state === 'offline') t.offline += n;
      else if (r.state === 'shadowing') t.shadowing += n;
      else if (r.state === 'shadowed') t.shadowed += n;
      else if (r.state === 'reverting') t.reverting += n;
      else if (r.state === 'reverted') t.reverted += n;
      else {
        t.notified += n;
        if (r.state === 'active' || r.state === 'confirmed') t.active += n;
        if (r.state === 'failed') t.failed += n;
        if (r.state === 'rolled-back') t.rolledBack += n;
        if (r.state === 'timed-out') t.timedOut += n;
      }
    }
    return out;
  }

  /**
   * Marks gateways told of the release, once each: only rows still in `from` change, and only
   * while the rollout is running or completed (an abort or a pause between the step's read and
   * this write stops it). Returns the ones that changed.
   */
  async markNotified(id: string, gateways: readonly string[], from: readonly TargetState[], nowMs: number, to: 'notified' | 'shadowing' = 'notified'): Promise<string[]> {
    if (gateways.length === 0) return [];
    const rows = await this.db.query<{ gateway_id: string }>(
      `UPDATE rollout_targets SET state = $5, notified_ms = $3, outcome_ms = NULL, detail = NULL
       WHERE rollout_id = $1 AND gateway_id IN (SELECT jsonb_array_elements_text($2::jsonb)) AND state IN (SELECT jsonb_array_elements_text($4::jsonb))
         AND EXISTS (SELECT 1 FROM rollouts r WHERE r.id = $1 AND r.state IN ('running', 'completed'))
       RETURNING gateway_id`,
      [id, JSON.stringify(gateways), nowMs, JSON.stringify(from), to],
    );
    return rows.map((r) => r.gateway_id);
  }

  /** Marks gateways told to switch back, once each: those that run the release or were told to install it, and only while the rollout is rolling back (or rolled back: a gateway back from offline). */
  async markReverting(id: string, gateways: readonly string[], nowMs: number): Promise<string[]> {
    if (gateways.length === 0) return [];
    const rows = await this.db.query<{ gateway_id: string }>(
      `UPDATE rollout_targets SET state = 'reverting', notified_ms = $3, outcome_ms = NULL, detail = NULL
       WHERE rollout_id = $1 AND gateway_id IN (SELECT jsonb_array_elements_text($2::jsonb)) AND (state IN ('active', 'confirmed', 'notified') OR (state = 'timed-out' AND detail NOT LIKE 'told to switch back%'))
         AND EXISTS (SELECT 1 FROM rollouts r WHERE r.id = $1 AND (r.state = 'rolling-back' OR (r.state = 'paused' AND r.reason = 'rolled-back')))
       RETURNING gateway_id`,
      [id, JSON.stringify(gateways), nowMs],
    );
    return rows.map((r) => r.gateway_id);
  }

  /** Shadow reports in: those gateways still shadowing become shadowed, with the numbers. */
  async setShadowed(id: string, reports: readonly { gw: string; shadow: ShadowSummary }[], nowMs: number): Promise<void> {
    if (reports.length === 0) return;
    await this.db.query(
      `UPDATE rollout_targets t SET state = 'shadowed', shadow = x.shadow, outcome_ms = $3, detail = NULL
       FROM jsonb_to_recordset($2::jsonb) AS x(gw text, shadow jsonb)
       WHERE t.rollout_id = $1 AND t.gateway_id = x.gw AND t.state = 'shadowing'`,
      [id, jsonParam(reports), nowMs],
    );
  }

  async setOutcomes(id: string, outcomes: readonly { gw: string; state: TargetState; detail: string | null }[], nowMs: number): Promise<void> {
    if (outcomes.length === 0) return;
    await this.db.query(
      `UPDATE rollout_targets t SET state = x.state, detail = x.detail, outcome_ms = $3
       FROM jsonb_to_recordset($2::jsonb) AS x(gw text, state text, detail text)
       WHERE t.rollout_id = $1 AND t.gateway_id = x.gw`,
      [id, jsonParam(outcomes), nowMs],
    );
  }

  /** Gateways told of the release that gave no outcome in time (shadowing ones get the shadow's time on top). */
  async timeOut(id: string, olderThanMs: number, nowMs: number, shadowMs = 0): Promise<string[]> {
    const rows = await this.db.query<{ gateway_id: string }>(
      `UPDATE rollout_targets SET state = 'timed-out', outcome_ms = $3,
         detail = CASE WHEN state = 'shadowing' THEN 'no shadow report within the gateway timeout and the shadow time'
                       WHEN state = 'reverting' THEN 'told to switch back, no report within the gateway timeout (it may still run the release)'
                       ELSE 'no outcome within the gateway timeout' END
       WHERE rollout_id = $1 AND ((state IN ('notified', 'reverting') AND notified_ms < $2) OR (state = 'shadowing' AND notified_ms < $2 - $4)) RETURNING gateway_id`,
      [id, olderThanMs, nowMs, shadowMs],
    );
    return rows.map((r) => r.gateway_id);
  }

  /** Gateways of this rollout told since `sinceMs` (the rate limit is per rollout). */
  async notifiedSince(id: string, sinceMs: number): Promise<number> {
    const rows = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM rollout_targets WHERE rollout_id = $1 AND notified_ms >= $2', [id, sinceMs]);
    return Number(rows[0]?.n ?? 0);
  }
}
