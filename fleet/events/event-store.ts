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
  /** Events whose gateway timestamp is older than this are deleted. */
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

export class EventStore {
  constructor(private readonly db: Queryable) {}

  /** Stores events; one already stored (same gateway and record id) is left as it is. Returns how many of each kind were new. */
  async insert(events: readonly StoredEvent[]): Promise<Partial<Record<EventKind, number>>> {
    const stored: Partial<Record<EventKind, number>> = {};
    if (events.length === 0) return stored;
    const rows = await this.db.query<{ kind: EventKind }>(
      `INSERT INTO events (gateway_id, record_id, kind, class, stream, model, ts, received_ms, data)
       SELECT x.gateway_id, x.record_id, x.kind, x.class, x.stream, x.model, x.ts, x.received_ms, x.data
       FROM jsonb_to_recordset($1::jsonb) AS x(gateway_id text, record_id text, kind text, class text, stream text, model text, ts double precision, received_ms bigint, data jsonb)
       ON CONFLICT (gateway_id, record_id) DO NOTHING RETURNING kind`,
      [jsonParam(events.map((e) => ({ gateway_id: e.gatewayId, record_id: e.recordId, kind: e.kind, class: e.class, stream: e.stream, model: e.model, ts: Math.floor(e.ts), received_ms: e.receivedMs, data: e.data })))],
    );
    for (const r of rows) stored[r.kind] = (stored[r.kind] ?? 0) + 1;
    return stored;
  }

  async query(q: EventQuery): Promise<StoredEvent[]> {
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
    const rows = await this.db.query<EventRow>(
      `SELECT gateway_id, record_id, kind, class, stream, model, ts, received_ms, data FROM events
       WHERE ${conds.length === 0 ? 'true' : conds.join(' AND ')} ORDER BY ts DESC, gateway_id DESC, record_id DESC LIMIT ${p(q.limit)}`,
      params,
    );
    return rows.map((r) => ({ gatewayId: r.gateway_id, recordId: r.record_id, kind: r.kind, class: r.class, stream: r.stream, model: r.model, ts: r.ts, receivedMs: r.received_ms, data: r.data }));
  }

  async count(): Promise<number> {
    const rows = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM events');
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Enforces the retention policy: deletes events older than the age limit, then the oldest
   * beyond the count limit. Returns how many went.
   */
  async sweep(policy: RetentionPolicy, nowMs: number): Promise<number> {
    const old = await this.db.query('DELETE FROM events WHERE ts < $1 RETURNING 1', [nowMs - policy.maxAgeMs]);
    const excess = await this.db.query(
      `DELETE FROM events e USING (SELECT gateway_id, record_id FROM events ORDER BY ts DESC OFFSET $1) x
       WHERE e.gateway_id = x.gateway_id AND e.record_id = x.record_id RETURNING 1`,
      [policy.maxEvents],
    );
    return old.length + excess.length;
  }
}
