import type { GatewayHardware, HealthReport, ModelReleases } from '../../fleet/protocol/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { StoreCorruption } from '../store/database.js';
import type { DecisionLog } from '../store/decision-log.js';
import type { StoreBudgetStats } from '../store/store-budget.js';
import type { Outbox } from '../store/outbox.js';
import type { StoreWriter } from '../store/store-writer.js';
import type { ConsumerStats } from '../store/outbox-consumer.js';
import type { MqttUplink } from '../uplink/uplink.js';
import type { OutboxFeedStats } from '../uplink/sparkplug/outbox-feed.js';
import type { SparkplugStats } from '../uplink/sparkplug/edge-node.js';

/** The Sparkplug B edge node as the report sees it (gateway.ts wires the node and its outbox feed). */
export interface SparkplugHealth {
  stats(): SparkplugStats & OutboxFeedStats;
  degradedReason(): string | undefined;
}

/** One outbox consumer in the report: what it has not acknowledged yet, and what it never got. */
export type ConsumerHealth = Pick<ConsumerStats, 'pending' | 'leased' | 'acked' | 'evictedUnsent'>;

/**
 * The report the gateway builds: the protocol's `HealthReport` (fleet/protocol/health.ts) and,
 * until that type names them, the outbox's consumers and the Sparkplug edge node. Receivers keep
 * the whole JSON report (`decodeHealth`'s `report`), so the extra fields reach them as they are.
 */
export interface GatewayHealthReport extends HealthReport {
  readonly store: HealthReport['store'] & { readonly consumers: Readonly<Record<string, ConsumerHealth>> };
  /** Present when the config has a `sparkplug` section. */
  readonly sparkplug?: SparkplugStats & OutboxFeedStats;
}

export interface HealthSources {
  readonly gatewayId: string;
  readonly runtimeVersion: string;
  readonly startedAtMs: number;
  readonly outbox: Outbox;
  readonly decisions: DecisionLog;
  readonly writer: StoreWriter;
  readonly uplink: MqttUplink;
  readonly pipelines: readonly Pipeline[];
  readonly updates?:
    | {
        stats(): { updates: number; refusals: number; pending: number; lastError: string | null };
        /** Undefined until the slots were first read: the report then leaves `releases` out. */
        releases(): Readonly<Record<string, ModelReleases>> | undefined;
      }
    | undefined;
  readonly hardware: GatewayHardware;
  /** Set while the systemd watchdog withholds its pings: since when, and the parts that do not answer. */
  readonly watchdog?: { readonly sinceMs: number; readonly reasons: readonly string[] } | undefined;
  readonly store?: StoreCondition | undefined;
  readonly sparkplug?: SparkplugHealth | undefined;
}

/** The store's disk budget and watermark, and damage found at open (the metrics read it too). */
export interface StoreCondition {
  readonly budget: StoreBudgetStats;
  readonly corruptions: readonly StoreCorruption[];
}

function corruptionReason(c: StoreCorruption): string {
  const lost = c.lostRecords === null ? 'an unknown number of records' : `${c.lostRecords} record${c.lostRecords === 1 ? '' : 's'}`;
  const done = c.outcome === 'fresh' ? 'beyond repair, started empty' : c.outcome === 'repaired' ? 'repaired' : 'recovered by LevelDB';
  return `store: damaged at open (${c.found}: ${done}); ${lost} could not be recovered; damaged files kept in ${c.keptAt}`;
}

/** Outbox fill share from which the report says `degraded`. */
const OUTBOX_PRESSURE_SHARE = 0.9;

/** Builds the health report from the components' own counters (the metrics read the same). */
export function buildHealthReport(s: HealthSources, nowMs: number = Date.now()): GatewayHealthReport {
  const out = s.outbox.stats();
  const up = s.uplink.stats();
  const reasons: string[] = [];
  const releases = s.updates?.releases();
  const usedBytes = out.bytes.telemetry + out.bytes.result + out.bytes.alert;
  if (!up.connected) reasons.push(`uplink: not connected${up.lastError === null ? '' : ` (${up.lastError})`}`);
  const sparkplug = s.sparkplug?.stats();
  const sparkplugReason = s.sparkplug?.degradedReason();
  if (sparkplugReason !== undefined) reasons.push(sparkplugReason);
  if (s.writer.isFailing) reasons.push('store: writes are failing (disk full or I/O error?)');
  if (usedBytes >= out.budgetBytes * OUTBOX_PRESSURE_SHARE) reasons.push(`store: outbox at ${Math.round((100 * usedBytes) / out.budgetBytes)}% of its budget`);
  for (const c of s.store?.corruptions ?? []) reasons.push(corruptionReason(c));
  if (s.watchdog !== undefined) {
    const forS = Math.max(0, Math.round((nowMs - s.watchdog.sinceMs) / 1000));
    reasons.push(`watchdog: pings withheld for ${forS} s, systemd will restart the gateway (${s.watchdog.reasons.join('; ')})`);
  }
  const budget = s.store?.budget;
  if (budget?.lowSpace === true) {
    reasons.push(`store: filesystem below its free-space watermark (${String(budget.freeBytes)} bytes free, mark ${budget.minFreeBytes}): storing alerts only, ${budget.refusedLowSpace} records refused`);
  }
  const pipelines = s.pipelines.map((p) => ({
    id: p.id,
    edges: p.edgeStats().map((e) => ({ name: e.name, policy: e.policy, depthRecords: e.depthRecords, capacityRecords: e.capacityRecords, dropped: e.dropped })),
    stages: p.stageStats(),
  }));
  for (const p of pipelines) {
    for (const st of p.stages) {
      if (st.details['degraded'] === true) reasons.push(`pipeline ${p.id}: stage ${st.type} degraded (${String(st.details['degradedReason'] ?? 'see its details')})`);
    }
  }
  for (const p of s.pipelines) {
    const src = p.sourceStats();
    if (src.details?.['degraded'] === true) reasons.push(`source ${src.id}: degraded (${String(src.details['degradedReason'] ?? 'see its details')})`);
    for (const e of p.edgeStats()) if (e.depthRecords >= e.capacityRecords) reasons.push(`pipeline ${p.id}: edge ${e.name} is full`);
  }
  return {
    gw: s.gatewayId,
    ts: nowMs,
    runtimeVersion: s.runtimeVersion,
    uptimeS: Math.round((nowMs - s.startedAtMs) / 1000),
    status: reasons.length === 0 ? 'ok' : 'degraded',
    reasons,
    store: {
      budgetBytes: out.budgetBytes,
      records: out.records,
      bytes: out.bytes,
      appended: out.appended,
      evicted: out.evicted,
      writeErrors: out.writeErrors,
      rejected: out.rejected,
      decisionLog: s.decisions.stats(),
      consumers: Object.fromEntries(Object.entries(out.consumers).map(([name, c]) => [name, { pending: c.pending, leased: c.leased, acked: c.acked, evictedUnsent: c.evictedUnsent }])),
    },
    uplink: {
      connected: up.connected,
      publishedRecords: up.publishedRecords,
      ackedRecords: up.ackedRecords,
      inFlightMessages: up.inFlightMessages,
      reconnects: up.reconnects,
      lastError: up.lastError,
    },
    pipelines,
    sources: s.pipelines.map((p) => p.sourceStats()),
    rssBytes: process.memoryUsage.rss(),
    ...(sparkplug === undefined ? {} : { sparkplug }),
    ...(s.updates === undefined ? {} : { updates: s.updates.stats() }),
    hardware: s.hardware,
    ...(releases === undefined ? {} : { releases }),
  };
}
