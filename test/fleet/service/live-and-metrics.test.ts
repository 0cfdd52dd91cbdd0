import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRecord, encodeState, gatewayTopics, type WireRecord } from '../../../fleet/protocol/index.js';
import { FleetService } from '../../../fleet/service/fleet-service.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { healthReport } from '../../support/health-report.js';
import { SseClient } from '../../support/sse-client.js';
import { waitFor } from '../../support/wait-for.js';

interface Summary {
  id: string;
  status: string;
  health: { status: string; reasons: string[] } | null;
}

const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/**
 * The live stream and the metrics history as `edgewise fleet` runs them: a gateway's MQTT
 * messages go through the embedded broker and ingest into the database, and the change feed
 * tells the stream.
 */
describe('a fleet service with a gateway on MQTT', () => {
  const rig = useFleetTestRig();

  it('streams the gateway\'s state and health as `gateways` and its alerts as `event`, and keeps a metrics sample of its health', async () => {
    const fleet = await FleetService.start({
      dataDir: rig.dir.path,
      broker: 'embedded',
      db: 'memory',
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { host: '127.0.0.1', port: 0 },
      retention: { maxAgeMs: 86_400_000, maxEvents: 1000 },
      logger: pino({ level: 'silent' }),
    });
    rig.onCleanup(() => fleet.stop());
    const base = fleet.endpoints.localApiUrl;
    const token = (await readFile(fleet.endpoints.operatorTokenFile, 'utf8')).trim();
    const api = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as T };
    };
    const provisioned = await api<{ credentials: { username: string; password: string; clientId: string } }>('POST', '/v1/gateways', { id: 'gw-1', labels: { site: 'plant-1' } });
    expect(provisioned.status).toBe(201);

    const live = await SseClient.open(`${base}/v1/live`, token);
    rig.onCleanup(async () => live.close());
    await live.next('hello');

    const { username, password, clientId } = provisioned.body.credentials;
    const gw = await mqtt.connectAsync(fleet.endpoints.brokerUrl, { clientId, username, password, protocolVersion: 4, reconnectPeriod: 0 });
    rig.onCleanup(() => gw.endAsync());
    await gw.publishAsync(gatewayTopics.state('gw-1'), Buffer.from(encodeState({ gw: 'gw-1', state: 'online', ts: Date.now(), clean: true, runtimeVersion: '0.1.0' })), { qos: 1, retain: true });
    const online = await live.next<{ items: Summary[] }>('gateways', (d) => d.items.some((g) => g.id === 'gw-1' && g.status === 'online'));
    expect(online.items.map((g) => g.id)).toEqual(['gw-1']);

    await gw.publishAsync(gatewayTopics.health('gw-1'), enc({ ...healthReport('gw-1', { published: 500, connected: true }), status: 'degraded', reasons: ['disk: 91% full'] }), { qos: 1 });
    const degraded = await live.next<{ items: Summary[] }>('gateways', (d) => d.items.some((g) => g.status === 'degraded'));
    expect(degraded.items[0]?.health).toMatchObject({ status: 'degraded', reasons: ['disk: 91% full'] });
    // Exactly the item GET /v1/gateways gives (nothing changed since).
    expect(degraded.items).toEqual((await api<{ items: unknown[] }>('GET', '/v1/gateways')).body.items);

    // An alert and a summary: only the alert is news.
    const alert: WireRecord = { id: 'a.1', stream: 'press.alerts', class: 'alert', ts: Date.now(), data: { alert: 1, state: 'raised', peakScore: 0.7, model: { name: 'streaming-anomaly' } } };
    const summary: WireRecord = { id: 's.1', stream: 'press.anomaly', class: 'result', ts: Date.now(), data: { peakScore: 0.1 } };
    await gw.publishAsync(gatewayTopics.records('gw-1'), Buffer.from(encodeBatch('gw-1', Date.now(), [encodeRecord(summary), encodeRecord(alert)])), { qos: 1 });
    const event = await live.next<{ recordId: string }>('event', (e) => e.recordId === 'a.1');
    expect(event).toEqual((await api<{ items: unknown[] }>('GET', '/v1/events?kind=alert')).body.items[0]);
    expect(live.of<{ recordId: string }>('event').map((e) => e.recordId)).toEqual(['a.1']);

    // Health reports in a burst: each batch names the gateway once.
    for (let i = 0; i < 5; i += 1) await gw.publishAsync(gatewayTopics.health('gw-1'), enc({ ...healthReport('gw-1', { published: 600 + i }), ts: Date.now() + i }), { qos: 1 });
    await live.next<{ items: Summary[] }>('gateways', (d) => d.items.some((g) => g.health?.status === 'ok'));
    for (const batch of live.of<{ items: Summary[] }>('gateways')) expect(new Set(batch.items.map((g) => g.id)).size).toBe(batch.items.length);

    // The metrics history: one sample for the minute, from the first report.
    const metrics = await api<{ items: Record<string, unknown>[] }>('GET', '/v1/gateways/gw-1/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body.items).toHaveLength(1);
    expect(metrics.body.items[0]).toMatchObject({ status: 'degraded', publishedRecords: 500, ackedRecords: 1190, inFlightMessages: 2, storeBytes: 49_200, storeRecords: 123, droppedRecords: 14, rssBytes: 123_456_789, uplinkConnected: true });
    const ts = metrics.body.items[0]?.['ts'] as number;
    expect((await api<{ items: unknown[] }>('GET', `/v1/gateways/gw-1/metrics?from=${ts + 1}`)).body.items).toEqual([]);
    expect((await api<{ items: unknown[] }>('GET', `/v1/gateways/gw-1/metrics?from=${ts}&to=${ts + 1}&limit=5`)).body.items).toHaveLength(1);
    expect(await api('GET', '/v1/gateways/gw-9/metrics')).toMatchObject({ status: 404, body: { code: 'E_NOT_FOUND' } });
    expect(await api('GET', `/v1/gateways/gw-1/metrics?from=${ts}&to=${ts}`)).toMatchObject({ status: 400, body: { code: 'E_VALIDATION', detail: expect.stringContaining('query.to') as unknown } });
    expect(await api('GET', '/v1/gateways/gw-1/metrics?limit=0')).toMatchObject({ status: 400, body: { code: 'E_VALIDATION' } });

    // Revoked: the broker drops it, and the stream says so.
    await api('POST', '/v1/gateways/gw-1/revoke', {});
    await live.next<{ items: Summary[] }>('gateways', (d) => d.items.some((g) => g.status === 'revoked'));

    // Stopping the fleet ends the stream.
    await fleet.stop();
    await waitFor(() => live.ended, 'the stream to end with the fleet');
  });
});
