import type { HealthReport } from '../../fleet/protocol/health.js';

/** What the gateway counts, read for a summary line. */
export interface SummaryCounts {
  /** Records the sources emitted. */
  readonly recordsIn: number;
  readonly report: HealthReport;
}

type Totals = { in: number; stored: number; sent: number; evicted: number; alerts: number };

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * One line a minute that says how the gateway is doing, for someone reading the journal:
 * records in, stored, sent and evicted since the last line, the outbox's depth, alerts
 * raised, whether the uplink is up, and the health status with its reasons.
 */
export class PeriodicSummary {
  private last: Totals | undefined;
  private lastAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The fields of the next summary line (deltas since the previous one; totals the first time). */
  next(c: SummaryCounts): Record<string, unknown> {
    const r = c.report;
    const totals: Totals = { in: c.recordsIn, stored: sum(r.store.appended), sent: r.uplink.ackedRecords, evicted: sum(r.store.evicted), alerts: r.store.appended.alert };
    const prev = this.last ?? { in: 0, stored: 0, sent: 0, evicted: 0, alerts: 0 };
    const t = this.now();
    const fields = {
      periodS: this.last === undefined ? null : Math.round((t - this.lastAt) / 1000),
      recordsIn: totals.in - prev.in,
      stored: totals.stored - prev.stored,
      sent: totals.sent - prev.sent,
      evicted: totals.evicted - prev.evicted,
      alerts: totals.alerts - prev.alerts,
      outboxRecords: sum(r.store.records),
      outboxBytes: sum(r.store.bytes),
      connected: r.uplink.connected,
      status: r.status,
      reasons: r.reasons,
    };
    this.last = totals;
    this.lastAt = t;
    return fields;
  }
}

/** The summary as one readable line (the log's message; the fields carry the numbers). */
export function summaryText(f: Record<string, unknown>): string {
  const reasons = (f['reasons'] as readonly string[]).length === 0 ? '' : `: ${(f['reasons'] as readonly string[]).join('; ')}`;
  return `${String(f['recordsIn'])} in, ${String(f['stored'])} stored, ${String(f['sent'])} sent, ${String(f['evicted'])} evicted, ${String(f['alerts'])} alerts; outbox ${String(f['outboxRecords'])} records; uplink ${f['connected'] === true ? 'up' : 'down'}; ${String(f['status'])}${reasons}`;
}
