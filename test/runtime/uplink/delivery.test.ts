import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { RecordCollector } from '../../support/record-collector.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/** A broker the test can take down and bring back on the same port, and a fleet subscriber of it. */
interface TestBroker {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  subscribe(): Promise<RecordCollector>;
}

const brokers: { name: string; create: (dir: string) => Promise<TestBroker> }[] = [
  {
    // An external broker: the fleet is an MQTT client with a persistent session, and it is
    // cut off by the outage like the gateway (Mosquitto persists its session across the restart).
    name: "Debian's Mosquitto",
    create: async (dir) => {
      const m = await Mosquitto.create(dir, { persistence: true });
      return { url: m.url, stop: () => m.stop(), start: () => m.start(), close: () => m.stop(), subscribe: () => RecordCollector.connect(m.url, 'fleet-test-subscriber', true) };
    },
  },
  {
    // The embedded broker: the fleet service runs beside it and subscribes in-process; the
    // outage takes its listener down, cutting the gateways off.
    name: 'the embedded aedes broker',
    create: async () => {
      const b = await EmbeddedBroker.create();
      return { url: b.url, stop: () => b.stop(), start: () => b.start(), close: () => b.close(), subscribe: () => RecordCollector.attach(b) };
    },
  },
];

const OUTAGE_MS = 3000;

describe.each(brokers)('delivery through $name', ({ create }) => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: TestBroker;
  let collector: RecordCollector | undefined;
  let gateway: Gateway | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
    broker = await create(dir.path);
  });
  afterEach(async () => {
    await gateway?.stop();
    await collector?.close();
    await broker.close();
    await dir.remove();
  });

  it('loses nothing and keeps each stream in order when the broker is down for seconds mid-stream', async () => {
    collector = await broker.subscribe();
    const registry = builtinRegistry();
    const dataDir = `${dir.path}/gw`;
    const config = parseConfig(
      testGatewayConfig({
        id: 'gw-outage',
        dataDir,
        url: broker.url,
        sources: [
          { id: 'press-1', rateHz: 2000 },
          { id: 'press-2', rateHz: 500, samplesPerRecord: 5 },
        ],
      }),
      'test',
      registry,
    );
    const gw = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    gateway = gw;
    await gw.start();
    const c = collector;

    await waitFor(() => c.count > 2000, 'records flowing before the outage');
    await broker.stop();
    await waitFor(() => !gw.uplink.stats().connected, 'the gateway to notice the outage');
    const queuedAtStop = gw.outbox.size;
    const outageStart = Date.now();
    // The outage lasts OUTAGE_MS of production: the outbox must keep growing meanwhile.
    await waitFor(() => Date.now() - outageStart >= OUTAGE_MS && gw.outbox.size > queuedAtStop + 3000, 'records piling up in the outbox during the outage', OUTAGE_MS + 10_000, 50);
    const receivedDuringOutage = c.count;
    await broker.start();
    await waitFor(() => gw.uplink.stats().connected && c.count > receivedDuringOutage + 3000, 'the backlog arriving after the broker returns');

    // Stop production; the store keeps whatever the uplink has not sent yet.
    await gw.stop();
    gateway = undefined;
    const step: Record<string, number> = { 'press-1': 1, 'press-2': 5 };
    const expected = new Map(gw.pipelines.map((p) => [p.sourceStats().id, { records: p.sourceStats().stored, step: step[p.sourceStats().id] ?? 1 }]));
    expect([...expected.values()].every((e) => e.records > 0)).toBe(true);
    expect(gw.pipelines.reduce((n, p) => n + p.sourceStats().dropped, 0)).toBe(0);

    // A gateway restarted on the same data (no sources) delivers the rest.
    const drainConfig = parseConfig(testGatewayConfig({ id: 'gw-outage', dataDir, url: broker.url }), 'test', registry);
    const drainer = await Gateway.create(drainConfig, registry, { logger: pino({ level: 'silent' }) });
    gateway = drainer;
    await drainer.start();
    const total = [...expected.values()].reduce((a, e) => a + e.records, 0);
    await waitFor(() => drainer.outbox.size === 0 && c.count >= total, `all ${total} records at the subscriber`, 30_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; got ${c.count}, outbox holds ${drainer.outbox.size}, missing ${JSON.stringify([...c.missing(expected)].map(([s, l]) => [s, l.length, l.slice(0, 5)]))}`);
    });

    expect(c.missing(expected)).toEqual(new Map());
    expect(c.count).toBe(total);
    expect(c.outOfOrderStreams()).toEqual([]);
    expect(c.outOfOrderByStoreOrder()).toEqual([]);
    expect(c.rejected + c.invalid).toBe(0);
    expect(gw.uplink.stats().reconnects).toBeGreaterThanOrEqual(1);
  });
});
