import type { Queryable } from '../db/open-database.js';
import { jsonParam } from '../db/json.js';
import type { GatewayHardware, ModelReleases, ShadowSummary } from '../protocol/index.js';
import { selectorSql, type Labels, type Selector } from './labels.js';

/** How the fleet sees a gateway now. `never-seen`: provisioned, never connected. */
export type GatewayStatus = 'online' | 'offline' | 'degraded' | 'never-seen' | 'revoked';
export const GATEWAY_STATUSES: readonly GatewayStatus[] = ['online', 'offline', 'degraded', 'never-seen', 'revoked'];

export interface GatewaySummary {
  readonly id: string;
  readonly site: string;
  readonly labels: Labels;
  readonly status: GatewayStatus;
  readonly online: boolean;
  readonly createdMs: number;
  readonly revokedMs: number | null;
  readonly lastSeenMs: number | null;
  /** false when the last offline came from the broker's Last Will (crash, power cut, network). */
  readonly stateClean: boolean | null;
  readonly runtimeVersion: string | null;
  readonly hardware: GatewayHardware | null;
  readonly releases: Readonly<Record<string, ModelReleases>>;
  readonly health: { readonly status: 'ok' | 'degraded'; readonly reasons: readonly string[]; readonly ts: number } | null;
  readonly telemetry: { readonly records: number; readonly lastMs: number | null };
}

export interface UpdateStep {
  readonly model: string | null;
  readonly target: string;
  readonly release: number | null;
  readonly version: string | null;
  readonly step: string;
  readonly outcome: string;
  readonly reason: string | null;
  readonly ts: number;
  readonly receivedMs: number;
  /** A `shadow` step's numbers: how the candidate compared with the active model. */
  readonly shadow?: ShadowSummary;
}

export interface GatewayDetail extends GatewaySummary {
  /** The latest health report as the gateway sent it. */
  readonly healthReport: Readonly<Record<string, unknown>> | null;
  /** The newest update steps first. */
  readonly updateSteps: readonly UpdateStep[];
}

export interface GatewayFilter {
  readonly selector?: Selector;
  readonly site?: string;
  readonly status?: GatewayStatus;
  /** Gateways whose active release of this model is this one (`model` alone: any release of it). */
  readonly model?: string;
  readonly release?: number;
  /** Keyset pagination: ids after this one, in id order. */
  readonly after?: string;
  readonly limit: number;
}

/** Credentials as the broker needs them to decide on a connection. */
export interface GatewayCredentials {
  readonly id: string;
  readonly passwordScrypt: string;
  readonly revoked: boolean;
}

/** Update steps kept per gateway (the newest). */
export const UPDATE_STEPS_KEPT = 200;

const STATUS_SQL = `CASE WHEN g.revoked_ms IS NOT NULL THEN 'revoked'
  WHEN g.last_seen_ms IS NULL THEN 'never-seen'
  WHEN NOT g.online THEN 'offline'
  WHEN g.health_status = 'degraded' THEN 'degraded'
  ELSE 'online' END`;

const SUMMARY_COLUMNS = `g.id, g.site, g.labels, g.online, g.created_ms, g.revoked_ms, g.last_seen_ms, g.state_clean, g.runtime_version,
  g.hardware, g.releases, g.health_status, g.health_reasons, g.health_ms, g.telemetry_records, g.telemetry_last_ms, ${STATUS_SQL} AS status`;

interface SummaryRow {
  id: string;
  site: string;
  labels: Labels;
  online: boolean;
  created_ms: number;
  revoked_ms: number | null;
  last_seen_ms: number | null;
  state_clean: boolean | null;
  runtime_version: string | null;
  hardware: GatewayHardware | null;
  releases: Record<string, ModelReleases>;
  health_status: 'ok' | 'degraded' | null;
  health_reasons: string[];
  health_ms: number | null;
  telemetry_records: number;
  telemetry_last_ms: number | null;
  status: GatewayStatus;
}

function summary(r: SummaryRow): GatewaySummary {
  return {
    id: r.id,
    site: r.site,
    labels: r.labels,
    status: r.status,
    online: r.online,
    createdMs: r.created_ms,
    revokedMs: r.revoked_ms,
    lastSeenMs: r.last_seen_ms,
    stateClean: r.state_clean,
    runtimeVersion: r.runtime_version,
    hardware: r.hardware,
    releases: r.releases,
    health: r.health_status === null || r.health_ms === null ? null : { status: r.health_status, reasons: r.health_reasons, ts: r.health_ms },
    telemetry: { records: r.telemetry_records, lastMs: r.telemetry_last_ms },
  };
}

export interface NewGateway {
  readonly id: string;
  readonly site: string;
  readonly labels: Labels;
  readonly passwordScrypt: string;
  readonly passwordMosquitto: string;
  readonly nowMs: number;
}

/** A gateway's health report as `GatewayStore.applyHealth` writes it. */
export interface HealthUpdate {
  readonly gw: string;
  readonly ts: number;
  readonly status: string;
  readonly reasons: readonly string[];
  readonly runtimeVersion: string;
  readonly hardware: GatewayHardware | null;
  readonly releases: Readonly<Record<string, ModelReleases>> | null;
  readonly report: unknown;
  readonly receivedMs: number;
}

/** One report as a row of `GatewayStore.applyHealthRows`: a JSON object, made safe for jsonb (`jsonParam`). */
export function healthRow(r: HealthUpdate): string {
  return jsonParam({ gw: r.gw, ts: r.ts, status: r.status, reasons: r.reasons, runtime_version: r.runtimeVersion, hardware: r.hardware, releases: r.releases, report: r.report, received_ms: r.receivedMs });
}

/**
 * The registry's queries. Plain SQL on the `gateways` and `update_steps` tables; every
 * input is a parameter. Batched writes from ingest take one JSON parameter and expand it
 * with `jsonb_to_recordset`, the same on PGlite and PostgreSQL.
 */
export class GatewayStore {
  constructor(private readonly db: Queryable) {}

  /** Inserts a new gateway; false when the id exists already. */
  async insert(g: NewGateway): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO gateways (id, site, labels, created_ms, password_scrypt, password_mosquitto)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [g.id, g.site, jsonParam(g.labels), g.nowMs, g.passwordScrypt, g.passwordMosquitto],
    );
    return rows.length === 1;
  }

  /** New credentials for an existing gateway (re-provisioning); un-revokes it. False if unknown. */
  async replaceCredentials(id: string, passwordScrypt: string, passwordMosquitto: string): Promise<boolean> {
    const rows = await this.db.query('UPDATE gateways SET password_scrypt = $2, password_mosquitto = $3, revoked_ms = NULL WHERE id = $1 RETURNING id', [id, passwordScrypt, passwordMosquitto]);
    return rows.length === 1;
  }

  /** Sets site and labels of an existing gateway. False if unknown. */
  async setLabels(id: string, site: string, labels: Labels): Promise<boolean> {
    const rows = await this.db.query('UPDATE gateways SET site = $2, labels = $3::jsonb WHERE id = $1 RETURNING id', [id, site, jsonParam(labels)]);
    return rows.length === 1;
  }

  /** Marks the gateway revoked (idempotent: the first revocation time stays). False if unknown. */
  async revoke(id: string, nowMs: number): Promise<boolean> {
    const rows = await this.db.query('UPDATE gateways SET revoked_ms = COALESCE(revoked_ms, $2), online = false WHERE id = $1 RETURNING id', [id, nowMs]);
    return rows.length === 1;
  }

  async credentials(id: string): Promise<GatewayCredentials | undefined> {
    const rows = await this.db.query<{ id: string; password_scrypt: string; revoked_ms: number | null }>('SELECT id, password_scrypt, revoked_ms FROM gateways WHERE id = $1', [id]);
    const r = rows[0];
    return r === undefined ? undefined : { id: r.id, passwordScrypt: r.password_scrypt, revoked: r.revoked_ms !== null };
  }

  /** Every gateway with its Mosquitto hash and whether it is revoked (for `fleet acl`). */
  async mosquittoCredentials(): Promise<{ id: string; hash: string; revoked: boolean }[]> {
    const rows = await this.db.query<{ id: string; password_mosquitto: string; revoked_ms: number | null }>('SELECT id, password_mosquitto, revoked_ms FROM gateways ORDER BY id');
    return rows.map((r) => ({ id: r.id, hash: r.password_mosquitto, revoked: r.revoked_ms !== null }));
  }

  async exists(id: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM gateways WHERE id = $1', [id])).length === 1;
  }

  async get(id: string): Promise<GatewayDetail | undefined> {
    const rows = await this.db.query<SummaryRow & { health: Record<string, unknown> | null }>(`SELECT ${SUMMARY_COLUMNS}, g.health FROM gateways g WHERE g.id = $1`, [id]);
    const r = rows[0];
    if (r === undefined) return undefined;
    const steps = await this.db.query<{ model: string | null; target: string; release: number | null; version: string | null; step: string; outcome: string; reason: string | null; ts: number; received_ms: number; shadow: ShadowSummary | null }>(
      'SELECT model, target, release, version, step, outcome, reason, ts, received_ms, shadow FROM update_steps WHERE gateway_id = $1 ORDER BY seq DESC LIMIT $2',
      [id, UPDATE_STEPS_KEPT],
    );
    return {
      ...summary(r),
      healthReport: r.health,
      updateSteps: steps.map((s) => ({ model: s.model, target: s.target, release: s.release, version: s.version, step: s.step, outcome: s.outcome, reason: s.reason, ts: s.ts, receivedMs: s.received_ms, ...(s.shadow === null ? {} : { shadow: s.shadow }) })),
    };
  }

  private where(f: Omit<GatewayFilter, 'limit' | 'after'>, firstParam: number): { where: string; params: unknown[] } {
    const conds: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${firstParam + params.length - 1}`;
    };
    if (f.selector !== undefined && f.selector.length > 0) {
      const s = selectorSql(f.selector, 'g.labels', firstParam + params.length);
      conds.push(s.where);
      params.push(...s.params);
    }
    if (f.site !== undefined) conds.push(`g.site = ${p(f.site)}`);
    if (f.status !== undefined) conds.push(`(${STATUS_SQL}) = ${p(f.status)}`);
    if (f.model !== undefined) {
      if (f.release !== undefined) conds.push(`(g.releases -> ${p(f.model)} -> 'active' ->> 'release') = ${p(String(f.release))}`);
      else conds.push(`jsonb_typeof(g.releases -> ${p(f.model)} -> 'active') = 'object'`);
    }
    return { where: conds.length === 0 ? 'true' : conds.join(' AND '), params };
  }

  /** Gateways matching the filter, in id order, a page at a time. */
  async list(f: GatewayFilter): Promise<GatewaySummary[]> {
    const w = this.where(f, 1);
    const params = [...w.params];
    let where = w.where;
    if (f.after !== undefined) {
      params.push(f.after);
      where += ` AND g.id > $${params.length}`;
    }
    params.push(f.limit);
    const rows = await this.db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM gateways g WHERE ${where} ORDER BY g.id LIMIT $${params.length}`, params);
    return rows.map(summary);
  }

  /** These gateways (unknown ids are left out), in id order. */
  async byIds(ids: readonly string[]): Promise<GatewaySummary[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM gateways g WHERE g.id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY g.id`, [JSON.stringify(ids)]);
    return rows.map(summary);
  }

  /** Every gateway that is not revoked, with its labels (to plan a rollout). */
  async allActive(): Promise<{ id: string; labels: Labels }[]> {
    return this.db.query<{ id: string; labels: Labels }>('SELECT id, labels FROM gateways WHERE revoked_ms IS NULL ORDER BY id');
  }

  /** How many gateways match, per status. */
  async count(f: Omit<GatewayFilter, 'limit' | 'after' | 'status'> = {}): Promise<Record<GatewayStatus, number>> {
    const w = this.where(f, 1);
    const rows = await this.db.query<{ status: GatewayStatus; n: number }>(`SELECT ${STATUS_SQL} AS status, count(*) AS n FROM gateways g WHERE ${w.where} GROUP BY 1`, w.params);
    const out = Object.fromEntries(GATEWAY_STATUSES.map((s) => [s, 0])) as Record<GatewayStatus, number>;
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /**
   * Applies the latest state message of each gateway in the batch, in the order the broker
   * delivered them, whatever their `ts`: the Last Will was stamped when the gateway connected,
   * before its `online`, yet it is the newer news. (A broker keeps one retained state per
   * gateway and delivers a topic's messages in order, so arrival order is the truth.)
   */
  async applyStates(states: readonly { gw: string; online: boolean; clean: boolean; ts: number; runtimeVersion: string; receivedMs: number }[]): Promise<void> {
    if (states.length === 0) return;
    await this.db.query(
      `UPDATE gateways g SET online = x.online, state_clean = x.clean, state_ms = x.ts, runtime_version = x.runtime_version,
         last_seen_ms = GREATEST(COALESCE(g.last_seen_ms, 0), x.received_ms)
       FROM jsonb_to_recordset($1::jsonb) AS x(gw text, online boolean, clean boolean, ts bigint, runtime_version text, received_ms bigint)
       WHERE g.id = x.gw AND g.revoked_ms IS NULL`,
      [jsonParam(states.map((s) => ({ gw: s.gw, online: s.online, clean: s.clean, ts: s.ts, runtime_version: s.runtimeVersion, received_ms: s.receivedMs })))],
    );
  }

  /** Applies the latest health report of each gateway in the batch (newer `ts` wins). */
  async applyHealth(reports: readonly HealthUpdate[]): Promise<void> {
    await this.applyHealthRows(reports.map(healthRow));
  }

  /**
   * `applyHealth` for reports already made into rows (`healthRow`), at most one per gateway:
   * ingest makes the row when the report comes in, so what waits for the commit is one string.
   */
  async applyHealthRows(rows: readonly string[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `UPDATE gateways g SET health_status = x.status, health_reasons = x.reasons, health = x.report, health_ms = x.ts,
         runtime_version = x.runtime_version, hardware = COALESCE(x.hardware, g.hardware), releases = COALESCE(x.releases, g.releases),
         last_seen_ms = GREATEST(COALESCE(g.last_seen_ms, 0), x.received_ms)
       FROM jsonb_to_recordset($1::jsonb) AS x(gw text, ts bigint, status text, reasons jsonb, runtime_version text, hardware jsonb, releases jsonb, report jsonb, received_ms bigint)
       WHERE g.id = x.gw AND g.revoked_ms IS NULL AND (g.health_ms IS NULL OR g.health_ms <= x.ts)`,
      [`[${rows.join(',')}]`],
    );
  }

  /** Appends update steps (in the order given) and keeps the newest UPDATE_STEPS_KEPT per gateway. */
  async addUpdateSteps(steps: readonly ({ gw: string } & UpdateStep)[]): Promise<void> {
    if (steps.length === 0) return;
    await this.db.query(
      `INSERT INTO update_steps (gateway_id, model, target, release, version, step, outcome, reason, ts, received_ms, shadow)
       SELECT x.gw, x.model, x.target, x.release, x.version, x.step, x.outcome, x.reason, x.ts, x.received_ms, x.shadow
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (gw text, model text, target text, release bigint, version text, step text, outcome text, reason text, ts bigint, received_ms bigint, shadow jsonb))
         WITH ORDINALITY AS x(gw, model, target, release, version, step, outcome, reason, ts, received_ms, shadow, n)
       WHERE EXISTS (SELECT 1 FROM gateways g WHERE g.id = x.gw)
       ORDER BY x.n`,
      [jsonParam(steps.map((s) => ({ gw: s.gw, model: s.model, target: s.target, release: s.release, version: s.version, step: s.step, outcome: s.outcome, reason: s.reason, ts: s.ts, received_ms: s.receivedMs, shadow: s.shadow ?? null })))],
    );
    const gws = [...new Set(steps.map((s) => s.gw))];
    await this.db.query(
      `DELETE FROM update_steps u USING (SELECT jsonb_array_elements_text($1::jsonb) AS gw) x
       WHERE u.gateway_id = x.gw AND u.seq <= (SELECT seq FROM update_steps v WHERE v.gateway_id = x.gw ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
      [JSON.stringify(gws), UPDATE_STEPS_KEPT],
    );
  }

  /** Counts telemetry records per gateway (telemetry is counted, not stored). */
  async countTelemetry(counts: readonly { gw: string; records: number; lastMs: number }[]): Promise<void> {
    if (counts.length === 0) return;
    await this.db.query(
      `UPDATE gateways g SET telemetry_records = g.telemetry_records + x.records, telemetry_last_ms = GREATEST(COALESCE(g.telemetry_last_ms, 0), x.last_ms)
       FROM jsonb_to_recordset($1::jsonb) AS x(gw text, records bigint, last_ms bigint) WHERE g.id = x.gw`,
      [jsonParam(counts.map((c) => ({ gw: c.gw, records: c.records, last_ms: Math.round(c.lastMs) })))],
    );
  }

  /**
   * Marks every gateway offline: for a fleet starting its embedded broker, where nobody can
   * be connected yet (the state each gateway reports on connecting sets it again).
   */
  async markAllOffline(): Promise<void> {
    await this.db.query('UPDATE gateways SET online = false WHERE online');
  }

  /** Records traffic from a gateway (any message): it was there at this time. */
  async touch(seen: readonly { gw: string; receivedMs: number }[]): Promise<void> {
    if (seen.length === 0) return;
    await this.db.query(
      `UPDATE gateways g SET last_seen_ms = GREATEST(COALESCE(g.last_seen_ms, 0), x.received_ms)
       FROM jsonb_to_recordset($1::jsonb) AS x(gw text, received_ms bigint) WHERE g.id = x.gw`,
      [jsonParam(seen.map((s) => ({ gw: s.gw, received_ms: s.receivedMs })))],
    );
  }
}
