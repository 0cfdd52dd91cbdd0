import { DatabaseError, StatementRecorder, type Sql } from '../db/open-database.js';
import type { ChangeFeed } from '../events/change-feed.js';
import { EventStore, eventRow, type InsertedEvent } from '../events/event-store.js';
import type { FleetMetrics, IngestDrop } from '../metrics.js';
import { ProtocolError, TOPIC_ROOT, decodeBatch, decodeHealth, decodeState, decodeUpdateReport, isGatewayId, type UpdateReportMessage } from '../protocol/index.js';
import { GatewayMetricsStore, METRICS_SAMPLE_INTERVAL_MS, metricsRow, metricsSample } from '../registry/gateway-metrics.js';
import { GatewayStore, healthRow } from '../registry/gateway-store.js';
import { eventKind, recordModel } from './classify.js';
import { GroupCommit, type IngestOverloaded } from './group-commit.js';

/**
 * What a gateway message became after decoding: one unit of a group commit. Events and health
 * reports are made into their database rows (JSON text) right away: what waits for the commit
 * is a string, not the decoded message's objects (thousands of messages wait at a time, and
 * objects that live that long are what made the garbage collector work). `tracked`: handed in
 * through `accept` (counted as queued, and in the lag), not a deferred health report.
 */
type Work = { readonly gw: string; readonly receivedMs: number; readonly tracked: boolean } & (
  | { readonly kind: 'records'; readonly events: readonly string[]; readonly telemetry: number; readonly lastTelemetryMs: number }
  | { readonly kind: 'state'; readonly online: boolean; readonly clean: boolean; readonly ts: number; readonly runtimeVersion: string }
  | { readonly kind: 'health'; readonly ts: number; readonly row: string; readonly sample: string | null }
  | { readonly kind: 'update-report'; readonly report: UpdateReportMessage }
);

export type GatewayMessageKind = Work['kind'];
type HealthWork = Extract<Work, { kind: 'health' }>;

/** The answer to a message that needs no commit (dropped, or a health report kept for later). */
const DONE: Promise<void> = Promise.resolve();
const KINDS: readonly GatewayMessageKind[] = ['records', 'state', 'health', 'update-report'];

export interface IngestOptions {
  /** Messages per database transaction at most. */
  readonly maxBatch?: number;
  /** Payload bytes waiting for a commit at most; past it messages are refused (not acknowledged). */
  readonly maxPendingBytes?: number;
  /**
   * A gateway's health report is written at most this often; in between, the newest waits in
   * memory, as the bytes it came in (it is checked when it is written: an earlier one that
   * the newest replaced never costs a parse), and is written once this much has passed since
   * the last write (looked at four times per interval). Health is a latest-value report that
   * the gateway sends again on every connect, so a fleet crash loses nothing it would not
   * resend, and the registry is at most this much (and a quarter of it) behind. 0 writes every report.
   */
  readonly healthWriteIntervalMs?: number;
  /**
   * A gateway's health reports are sampled for the console's charts at most this often
   * (default METRICS_SAMPLE_INTERVAL_MS, a minute; `gateway_metrics` keeps METRICS_KEPT_PER_GATEWAY
   * per gateway, so a shorter interval covers a shorter span).
   */
  readonly metricsIntervalMs?: number;
  /** Called after a commit that stored update reports (the rollout driver looks at them at once). */
  readonly onUpdateReports?: () => void;
  /** Told after each commit which gateways' summaries changed and which alerts and events were stored (the live stream). */
  readonly changes?: ChangeFeed;
}

/** `last_seen_ms` is refreshed at most this often per gateway (each refresh is a row update). */
const TOUCH_INTERVAL_MS = 5_000;
/** Per-gateway bookkeeping kept at most (more gateways than this and it starts afresh). */
const MAX_TRACKED_GATEWAYS = 100_000;

/** Bytes of health reports waiting at most; past it reports are written as they come. */
const MAX_DEFERRED_HEALTH_BYTES = 16 * 1024 * 1024;

export interface IngestStats {
  readonly queued: number;
  readonly lastCommitMs: number | null;
  readonly lastError: string | null;
  readonly lastErrorMs: number | null;
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity): the statement's values, not the database, were the problem. */
function refusedForContent(err: unknown): boolean {
  const state = (err as DatabaseError).sqlState;
  return err instanceof DatabaseError && state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** Milliseconds since 1970 that fit the database's bigint columns. */
function checkMs(ts: number, what: string): number {
  if (!Number.isFinite(ts) || ts < 0 || ts > 8.64e15) throw new ProtocolError('E_PAYLOAD_INVALID', `${what}.ts: expected milliseconds since 1970, got ${ts}`);
  return Math.round(ts);
}

/** Parses `edgewise/v1/gw/{gw}/{kind}` for the kinds ingest takes. */
export function parseIngestTopic(topic: string): { gw: string; kind: GatewayMessageKind } | undefined {
  const prefix = `${TOPIC_ROOT}/gw/`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2) return undefined;
  const [gw, kind] = rest as [string, string];
  if (!isGatewayId(gw) || !(KINDS as readonly string[]).includes(kind)) return undefined;
  return { gw, kind: kind as GatewayMessageKind };
}

/**
 * Takes every message gateways publish (records, state, health, update reports), checks
 * it, and commits what it means to the database: alerts, events and summaries stored once
 * per (gateway, record id), telemetry counted, the registry's view of each gateway updated.
 *
 * `accept` resolves only after the commit, so a caller that acknowledges the message then
 * (the embedded broker's PUBACK) never acknowledges something a crash could lose. A message
 * that is not valid resolves at once and is counted as dropped: acknowledging it is right,
 * since sending it again would not make it valid. A database failure rejects: the message
 * is not acknowledged and comes again.
 */
export class Ingest {
  private readonly commits: GroupCommit<Work>;
  private readonly gateways: GatewayStore;
  private readonly events: EventStore;
  private lastCommitMs: number | null = null;
  private lastError: string | null = null;
  private lastErrorMs: number | null = null;
  private readonly healthWriteIntervalMs: number;
  private readonly metricsIntervalMs: number;
  /**
   * Per gateway: when its last health report was handed to a commit. Set when it is queued,
   * not when its commit ends: the reports that come while it is being written wait in memory
   * too, instead of each being decoded and queued behind it (a gateway with 16 messages in
   * flight sends several at once).
   */
  private readonly healthWritten = new Map<string, number>();
  /** Per gateway: the newest health report waiting for its next write, undecoded. */
  private readonly deferredHealth = new Map<string, { readonly payload: Uint8Array; readonly receivedMs: number }>();
  private deferredBytes = 0;
  /**
   * Per gateway: when its last metrics sample was handed to a commit (one a minute is kept for
   * the console's charts; the insert checks the interval again in SQL, across restarts).
   */
  private readonly metricsSampled = new Map<string, number>();
  /** Per gateway: the last `last_seen_ms` refresh handed to a commit. */
  private readonly touched = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout | undefined;
  private readonly changes: ChangeFeed | undefined;

  /** See IngestOptions.onUpdateReports; settable after construction (the driver is made later). */
  onUpdateReports: (() => void) | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly metrics: FleetMetrics,
    options: IngestOptions = {},
  ) {
    this.onUpdateReports = options.onUpdateReports;
    this.changes = options.changes;
    this.gateways = new GatewayStore(sql);
    this.events = new EventStore(sql);
    // Two writes under way: the next batch is built while the database commits the last.
    this.commits = new GroupCommit<Work>({
      write: (batch) =>
        this.write(batch).then(
          () => this.settled(batch, true),
          (err: unknown) => {
            this.settled(batch, false);
            throw err;
          },
        ),
      maxBatch: options.maxBatch ?? 2000,
      maxPendingBytes: options.maxPendingBytes ?? 64 * 1024 * 1024,
      concurrency: 2,
    });
    this.healthWriteIntervalMs = options.healthWriteIntervalMs ?? 1000;
    this.metricsIntervalMs = options.metricsIntervalMs ?? METRICS_SAMPLE_INTERVAL_MS;
    if (this.healthWriteIntervalMs > 0) {
      // A waiting report is written once its gateway's interval has passed: looking four times
      // per interval, it waits at most a quarter interval longer than that.
      this.flushTimer = setInterval(() => void this.flushDeferredHealth(false), Math.max(1, Math.floor(this.healthWriteIntervalMs / 4)));
      this.flushTimer.unref();
    }
  }

  /**
   * Checks the waiting health reports and hands them to the next commit: those of gateways
   * whose health was last written at least an interval ago, or (`all`) every one.
   */
  private flushDeferredHealth(all: boolean): Promise<void> {
    const now = Date.now();
    const commits: Promise<void>[] = [];
    const refused: [string, { readonly payload: Uint8Array; readonly receivedMs: number }][] = [];
    for (const [gw, deferred] of this.deferredHealth) {
      const last = this.healthWritten.get(gw);
      if (!all && last !== undefined && now - last < this.healthWriteIntervalMs) continue;
      this.deferredHealth.delete(gw);
      this.deferredBytes -= deferred.payload.byteLength;
      const work = this.decodeOrDrop(gw, 'health', deferred.payload, deferred.receivedMs, false);
      if (work === undefined) continue;
      const queued = this.enqueue(work, deferred.payload.byteLength);
      // A failed write shows in stats and /health; the gateway sends health again.
      if (queued instanceof Promise) commits.push(queued.catch(() => undefined));
      else refused.push([gw, deferred]);
    }
    // Ingest is full: these wait for a later look, unless a newer one came meanwhile.
    for (const [gw, deferred] of refused) {
      if (this.deferredHealth.has(gw) || this.deferredBytes + deferred.payload.byteLength > MAX_DEFERRED_HEALTH_BYTES) continue;
      this.deferredHealth.set(gw, deferred);
      this.deferredBytes += deferred.payload.byteLength;
    }
    return Promise.all(commits).then(() => undefined);
  }

  /** Keeps this report for the next write when the gateway's health was written (or queued) lately. */
  private deferHealth(gw: string, payload: Uint8Array, receivedMs: number): boolean {
    if (this.healthWriteIntervalMs <= 0) return false;
    const last = this.healthWritten.get(gw);
    if (last === undefined || receivedMs - last >= this.healthWriteIntervalMs) return false;
    const prev = this.deferredHealth.get(gw);
    const bytes = this.deferredBytes - (prev?.payload.byteLength ?? 0) + payload.byteLength;
    if (bytes > MAX_DEFERRED_HEALTH_BYTES) return false;
    this.deferredHealth.set(gw, { payload, receivedMs });
    this.deferredBytes = bytes;
    return true;
  }

  private decodeOrDrop(gw: string, kind: GatewayMessageKind, payload: Uint8Array, receivedMs: number, tracked: boolean): Work | undefined {
    try {
      return this.decode(gw, kind, payload, receivedMs, tracked);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.drop(kind, err.code === 'E_PAYLOAD_TOO_LARGE' ? 'too-large' : err.code === 'E_PAYLOAD_DECODE' ? 'decode' : 'invalid');
      return undefined;
    }
  }

  /** Hands decoded work to the group commit, or says why ingest refuses it now. */
  private enqueue(work: Work, bytes: number): Promise<void> | IngestOverloaded {
    const refused = this.commits.refusal(bytes);
    if (refused !== undefined) return refused;
    if (work.kind === 'health') {
      if (this.healthWritten.size > MAX_TRACKED_GATEWAYS) this.healthWritten.clear();
      this.healthWritten.set(work.gw, Date.now());
      if (work.sample !== null) {
        if (this.metricsSampled.size > MAX_TRACKED_GATEWAYS) this.metricsSampled.clear();
        this.metricsSampled.set(work.gw, work.receivedMs);
      }
      // A report waiting from before this newer one is superseded by it.
      const older = this.deferredHealth.get(work.gw);
      if (older !== undefined && older.receivedMs <= work.receivedMs) {
        this.deferredHealth.delete(work.gw);
        this.deferredBytes -= older.payload.byteLength;
      }
    }
    if (work.tracked) this.metrics.ingestQueued.inc();
    return this.commits.add(work, bytes);
  }

  /** A batch's write ended: the queue gauge, the lag, and health reports to write again after a failure. */
  private settled(batch: readonly Work[], ok: boolean): void {
    const now = Date.now();
    let tracked = 0;
    let reports = false;
    for (const w of batch) {
      if (w.kind === 'update-report') reports = true;
      if (w.tracked) {
        tracked += 1;
        if (ok) this.metrics.ingestLag.observe((now - w.receivedMs) / 1000);
      }
      // Not written: the gateway's next report goes straight to a commit again (and is sampled).
      if (!ok && w.kind === 'health') {
        this.healthWritten.delete(w.gw);
        if (w.sample !== null && this.metricsSampled.get(w.gw) === w.receivedMs) this.metricsSampled.delete(w.gw);
      }
    }
    if (tracked > 0) this.metrics.ingestQueued.dec(tracked);
    if (ok && reports) this.onUpdateReports?.();
  }

  stats(): IngestStats {
    return { queued: this.commits.queued, lastCommitMs: this.lastCommitMs, lastError: this.lastError, lastErrorMs: this.lastErrorMs };
  }

  /**
   * One message from a gateway. `gatewayId` is the publisher as the broker authenticated it
   * (undefined when unknown, as with an external broker): the topic and payload must agree.
   * `wait`: `commit` resolves after the commit whatever the message; `stored-records` only for
   * records that carry alerts, events or summaries (the rest resolve once queued: for a
   * consumer that handles one message at a time, where waiting for every commit would
   * serialise ingest).
   */
  accept(topic: string, payload: Uint8Array, gatewayId?: string, wait: 'commit' | 'stored-records' = 'commit'): Promise<void> {
    const receivedMs = Date.now();
    const parsed = parseIngestTopic(topic);
    if (parsed === undefined || (gatewayId !== undefined && parsed.gw !== gatewayId)) {
      this.drop('unknown', 'topic');
      return DONE;
    }
    // The embedded broker counted it already (as it came in); an external broker's are counted here.
    if (gatewayId === undefined) this.metrics.messagesIn.inc({ kind: parsed.kind });
    if (parsed.kind === 'health' && this.deferHealth(parsed.gw, payload, receivedMs)) return DONE;
    let work: Work | undefined;
    try {
      work = this.decodeOrDrop(parsed.gw, parsed.kind, payload, receivedMs, true);
    } catch (err) {
      return Promise.reject(err);
    }
    if (work === undefined) return DONE;
    const committed = this.enqueue(work, payload.byteLength);
    if (!(committed instanceof Promise)) return Promise.reject(committed);
    // Only records that are stored must be durable before the sender hears back; state and
    // health are superseded by the next one, telemetry is only counted. (The promise is the
    // batch's, shared by every message in it.)
    if (wait === 'commit' || (work.kind === 'records' && work.events.length > 0)) return committed;
    committed.catch(() => undefined);
    return DONE;
  }

  private drop(kind: string, reason: IngestDrop): void {
    this.metrics.ingestDropped.inc({ kind, reason });
  }

  private decode(gw: string, kind: GatewayMessageKind, payload: Uint8Array, receivedMs: number, tracked: boolean): Work {
    const mismatch = (what: string, named: string): ProtocolError => new ProtocolError('E_PAYLOAD_INVALID', `${what}: names gateway ${named}, published by ${gw}`);
    switch (kind) {
      case 'records': {
        // The topic was parsed already (parseIngestTopic): only the batch is decoded here.
        const batch = decodeBatch(payload);
        if (batch.gatewayId !== gw) throw new ProtocolError('E_PAYLOAD_INVALID', `batch: gw ${batch.gatewayId} published on ${TOPIC_ROOT}/gw/${gw}/records`);
        if (batch.rejected.length > 0) this.metrics.ingestDropped.inc({ kind: 'record', reason: 'invalid' }, batch.rejected.length);
        const events: string[] = [];
        let telemetry = 0;
        let lastTelemetryMs = 0;
        for (const r of batch.records) {
          const k = eventKind(r);
          if (k === undefined) {
            telemetry += 1;
            lastTelemetryMs = Math.max(lastTelemetryMs, r.ts);
            continue;
          }
          events.push(eventRow({ gatewayId: gw, recordId: r.id, kind: k, class: r.class, stream: r.stream, model: recordModel(r), ts: r.ts, receivedMs, data: r.data }));
        }
        return { kind, gw, events, telemetry, lastTelemetryMs, receivedMs, tracked };
      }
      case 'state': {
        const s = decodeState(payload);
        if (s.gw !== gw) throw mismatch('state', s.gw);
        return { kind, gw, online: s.state === 'online', clean: s.clean, ts: checkMs(s.ts, 'state'), runtimeVersion: s.runtimeVersion, receivedMs, tracked };
      }
      case 'health': {
        const h = decodeHealth(payload);
        if (h.gw !== gw) throw mismatch('health', h.gw);
        const row = healthRow({ gw, ts: Math.round(h.ts), status: h.status, reasons: h.reasons, runtimeVersion: h.runtimeVersion, hardware: h.hardware, releases: h.releases, report: h.report, receivedMs });
        const sampled = this.metricsSampled.get(gw);
        const sample = sampled === undefined || receivedMs - sampled >= this.metricsIntervalMs ? metricsRow(gw, metricsSample(h.report, h.status, receivedMs)) : null;
        return { kind, gw, ts: h.ts, row, sample, receivedMs, tracked };
      }
      case 'update-report': {
        if (payload.byteLength > 16_384) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `update report: ${payload.byteLength} bytes, at most 16384`);
        const r = decodeUpdateReport(payload);
        if (r.gw !== gw) throw mismatch('update report', r.gw);
        if (r.release !== null && !Number.isSafeInteger(r.release)) throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.release: expected a safe integer');
        return { kind, gw, report: { ...r, ts: checkMs(r.ts, 'update report') }, receivedMs, tracked };
      }
    }
  }

  /**
   * Writes a batch. If the database refuses it for its content (a value it cannot hold),
   * each message is written alone, and the one it refuses is dropped and counted: one poison
   * message must not hold back, again and again, every message that shares its batch.
   * Any other failure (the database is away) fails the batch: nothing is acknowledged.
   */
  private async write(batch: readonly Work[]): Promise<void> {
    try {
      await this.commit(batch);
    } catch (err) {
      if (!refusedForContent(err) || batch.length === 1) {
        if (batch.length === 1 && refusedForContent(err)) {
          this.drop(batch[0]?.kind ?? 'unknown', 'invalid');
          return;
        }
        throw err;
      }
      for (const w of batch) await this.write([w]);
    }
  }

  /** One transaction for a batch of messages; per gateway, only the newest state and health count. */
  private async commit(batch: readonly Work[]): Promise<void> {
    const events: string[] = [];
    const telemetry = new Map<string, { records: number; lastMs: number }>();
    const states = new Map<string, Extract<Work, { kind: 'state' }>>();
    const health = new Map<string, HealthWork>();
    const samples = new Map<string, string>();
    const steps: Extract<Work, { kind: 'update-report' }>[] = [];
    const seen = new Map<string, number>();
    for (const w of batch) {
      // State and health set last_seen_ms themselves; other messages refresh it now and then.
      if (w.kind !== 'state' && w.kind !== 'health' && w.receivedMs - (this.touched.get(w.gw) ?? 0) >= TOUCH_INTERVAL_MS) seen.set(w.gw, Math.max(seen.get(w.gw) ?? 0, w.receivedMs));
      switch (w.kind) {
        case 'records': {
          for (const e of w.events) events.push(e);
          if (w.telemetry > 0) {
            const t = telemetry.get(w.gw) ?? { records: 0, lastMs: 0 };
            telemetry.set(w.gw, { records: t.records + w.telemetry, lastMs: Math.max(t.lastMs, w.lastTelemetryMs) });
          }
          break;
        }
        case 'state':
          // The last one delivered wins (see GatewayStore.applyStates).
          states.set(w.gw, w);
          break;
        case 'health': {
          if (w.sample !== null && !samples.has(w.gw)) samples.set(w.gw, w.sample);
          const prev = health.get(w.gw);
          if (prev === undefined || prev.ts <= w.ts) health.set(w.gw, w);
          break;
        }
        case 'update-report':
          steps.push(w);
          break;
      }
    }
    // Marked now, not after the commit: the batch built while this one commits need not
    // refresh the same gateways again. Unmarked below if the commit fails.
    if (this.touched.size > MAX_TRACKED_GATEWAYS) this.touched.clear();
    for (const [gw, ms] of seen) this.touched.set(gw, ms);
    const t0 = performance.now();
    try {
      // The statements are collected first and sent in one go: no round trip between them.
      const tx = new StatementRecorder();
      const gateways = new GatewayStore(tx);
      await new EventStore(tx).insertRows(events);
      const inserted = tx.statements.length - 1;
      {
        await gateways.applyStates([...states.values()].map((s) => ({ gw: s.gw, online: s.online, clean: s.clean, ts: s.ts, runtimeVersion: s.runtimeVersion, receivedMs: s.receivedMs })));
        await gateways.applyHealthRows([...health.values()].map((h) => h.row));
        await new GatewayMetricsStore(tx).addRows([...samples.values()], this.metricsIntervalMs);
        await gateways.addUpdateSteps(steps.map(({ gw, report: r, receivedMs }) => ({ gw, model: r.model, target: r.target, release: r.release, version: r.version, step: r.step, outcome: r.outcome, reason: r.reason, ts: r.ts, receivedMs, ...(r.shadow === undefined ? {} : { shadow: r.shadow }) })));
        await gateways.countTelemetry([...telemetry.entries()].map(([gw, t]) => ({ gw, records: t.records, lastMs: t.lastMs })));
        await gateways.touch([...seen.entries()].map(([gw, receivedMs]) => ({ gw, receivedMs })));
      }
      const results = await this.sql.batch(tx.statements);
      const stored: Partial<Record<string, number>> = {};
      const insertedRows = (inserted >= 0 ? results[inserted] : []) as InsertedEvent[];
      for (const row of insertedRows) stored[row.kind] = (stored[row.kind] ?? 0) + 1;
      this.publishChanges(insertedRows, [...states.keys(), ...health.keys(), ...seen.keys()]);
      this.metrics.dbLatency.observe({ op: 'ingest-commit' }, (performance.now() - t0) / 1000);
      this.lastCommitMs = Date.now();
      let n = 0;
      for (const [kind, count] of Object.entries(stored)) {
        this.metrics.eventsStored.inc({ kind }, count ?? 0);
        n += count ?? 0;
      }
      this.metrics.duplicates.inc(events.length - n);
      this.metrics.telemetryRecords.inc([...telemetry.values()].reduce((n, t) => n + t.records, 0));
    } catch (err) {
      for (const [gw, ms] of seen) if (this.touched.get(gw) === ms) this.touched.delete(gw);
      this.lastError = (err as Error).message;
      this.lastErrorMs = Date.now();
      this.metrics.ingestFailedCommits.inc();
      throw err;
    }
  }

  /** After a commit: the alerts and events it stored (not duplicates, not summaries), and the gateways whose summaries it changed. */
  private publishChanges(inserted: readonly InsertedEvent[], gateways: readonly string[]): void {
    const feed = this.changes;
    if (feed === undefined) return;
    for (const e of inserted) if (e.kind !== 'summary') feed.event(e.gateway_id, e.record_id);
    for (const gw of new Set(gateways)) feed.gateway(gw);
  }

  /** Writes the health reports still waiting, stops taking messages and waits for the commits under way. */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushDeferredHealth(true);
    await this.commits.close();
  }

}
