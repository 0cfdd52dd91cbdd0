import type { Queryable } from '../db/open-database.js';
import { jsonParam } from '../db/json.js';

/**
 * What the fleet keeps of the records gateways send: alerts (class `alert`), events (a
 * `result` whose data names an `event`: a vision defect, a part entering a zone) and
 * summaries (other results: an anomaly score summary, an aggregate). Telemetry is counted
 * per gateway, never stored here.
 */
export type EventKind = 'alert' | 'event' | 'summary';
export const EVENT_KINDS: readonly EventKind[] = ['alert', 'event', 'summary'];

export interface StoredEvent {
  readonly gatewayId: string;
  readonly recordId: string;
  readonly kind: EventKind;
  readonly class: string;
  readonly stream: string;
  /** The model named in the record's data (`data.model.name`), if any. */
  readonly model: string | null;
  readonly ts: number;
  readonly receivedMs: number;
  readonly data: unknown;
}

export interface EventQuery {
  readonly gatewayId?: string;
  readonly kind?: EventKind;
  readonly model?: string;
  readonly stream?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  /** Keyset pagination, newest first: events strictly older than this (ts, gateway, record). */
  readonly before?: { readonly ts: number; readonly gatewayId: string; readonly recordId: string };
  readonly limit: number;
}

export interface RetentionPolicy {
  /** Events received longer ago than this are deleted. */
  readonly maxAgeMs: number;
  /** And at most this many are kept (the oldest go first). */
  readonly maxEvents: number;
}

interface EventRow {
  gateway_id: string;
  record_id: string;
  kind: EventKind;
  class: string;
  stream: string;
  model: string | null;
  ts: number;
  received_ms: number;
  data: unknown;
}

function toEvent(r: EventRow): StoredEvent {
  return { gatewayId: r.gateway_id, recordId: r.record_id, kind: r.kind, class: r.class, stream: r.stream, model: r.model, ts: r.ts, receivedMs: r.received_ms, data: r.data };
}

const INSERT_EVENTS = `INSERT INTO events (gateway_id, record_id, kind, class, stream, model, ts, received_ms, data, data_bytes)
       SELECT x.gateway_id, x.record_id, x.kind, x.class, x.stream, x.model, x.ts, x.received_ms, x.data, pg_column_size(x.data)
       FROM jsonb_to_recordset($1::jsonb) AS x(gateway_id text, record_id text, kind text, class text, stream text, model text, ts double precision, received_ms bigint, data jsonb)
       ON CONFLICT (gateway_id, record_id) DO NOTHING RETURNING kind, gateway_id, record_id`;

/** What the insert returns of each event it stored (not of one stored before). */
export interface InsertedEvent {
  readonly kind: EventKind;
  readonly gateway_id: string;
  readonly record_id: string;
}

/** One event as a row of `EventStore.insertRows`: a JSON object, made safe for jsonb (`jsonParam`). */
export function eventRow(e: StoredEvent): string {
  return jsonParam({ gateway_id: e.gatewayId, record_id: e.recordId, kind: e.kind, class: e.class, stream: e.stream, model: e.model, ts: Math.floor(e.ts), received_ms: e.receivedMs, data: e.data });
}

export class EventStore {
  constructor(private readonly db: Queryable) {}

  /** Stores events; one already stored (same gateway and record id) is left as it is. Returns how many of each kind were new. */
  async insert(events: readonly StoredEvent[]): Promise<Partial<Record<EventKind, number>>> {
    return this.insertRows(events.map(eventRow));
  }

  /**
   * `insert` for events already made into rows (`eventRow`): ingest makes each row when the
   * message comes in, so what waits for the commit is one string, not the decoded record.
   */
  async insertRows(rows: readonly string[]): Promise<Partial<Record<EventKind, number>>> {
    const stored: Partial<Record<EventKind, number>> = {};
    if (rows.length === 0) return stored;
    const inserted = await this.db.query<InsertedEvent>(INSERT_EVENTS, [`[${rows.join(',')}]`]);
    for (const r of inserted) stored[r.kind] = (stored[r.kind] ?? 0) + 1;
    return stored;
  }

  /**
   * A page of events, newest first: at most `q.limit`, and no more than `maxBytes` of their
   * data (at least one event): a page of vision crops must not take the fleet's memory or hold
   * the database for seconds. `more` says whether events remain after the page.
   */
  async page(q: EventQuery, maxBytes = 8 * 1024 * 1024): Promise<{ items: StoredEvent[]; more: boolean }> {
    const { where, params } = this.where(q);
    // Sizes first (kept beside the data, so no data is read), then the data of the events that fit.
    const sizes = await this.db.query<{ gateway_id: string; record_id: string; bytes: number }>(
      `SELECT gateway_id, record_id, data_bytes AS bytes FROM events WHERE ${where} ORDER BY ts DESC, gateway_id DESC, record_id DESC LIMIT $${params.length + 1}`,
      [...params, q.limit + 1],
    );
    let total = 0;
    let n = 0;
    for (const r of sizes.slice(0, q.limit)) {
      if (n > 0 && total + Number(r.bytes) > maxBytes) break;
      total += Number(r.bytes);
      n += 1;
    }
    const keys = sizes.slice(0, n).map((r) => ({ gw: r.gateway_id, id: r.record_id }));
    if (keys.length === 0) return { items: [], more: false };
    const rows = await this.db.query<EventRow>(
      `SELECT e.gateway_id, e.record_id, e.kind, e.class, e.stream, e.model, e.ts, e.received_ms, e.data
       FROM events e JOIN jsonb_to_recordset($1::jsonb) AS k(gw text, id text) ON e.gateway_id = k.gw AND e.record_id = k.id
       ORDER BY e.ts DESC, e.gateway_id DESC, e.record_id DESC`,
      [JSON.stringify(keys)],
    );
    return { items: rows.map(toEvent), more: sizes.length > n };
  }

  /**
   * These events (unknown keys left out), in the order given: what the live stream sends of
   * the events just committed. At most `maxBytes` of their data (at least one event); `more`
   * says that some were left out for it.
   */
  async byKeys(keys: readonly { readonly gatewayId: string; readonly recordId: string }[], maxBytes = 8 * 1024 * 1024): Promise<{ items: StoredEvent[]; more: boolean }> {
    if (keys.length === 0) return { items: [], more: false };
    const param = JSON.stringify(keys.map((k, n) => ({ gw: k.gatewayId, id: k.recordId, n })));
    const sizes = await this.db.query<{ gateway_id: string; record_id: string; bytes: number }>(
      `SELECT e.gateway_id, e.record_id, e.data_bytes AS bytes FROM events e JOIN jsonb_to_recordset($1::jsonb) AS k(gw text, id text, n integer) ON e.gateway_id = k.gw AND e.record_id = k.id ORDER BY k.n`,
      [param],
    );
    let total = 0;
    let n = 0;
    for (const r of sizes) {
      if (n > 0 && total + Number(r.bytes) > maxBytes) break;
      total += Number(r.bytes);
      n += 1;
    }
    const fit = sizes.slice(0, n).map((r, i) => ({ gw: r.gateway_id, id: r.record_id, n: i }));
    if (fit.length === 0) return { items: [], more: false };
    const rows = await this.db.query<EventRow>(
      `SELECT e.gateway_id, e.record_id, e.kind, e.class, e.stream, e.model, e.ts, e.received_ms, e.data
       FROM events e JOIN jsonb_to_recordset($1::jsonb) AS k(gw text, id text, n integer) ON e.gateway_id = k.gw AND e.record_id = k.id ORDER BY k.n`,
      [JSON.stringify(fit)],
    );
    return { items: rows.map(toEvent), more: sizes.length > n };
  }

  private where(q: Omit<EventQuery, 'limit'>): { where: string; params: unknown[] } {
    const conds: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.gatewayId !== undefined) conds.push(`gateway_id = ${p(q.gatewayId)}`);
    if (q.kind !== undefined) conds.push(`kind = ${p(q.kind)}`);
    if (q.model !== undefined) conds.push(`model = ${p(q.model)}`);
    if (q.stream !== undefined) conds.push(`stream = ${p(q.stream)}`);
    if (q.fromMs !== undefined) conds.push(`ts >= ${p(q.fromMs)}`);
    if (q.toMs !== undefined) conds.push(`ts < ${p(q.toMs)}`);
    if (q.before !== undefined) conds.push(`(ts, gateway_id, record_id) < (${p(q.before.ts)}, ${p(q.before.gatewayId)}, ${p(q.before.recordId)})`);
    return { where: conds.length === 0 ? 'true' : conds.join(' AND '), params };
  }

  async query(q: EventQuery): Promise<StoredEvent[]> {
    const { where, params } = this.where(q);
    const rows = await this.db.query<EventRow>(
      `SELECT gateway_id, record_id, kind, class, stream, model, ts, received_ms, data FROM events
       WHERE ${where} ORDER BY ts DESC, gateway_id DESC, record_id DESC LIMIT $${params.length + 1}`,
      [...params, q.limit],
    );
    return rows.map(toEvent);
  }

  async count(): Promise<number> {
    const rows = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM events');
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Enforces the retention policy: deletes events received longer ago than the age limit,
   * then the earliest received beyond the count limit. By the fleet's clock, not the
   * gateway's: an alert from a gateway whose clock says 1970 is kept as long as any other.
   * Returns how many went.
   */
  async sweep(policy: RetentionPolicy, nowMs: number): Promise<number> {
    const old = await this.db.query('DELETE FROM events WHERE received_ms < $1 RETURNING 1', [nowMs - policy.maxAgeMs]);
    const excess = await this.db.query(
      `DELETE FROM events e USING (SELECT gateway_id, record_id FROM events ORDER BY received_ms DESC, ts DESC OFFSET $1) x
       WHERE e.gateway_id = x.gateway_id AND e.record_id = x.record_id RETURNING 1`,
      [policy.maxEvents],
    );
    return old.length + excess.length;
  }
}
