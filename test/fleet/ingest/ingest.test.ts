import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventStore } from '../../../fleet/events/event-store.js';
import { Ingest } from '../../../fleet/ingest/ingest.js';
import { FleetMetrics } from '../../../fleet/metrics.js';
import { encodeBatch, encodeRecord, encodeState, encodeUpdateReport, gatewayTopics, type WireRecord } from '../../../fleet/protocol/index.js';
import { Registry } from '../../../fleet/registry/registry.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';
import { healthReport } from '../../support/health-report.js';
import { GatewayMetricsStore } from '../../../fleet/registry/gateway-metrics.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const batch = (gw: string, records: WireRecord[]): Uint8Array => encodeBatch(gw, Date.now(), records.map(encodeRecord));
const alert = (id: string, ts = 1_795_000_000_000): WireRecord => ({ id, stream: 'press.alerts', class: 'alert', ts, data: { alert: 1, state: 'raised', peakScore: 0.6, model: { name: 'streaming-anomaly', version: '1.0.0', hash: 'x' } } });

function health(gw: string, ts: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { gw, ts, runtimeVersion: '0.1.0', uptimeS: 5, status: 'degraded', reasons: ['uplink: disconnected'], store: {}, uplink: {}, pipelines: [], sources: [], rssBytes: 1, ...extra };
}

async function metricValue(m: FleetMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

describe.each(BACKENDS)('ingest on %s', (backend) => {
  const db = useFleetDb(backend);
  let registry: Registry;
  let metrics: FleetMetrics;
  let ingest: Ingest;
  beforeEach(async () => {
    await db.reset();
    registry = new Registry(db.sql);
    metrics = new FleetMetrics();
    ingest = new Ingest(db.sql, metrics);
    await registry.provision({ id: 'gw-1', labels: { site: 'plant-1' } });
    await registry.provision({ id: 'gw-2' });
  });

  it('stores an alert resent after a crash once, and counts the duplicate', async () => {
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-1', [alert('a.1.0'), alert('a.1.1')]));
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-1', [alert('a.1.1'), alert('a.1.2')]));
    const events = await new EventStore(db.sql).query({ gatewayId: 'gw-1', limit: 10 });
    expect(events.map((e) => e.recordId).sort()).toEqual(['a.1.0', 'a.1.1', 'a.1.2']);
    expect(events[0]).toMatchObject({ kind: 'alert', class: 'alert', stream: 'press.alerts', model: 'streaming-anomaly' });
    expect(await metricValue(metrics, 'edgewise_fleet_duplicate_records_total')).toBe(1);
    expect(await metricValue(metrics, 'edgewise_fleet_events_stored_total', { kind: 'alert' })).toBe(3);
  });

  it('keeps one metrics sample a minute from the health reports a gateway sends, across a fleet restart', async () => {
    const history = new GatewayMetricsStore(db.sql);
    const before = Date.now();
    for (let i = 0; i < 5; i += 1) await ingest.accept(gatewayTopics.health('gw-1'), enc({ ...healthReport('gw-1', { published: 100 + i }), ts: Date.now() + i }));
    await ingest.close();
    const samples = await history.list('gw-1', { limit: 10 });
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatchObject({ status: 'ok', publishedRecords: 100, ackedRecords: 1190, storeRecords: 123, droppedRecords: 14, uplinkConnected: true });
    expect(samples[0]?.ts).toBeGreaterThanOrEqual(before);
    // The registry has the newest report; the chart has the minute's first.
    expect((await registry.store.get('gw-1'))?.healthReport).toMatchObject({ uplink: { publishedRecords: 104 } });
    // A fleet started again within the minute remembers nothing, and the database keeps the interval.
    const again = new Ingest(db.sql, metrics);
    await again.accept(gatewayTopics.health('gw-1'), enc({ ...healthReport('gw-1', { published: 200 }), ts: Date.now() + 10 }));
    await again.close();
    expect(await history.list('gw-1', { limit: 10 })).toHaveLength(1);
    expect((await registry.store.get('gw-1'))?.healthReport).toMatchObject({ uplink: { publishedRecords: 200 } });
  });

  it('keeps the same record id from two gateways apart', async () => {
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-1', [alert('x')]));
    await ingest.accept(gatewayTopics.records('gw-2'), batch('gw-2', [alert('x')]));
    expect(await new EventStore(db.sql).count()).toBe(2);
  });

  it('sorts results into vision events and summaries, counts telemetry without storing it', async () => {
    const records: WireRecord[] = [
      { id: 't1', stream: 'press', class: 'telemetry', ts: 10, data: { values: { a: [1] } } },
      { id: 't2', stream: 'press', class: 'telemetry', ts: 20, data: { values: { a: [2] } } },
      { id: 'v1', stream: 'cam.events', class: 'result', ts: 30, data: { event: 'defect', crop: { png: new Uint8Array([137, 80]) }, model: { name: 'defects' } } },
      { id: 's1', stream: 'press.anomaly', class: 'result', ts: 40, data: { peakScore: 0.1 } },
    ];
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-1', records));
    const events = await new EventStore(db.sql).query({ limit: 10 });
    expect(events.map((e) => [e.recordId, e.kind])).toEqual([
      ['s1', 'summary'],
      ['v1', 'event'],
    ]);
    expect(events[1]?.data).toMatchObject({ crop: { png: { $base64: 'iVA=' } } });
    expect((await registry.store.get('gw-1'))?.telemetry).toEqual({ records: 2, lastMs: 20 });
  });

  it('tracks online, offline and the Last Will in the order they arrive, though the Will was stamped before the online', async () => {
    // The gateway stamps its Will when it connects (ts 1000), then says online (ts 2000).
    await ingest.accept(gatewayTopics.state('gw-1'), encodeState({ gw: 'gw-1', state: 'online', ts: 2000, clean: true, runtimeVersion: '0.1.0' }));
    expect(await registry.store.get('gw-1')).toMatchObject({ status: 'online', online: true, runtimeVersion: '0.1.0' });
    // It crashes: the broker publishes the Will.
    await ingest.accept(gatewayTopics.state('gw-1'), encodeState({ gw: 'gw-1', state: 'offline', ts: 1000, clean: false, runtimeVersion: '0.1.0' }));
    expect(await registry.store.get('gw-1')).toMatchObject({ status: 'offline', stateClean: false });
    await ingest.accept(gatewayTopics.state('gw-1'), encodeState({ gw: 'gw-1', state: 'online', ts: 3000, clean: true, runtimeVersion: '0.1.1' }));
    expect(await registry.store.get('gw-1')).toMatchObject({ status: 'online', runtimeVersion: '0.1.1' });
  });

  it('keeps the latest health report with its degraded reasons, hardware and releases', async () => {
    await ingest.accept(gatewayTopics.state('gw-1'), encodeState({ gw: 'gw-1', state: 'online', ts: 1, clean: true, runtimeVersion: '0.1.0' }));
    const hardware = { arch: 'arm64', platform: 'linux', cpus: 4, memoryBytes: 4e9, accelerators: ['cpu'] };
    const releases = { press: { active: { release: 7, version: '2026.11', sha256: 'ab' }, standby: { release: 6, version: '2026.10', sha256: 'cd' } } };
    await ingest.accept(gatewayTopics.health('gw-1'), enc(health('gw-1', 5000, { hardware, releases })));
    const g = await registry.store.get('gw-1');
    expect(g).toMatchObject({ status: 'degraded', hardware, releases, health: { status: 'degraded', reasons: ['uplink: disconnected'], ts: 5000 } });
    expect(g?.healthReport).toMatchObject({ uptimeS: 5 });
    expect((await registry.store.list({ limit: 10, model: 'press', release: 7 })).map((x) => x.id)).toEqual(['gw-1']);
    expect(await registry.store.list({ limit: 10, model: 'press', release: 6 })).toEqual([]);
  });

  it('writes a gateway\'s health at most once per interval, the newest one, checked when it is written', async () => {
    await ingest.accept(gatewayTopics.health('gw-1'), enc(health('gw-1', 1000, { uptimeS: 1 })));
    expect((await registry.store.get('gw-1'))?.healthReport).toMatchObject({ uptimeS: 1 });
    // Within the interval: they wait in memory, the newest replacing the others.
    await ingest.accept(gatewayTopics.health('gw-1'), enc(health('gw-1', 2000, { uptimeS: 2 })));
    await ingest.accept(gatewayTopics.health('gw-1'), enc(health('gw-1', 3000, { uptimeS: 3, status: 'ok', reasons: [] })));
    expect((await registry.store.get('gw-1'))?.healthReport).toMatchObject({ uptimeS: 1 });
    await ingest.close();
    expect(await registry.store.get('gw-1')).toMatchObject({ health: { status: 'ok', ts: 3000 }, healthReport: { uptimeS: 3 } });
  });

  it('drops a waiting health report that turns out invalid when it is written, and counts it', async () => {
    await ingest.accept(gatewayTopics.health('gw-1'), enc(health('gw-1', 1000)));
    await ingest.accept(gatewayTopics.health('gw-1'), enc({ gw: 'gw-1', status: 'fine' }));
    await ingest.close();
    expect((await registry.store.get('gw-1'))?.health).toMatchObject({ ts: 1000 });
    expect(await metricValue(metrics, 'edgewise_fleet_ingest_dropped_total', { kind: 'health', reason: 'invalid' })).toBe(1);
  });

  it('keeps each update step in order, the newest 200 per gateway', async () => {
    for (let i = 0; i < 205; i += 1) {
      await ingest.accept(gatewayTopics.updateReport('gw-1'), encodeUpdateReport({ gw: 'gw-1', model: 'press', target: 'models/press/2/model.onnx', release: 2, version: '1.2', step: i % 2 === 0 ? 'download' : 'install', outcome: 'ok', reason: null, ts: i }));
    }
    const g = await registry.store.get('gw-1');
    expect(g?.updateSteps).toHaveLength(200);
    expect(g?.updateSteps[0]?.ts).toBe(204);
    expect(g?.updateSteps.at(-1)?.ts).toBe(5);
  });

  it('drops what a gateway says about another gateway, and messages on topics it does not know', async () => {
    await ingest.accept(gatewayTopics.state('gw-1'), encodeState({ gw: 'gw-2', state: 'online', ts: 1, clean: true, runtimeVersion: '0.1.0' }));
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-2', [alert('a')]));
    await ingest.accept(gatewayTopics.records('gw-1'), batch('gw-1', [alert('b')]), 'gw-2');
    await ingest.accept('edgewise/v1/gw/gw-1/other', enc({}));
    expect(await registry.store.get('gw-2')).toMatchObject({ status: 'never-seen' });
    expect(await new EventStore(db.sql).count()).toBe(0);
    expect(await metricValue(metrics, 'edgewise_fleet_ingest_dropped_total')).toBe(4);
  });

  it('drops and counts malformed messages of every kind, changing nothing', async () => {
    const before = await db.sql.query('SELECT * FROM gateways ORDER BY id');
    const topics = [gatewayTopics.records('gw-1'), gatewayTopics.state('gw-1'), gatewayTopics.health('gw-1'), gatewayTopics.updateReport('gw-1')];
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.jsonValue().map((v) => enc(v)),
      fc.record({ gw: fc.constant('gw-1'), ts: fc.oneof(fc.double(), fc.string()), state: fc.string(), status: fc.string(), reasons: fc.anything() }).map(enc),
      fc.constant(new Uint8Array(300_000).fill(0x7b)),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...topics), payload, async (topic, bytes) => {
        await ingest.accept(topic, bytes);
        n += 1;
      }),
      { numRuns: 150, seed: 3 },
    );
    expect(await db.sql.query('SELECT * FROM gateways ORDER BY id')).toEqual(before);
    expect(await new EventStore(db.sql).count()).toBe(0);
    expect(await metricValue(metrics, 'edgewise_fleet_ingest_dropped_total')).toBe(n);
  });

  it('commits many messages from many gateways together and acknowledges each only after its commit', async () => {
    for (let i = 0; i < 50; i += 1) await registry.provision({ id: `bulk-${i}` });
    const all = Array.from({ length: 50 }, (_, i) =>
      Promise.all([
        ingest.accept(gatewayTopics.state(`bulk-${i}`), encodeState({ gw: `bulk-${i}`, state: 'online', ts: 1, clean: true, runtimeVersion: '0.1.0' })),
        ingest.accept(gatewayTopics.records(`bulk-${i}`), batch(`bulk-${i}`, [alert(`r${i}`)])),
      ]),
    );
    await Promise.all(all);
    expect(await new EventStore(db.sql).count()).toBe(50);
    expect((await registry.store.count()).online).toBe(50);
    const commits = await metricValue(metrics, 'edgewise_fleet_db_seconds_count', { op: 'ingest-commit' });
    expect(commits).toBeLessThan(100);
  });
});

describe.each(BACKENDS)('ingest poison messages on %s', (backend) => {
  const db = useFleetDb(backend);

  it('drops a message the database refuses for its content, and commits the rest of its batch', async () => {
    await db.reset();
    const registry = new Registry(db.sql);
    const metrics = new FleetMetrics();
    const ingest = new Ingest(db.sql, metrics);
    await registry.provision({ id: 'gw-1' });
    await registry.provision({ id: 'gw-2' });
    // A lone surrogate in a key: valid JSON text, refused by jsonb.
    const poison = new TextEncoder().encode(JSON.stringify(health('gw-1', 5)).replace('"uptimeS"', '"\\ud800"'));
    const results = await Promise.allSettled([
      ingest.accept(gatewayTopics.records('gw-2'), batch('gw-2', [alert('ok-1')])),
      ingest.accept(gatewayTopics.health('gw-1'), poison),
      ingest.accept(gatewayTopics.records('gw-2'), batch('gw-2', [alert('ok-2')])),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await new EventStore(db.sql).count()).toBe(2);
    expect(await metricValue(metrics, 'edgewise_fleet_ingest_dropped_total', { kind: 'health', reason: 'invalid' })).toBe(1);
  });

  it('does not acknowledge anything while the database is down', async () => {
    const { openPglite } = await import('../../../fleet/db/pglite.js');
    const { migrate } = await import('../../../fleet/db/migrate.js');
    const sql = backend === 'pglite' ? await openPglite(undefined) : await (await import('../../../fleet/db/postgres.js')).openPostgres(db.url as string);
    if (backend === 'pglite') await migrate(sql);
    const ingest = new Ingest(sql, new FleetMetrics());
    await sql.close();
    await expect(ingest.accept(gatewayTopics.records('gw-2'), batch('gw-2', [alert('x')]))).rejects.toMatchObject({ code: 'E_DB' });
    expect(ingest.stats().lastError).not.toBeNull();
  });
});
