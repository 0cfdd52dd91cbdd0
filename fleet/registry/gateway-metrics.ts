import type { Queryable } from '../db/open-database.js';
import { jsonParam } from '../db/json.js';

/** One sample of a gateway's health report; counters are totals since the gateway's process started. */
export interface GatewayMetricsSample {
  /** When the fleet received the report (its clock, milliseconds since 1970). */
  readonly ts: number;
  readonly status: string;
  readonly rssBytes: number | null;
  /** Bytes and records in the gateway's outbox, every class. */
  readonly storeBytes: number | null;
  readonly storeRecords: number | null;
  readonly publishedRecords: number | null;
  readonly ackedRecords: number | null;
  readonly inFlightMessages: number | null;
  /** Records the gateway lost: evicted from its outbox over budget, refused by it, dropped at full pipeline queues or by sources. */
  readonly droppedRecords: number | null;
  readonly uplinkConnected: boolean | null;
}

/** At most one sample per gateway this often (by the fleet's clock). */
export const METRICS_SAMPLE_INTERVAL_MS = 60_000;
/** Kept this long by default (`edgewise fleet --metrics-retention-hours`). */
export const METRICS_RETENTION_MS = 24 * 3_600_000;
/** And at most this many per gateway, the oldest going first (a day of samples, and some). */
export const METRICS_KEPT_PER_GATEWAY = 1500;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A count the database's bigint holds, or null: reports are checked only for what the fleet acts on, the rest is as the gateway sent it. */
function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER ? Math.round(v) : null;
}

/** The sum of an object's counts (`store.bytes` per record class), or null when it holds none. */
function sum(v: unknown): number | null {
  if (!isObject(v)) return null;
  let total: number | null = null;
  for (const x of Object.values(v)) {
    const n = count(x);
    if (n !== null) total = (total ?? 0) + n;
  }
  return total === null ? null : Math.min(total, Number.MAX_SAFE_INTEGER);
}

function add(...parts: (number | null)[]): number | null {
  const known = parts.filter((p): p is number => p !== null);
  return known.length === 0 ? null : Math.min(known.reduce((a, b) => a + b, 0), Number.MAX_SAFE_INTEGER);
}

/**
 * What a sample keeps of a health report (fleet/protocol/health.ts `HealthReport`), read from
 * the JSON as it came: a field missing or not a count is null, never an error (the report's
 * own checks are `decodeHealth`'s).
 */
export function metricsSample(report: Readonly<Record<string, unknown>>, status: string, receivedMs: number): GatewayMetricsSample {
  const store = isObject(report['store']) ? report['store'] : {};
  const uplink = isObject(report['uplink']) ? report['uplink'] : {};
  const pipelines = Array.isArray(report['pipelines']) ? report['pipelines'] : [];
  const sources = Array.isArray(report['sources']) ? report['sources'] : [];
  const edgeDrops = pipelines.flatMap((p) => (isObject(p) && Array.isArray(p['edges']) ? p['edges'] : [])).map((e) => (isObject(e) ? count(e['dropped']) : null));
  const sourceDrops = sources.map((s) => (isObject(s) ? count(s['dropped']) : null));
  return {
    ts: receivedMs,
    status,
    rssBytes: count(report['rssBytes']),
    storeBytes: sum(store['bytes']),
    storeRecords: sum(store['records']),
    publishedRecords: count(uplink['publishedRecords']),
    ackedRecords: count(uplink['ackedRecords']),
    inFlightMessages: count(uplink['inFlightMessages']),
    droppedRecords: add(sum(store['evicted']), count(store['rejected']), ...edgeDrops, ...sourceDrops),
    uplinkConnected: typeof uplink['connected'] === 'boolean' ? uplink['connected'] : null,
  };
}

/** One sample as a row of `GatewayMetricsStore.addRows`: a JSON object, made safe for jsonb. */
export function metricsRow(gw: string, s: GatewayMetricsSample): string {
  return jsonParam({
    gw, ts: s.ts, status: s.status, rss_bytes: s.rssBytes, store_bytes: s.storeBytes, store_records: s.storeRecords, published_records: s.publishedRecords,
    acked_records: s.ackedRecords, in_flight_messages: s.inFlightMessages, dropped_records: s.droppedRecords, uplink_connected: s.uplinkConnected,
  });
}

interface SampleRow {
  ts: number;
  status: string;
  rss_bytes: number | null;
  store_bytes: number | null;
  store_records: number | null;
  published_records: number | null;
  acked_records: number | null;
  in_flight_messages: number | null;
  dropped_records: number | null;
  uplink_connected: boolean | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The `gateway_metrics` table: samples of health reports, for charts. */
export class GatewayMetricsStore {
  constructor(private readonly db: Queryable) {}

  /**
   * Adds samples (rows from `metricsRow`), each only if its gateway has none from the last
   * `intervalMs` (METRICS_SAMPLE_INTERVAL_MS by default): the interval holds across fleet
   * restarts and instances.
   */
  async addRows(rows: readonly string[], intervalMs = METRICS_SAMPLE_INTERVAL_MS): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `INSERT INTO gateway_metrics (gateway_id, ts, status, rss_bytes, store_bytes, store_records, published_records, acked_records, in_flight_messages, dropped_records, uplink_connected)
       SELECT x.gw, x.ts, x.status, x.rss_bytes, x.store_bytes, x.store_records, x.published_records, x.acked_records, x.in_flight_messages, x.dropped_records, x.uplink_connected
       FROM jsonb_to_recordset($1::jsonb) AS x(gw text, ts bigint, status text, rss_bytes bigint, store_bytes bigint, store_records bigint, published_records bigint,
         acked_records bigint, in_flight_messages bigint, dropped_records bigint, uplink_connected boolean)
       WHERE EXISTS (SELECT 1 FROM gateways g WHERE g.id = x.gw AND g.revoked_ms IS NULL)
         AND NOT EXISTS (SELECT 1 FROM gateway_metrics m WHERE m.gateway_id = x.gw AND m.ts > x.ts - $2)
       ON CONFLICT (gateway_id, ts) DO NOTHING`,
      [`[${rows.join(',')}]`, intervalMs],
    );
  }

  /** A gateway's samples in [from, to), oldest first: the newest `limit` of them. */
  async list(gatewayId: string, q: { readonly fromMs?: number; readonly toMs?: number; readonly limit: number }): Promise<GatewayMetricsSample[]> {
    const rows = await this.db.query<SampleRow>(
      `SELECT ts, status, rss_bytes, store_bytes, store_records, published_records, acked_records, in_flight_messages, dropped_records, uplink_connected
       FROM gateway_metrics WHERE gateway_id = $1 AND ($2::bigint IS NULL OR ts >= $2) AND ($3::bigint IS NULL OR ts < $3) ORDER BY ts DESC LIMIT $4`,
      [gatewayId, q.fromMs ?? null, q.toMs ?? null, q.limit],
    );
    return rows.reverse().map((r) => ({
      ts: Number(r.ts),
      status: r.status,
      rssBytes: num(r.rss_bytes),
      storeBytes: num(r.store_bytes),
      storeRecords: num(r.store_records),
      publishedRecords: num(r.published_records),
      ackedRecords: num(r.acked_records),
      inFlightMessages: num(r.in_flight_messages),
      droppedRecords: num(r.dropped_records),
      uplinkConnected: r.uplink_connected,
    }));
  }

  /** Deletes samples received longer ago than `maxAgeMs`, and each gateway's beyond its newest `keptPerGateway`. Returns how many went. */
  async sweep(maxAgeMs: number, nowMs: number, keptPerGateway = METRICS_KEPT_PER_GATEWAY): Promise<number> {
    const old = await this.db.query('DELETE FROM gateway_metrics WHERE ts < $1 RETURNING 1', [nowMs - maxAgeMs]);
    const excess = await this.db.query(
      `DELETE FROM gateway_metrics m USING (
         SELECT gateway_id, ts, row_number() OVER (PARTITION BY gateway_id ORDER BY ts DESC) AS n FROM gateway_metrics) x
       WHERE m.gateway_id = x.gateway_id AND m.ts = x.ts AND x.n > $1 RETURNING 1`,
      [keptPerGateway],
    );
    return old.length + excess.length;
  }
}
