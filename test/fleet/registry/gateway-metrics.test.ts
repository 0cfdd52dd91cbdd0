import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { GatewayMetricsStore, METRICS_SAMPLE_INTERVAL_MS, metricsRow, metricsSample, type GatewayMetricsSample } from '../../../fleet/registry/gateway-metrics.js';
import { Registry } from '../../../fleet/registry/registry.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';
import { healthReport } from '../../support/health-report.js';

describe('metricsSample', () => {
  it('reads the counters a chart needs from a health report, totals over classes, pipelines and sources', () => {
    expect(metricsSample(healthReport('gw-1'), 'ok', 5000)).toEqual({
      ts: 5000, status: 'ok', rssBytes: 123_456_789, storeBytes: 49_200, storeRecords: 123, publishedRecords: 1200, ackedRecords: 1190, inFlightMessages: 2,
      // evicted 7 + rejected 2 + edge drops 4 + source drops 1
      droppedRecords: 14, uplinkConnected: true,
    });
  });

  it('makes any JSON object a sample of nulls and counts a bigint holds, never an error', () => {
    fc.assert(
      fc.property(fc.object({ values: [fc.jsonValue(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(-1)] }), (report) => {
        const s = metricsSample(report, 'ok', 1);
        for (const [k, v] of Object.entries(s)) {
          if (k === 'status' || k === 'uplinkConnected' || k === 'ts') continue;
          expect(v === null || (Number.isSafeInteger(v) && (v as number) >= 0), `${k}: ${String(v)}`).toBe(true);
        }
        JSON.parse(metricsRow('gw-1', s));
      }),
      { numRuns: 300 },
    );
    expect(metricsSample({ store: { bytes: { a: 1.5, b: 'x' } }, uplink: { connected: 'yes' }, rssBytes: Infinity }, 'degraded', 1)).toMatchObject({ storeBytes: 2, uplinkConnected: null, rssBytes: null, droppedRecords: null });
  });
});

describe.each(BACKENDS)('gateway metrics history on %s', (backend) => {
  const db = useFleetDb(backend);
  let store: GatewayMetricsStore;
  let registry: Registry;
  const sample = (ts: number, extra: Partial<GatewayMetricsSample> = {}): GatewayMetricsSample => ({ ...metricsSample(healthReport('x'), 'ok', ts), ...extra });
  beforeEach(async () => {
    await db.reset();
    store = new GatewayMetricsStore(db.sql);
    registry = new Registry(db.sql);
    await registry.store.insert({ id: 'gw-1', site: '', labels: {}, passwordScrypt: 's', passwordMosquitto: 'm', nowMs: 1 });
    await registry.store.insert({ id: 'gw-2', site: '', labels: {}, passwordScrypt: 's', passwordMosquitto: 'm', nowMs: 1 });
  });

  it('keeps at most one sample per gateway a minute, and none of unknown or revoked gateways', async () => {
    const t0 = 1_800_000_000_000;
    await store.addRows([metricsRow('gw-1', sample(t0)), metricsRow('gw-2', sample(t0 + 5))]);
    await store.addRows([metricsRow('gw-1', sample(t0 + 1000)), metricsRow('gw-1', sample(t0 + METRICS_SAMPLE_INTERVAL_MS - 1))]);
    await store.addRows([metricsRow('gw-1', sample(t0 + METRICS_SAMPLE_INTERVAL_MS, { rssBytes: 7 }))]);
    await store.addRows([metricsRow('gw-404', sample(t0))]);
    await registry.store.revoke('gw-2', t0);
    await store.addRows([metricsRow('gw-2', sample(t0 + 10 * METRICS_SAMPLE_INTERVAL_MS))]);
    expect((await store.list('gw-1', { limit: 100 })).map((s) => [s.ts, s.rssBytes])).toEqual([
      [t0, 123_456_789],
      [t0 + METRICS_SAMPLE_INTERVAL_MS, 7],
    ]);
    expect((await store.list('gw-2', { limit: 100 })).map((s) => s.ts)).toEqual([t0 + 5]);
    expect(await store.list('gw-404', { limit: 100 })).toEqual([]);
  });

  it('lists oldest first: the newest `limit` in [from, to)', async () => {
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 10; i += 1) await store.addRows([metricsRow('gw-1', sample(t0 + i * METRICS_SAMPLE_INTERVAL_MS, { publishedRecords: i }))]);
    const at = (i: number): number => t0 + i * METRICS_SAMPLE_INTERVAL_MS;
    expect((await store.list('gw-1', { limit: 100 })).map((s) => s.publishedRecords)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await store.list('gw-1', { limit: 3 })).map((s) => s.publishedRecords)).toEqual([7, 8, 9]);
    expect((await store.list('gw-1', { fromMs: at(2), toMs: at(5), limit: 100 })).map((s) => s.publishedRecords)).toEqual([2, 3, 4]);
    const one = (await store.list('gw-1', { limit: 1 }))[0];
    expect(one).toEqual(sample(at(9), { publishedRecords: 9 }));
  });

  it('sweeps samples past their age and beyond the per-gateway bound, and a deleted gateway\'s with it', async () => {
    const now = 1_800_000_000_000;
    for (let i = 29; i >= 0; i -= 1) await store.addRows([metricsRow('gw-1', sample(now - i * METRICS_SAMPLE_INTERVAL_MS)), metricsRow('gw-2', sample(now - i * METRICS_SAMPLE_INTERVAL_MS))]);
    // Kept 20 minutes, and at most 5 per gateway.
    expect(await store.sweep(20 * METRICS_SAMPLE_INTERVAL_MS, now, 25)).toBe(2 * 9);
    expect(await store.list('gw-1', { limit: 100 })).toHaveLength(21);
    expect(await store.sweep(20 * METRICS_SAMPLE_INTERVAL_MS, now, 5)).toBe(2 * 16);
    expect((await store.list('gw-2', { limit: 100 })).map((s) => s.ts)).toEqual([4, 3, 2, 1, 0].map((i) => now - i * METRICS_SAMPLE_INTERVAL_MS));
    await db.sql.query("DELETE FROM gateways WHERE id = 'gw-2'");
    expect(await store.list('gw-2', { limit: 100 })).toEqual([]);
  });
});
