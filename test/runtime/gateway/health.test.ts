import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { waitFor } from '../../support/wait-for.js';
import mqtt from 'mqtt';
import type { HealthReport } from '../../../fleet/protocol/index.js';

describe('health report', () => {
  const rig = useGatewayRig();

  it('serves /health and /metrics, publishes the report retained, and shows evictions per class', async () => {
    const registry = builtinRegistry();
    // A budget too small for the stream: telemetry is evicted and counted.
    const config = parseConfig(
      testGatewayConfig({ id: 'gw-health', dataDir: rig.dir.path, url: 'mqtt://127.0.0.1:1', sources: [{ id: 's1', rateHz: 2000 }], maxSizeBytes: 65_536, healthListen: '127.0.0.1:0' }),
      'test',
      registry,
    );
    const gw = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    const base = `http://127.0.0.1:${String(gw.healthPort)}`;
    await waitFor(() => gw.outbox.stats().evicted.telemetry > 100, 'evictions');

    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(503); // degraded: no broker, outbox full
    const report = (await res.json()) as HealthReport;
    expect(report.gw).toBe('gw-health');
    expect(report.status).toBe('degraded');
    expect(report.reasons.some((r) => r.startsWith('uplink: not connected'))).toBe(true);
    expect(report.reasons.some((r) => r.startsWith('store: outbox at'))).toBe(true);
    expect(report.store.evicted.telemetry).toBeGreaterThan(100);
    expect(report.store.evicted.result).toBe(0);
    expect(report.store.bytes.telemetry).toBeLessThanOrEqual(65_536);
    expect(report.pipelines[0]?.edges[0]).toMatchObject({ name: 'source->store', policy: 'block' });
    expect(report.sources[0]).toMatchObject({ id: 's1', type: 'synthetic' });
    expect(report.rssBytes).toBeGreaterThan(0);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/edgewise_outbox_evicted_total\{class="telemetry"\} [1-9]\d*/);
    expect(metrics).toContain('edgewise_uplink_connected 0');
    expect(metrics).toContain('edgewise_events_total');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('publishes the report retained on the health topic and online/offline state', async () => {
    const registry = builtinRegistry();
    const config = parseConfig(testGatewayConfig({ id: 'gw-pub', dataDir: rig.dir.path, url: rig.broker.url, sources: [{ id: 's1', rateHz: 10 }] }), 'test', registry);
    const gw = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    await waitFor(() => gw.uplink.stats().connected, 'the uplink to connect');
    const client = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4 });
    const seen = new Map<string, unknown>();
    client.on('message', (topic, payload) => seen.set(topic, JSON.parse(payload.toString())));
    await client.subscribeAsync(['edgewise/v1/gw/gw-pub/health', 'edgewise/v1/gw/gw-pub/state'], { qos: 1 });
    await waitFor(() => seen.has('edgewise/v1/gw/gw-pub/health'), 'a health report', 10_000);
    expect((seen.get('edgewise/v1/gw/gw-pub/health') as HealthReport).status).toBe('ok');
    expect(seen.get('edgewise/v1/gw/gw-pub/state')).toMatchObject({ state: 'online', clean: true });
    await gw.stop();
    rig.gateway = undefined;
    await waitFor(() => (seen.get('edgewise/v1/gw/gw-pub/state') as { state: string }).state === 'offline', 'the offline state');
    expect(seen.get('edgewise/v1/gw/gw-pub/state')).toMatchObject({ state: 'offline', clean: true });
    await client.endAsync();
  });

  it('logs a one-line summary at info every interval: records in, stored, sent, outbox, uplink, status', async () => {
    const registry = builtinRegistry();
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const config = parseConfig(testGatewayConfig({ id: 'gw-sum', dataDir: rig.dir.path, url: rig.broker.url, sources: [{ id: 's1', rateHz: 200 }], logLevel: 'info' }), 'test', registry);
    const gw = await Gateway.create(config, registry, { logger, summaryIntervalMs: 500 });
    rig.gateway = gw;
    await gw.start();
    await waitFor(() => gw.uplink.stats().connected, 'the uplink to connect');
    const summaries = (): Record<string, unknown>[] => lines.filter((l) => l['event'] === 'gateway.summary');
    // The first line may predate the connection; a later one shows records flowing end to end.
    await waitFor(() => summaries().some((l) => Number(l['sent']) > 0 && l['connected'] === true), 'a summary with records sent', 15_000);
    const s = summaries().find((l) => Number(l['sent']) > 0) as Record<string, unknown>;
    expect(s).toMatchObject({ level: 30, status: 'ok', reasons: [], evicted: 0, alerts: 0, connected: true });
    expect(Number(s['recordsIn'])).toBeGreaterThan(0);
    expect(Number(s['stored'])).toBeGreaterThan(0);
    expect(String(s['msg'])).toMatch(/^\d+ in, \d+ stored, \d+ sent, 0 evicted, 0 alerts; outbox \d+ records; uplink up; ok$/);
    // Deltas: what the lines say adds up to what the gateway counted.
    await gw.stop();
    rig.gateway = undefined;
    const total = summaries().reduce((n, l) => n + Number(l['stored']), 0);
    expect(total).toBeLessThanOrEqual(gw.health().store.appended.telemetry);
    expect(total).toBeGreaterThan(0);
  });
});
