import type { ComponentEvents } from '../../health/events.js';
import type { FeedRecord } from './feed.js';
import { coerce, type DataMetric, type DeviceDef, type FeedValue, type LastValue } from './metrics.js';

/**
 * Turns a device's records into DDATA metrics: each configured value coerced to its datatype
 * (a value that does not fit goes out as null and is counted), each sample of a record of
 * samples over time (FeedRecord.samplePeriodMs) as its own value at its own time, a unit that differs from the
 * config reported once per metric, and the last value of each metric kept for the next births
 * (bounded: one entry per configured metric).
 */
export class RecordMetrics {
  /** Last value per alias. */
  readonly lastValues = new Map<number, LastValue>();
  private readonly reportedUnits = new Set<number>();
  badValues = 0;
  unitMismatches = 0;

  constructor(private readonly events: ComponentEvents) {}

  /** The metrics of `records` (all of `device`); a record stored before `birthAtMs` is historical. */
  toMetrics(device: DeviceDef, records: readonly FeedRecord[], birthAtMs: number): { metrics: DataMetric[]; historical: number } {
    const metrics: DataMetric[] = [];
    let historical = 0;
    for (const r of records) {
      const isHistorical = r.storedAtMs < birthAtMs;
      if (isHistorical) historical += 1;
      for (const m of device.metrics) {
        const raw = r.values[m.name];
        if (raw === undefined) continue;
        const unit = r.units?.[m.name];
        if (unit !== undefined && unit !== '' && m.unit !== undefined && unit !== m.unit && !this.reportedUnits.has(m.alias)) {
          this.reportedUnits.add(m.alias);
          this.unitMismatches += 1;
          this.events.warn('sparkplug.unit_mismatch', { code: 'E_SPARKPLUG_UNIT', source: r.sourceId, metric: m.name, configured: m.unit, got: unit });
        }
        // Samples over time: one value of the metric each, at its own time.
        const samples = r.samplePeriodMs !== undefined && Array.isArray(raw) ? (raw as readonly FeedValue[]) : [raw];
        const period = r.samplePeriodMs ?? 0;
        for (let i = 0; i < samples.length; i += 1) {
          const value = this.coerced(r, m, samples[i] as FeedValue);
          const ts = r.ts + Math.round(i * period);
          metrics.push({ metric: m, value, ts, historical: isHistorical });
          const last = this.lastValues.get(m.alias);
          if (last === undefined || last.ts <= ts) this.lastValues.set(m.alias, { value, ts });
        }
      }
    }
    return { metrics, historical };
  }

  /** The value as the metric's datatype, or null (counted and told) when it does not fit. */
  private coerced(r: FeedRecord, m: DeviceDef['metrics'][number], raw: FeedValue): number | boolean | string | null {
    const value = coerce(m.type, raw);
    if (value !== undefined) return value;
    this.badValues += 1;
    this.events.warn('sparkplug.value_rejected', { code: 'E_SPARKPLUG_VALUE', source: r.sourceId, metric: m.name, type: m.type, got: JSON.stringify(raw).slice(0, 40) });
    return null;
  }
}
