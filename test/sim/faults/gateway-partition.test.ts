import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../../fleet/protocol/index.js';
import { FaultLog } from '../../../sim/faults/fault-log.js';
import { GatewaySupervisor } from '../../../sim/faults/gateway-supervisor.js';
import { TcpProxy, type CutMode } from '../../../sim/faults/tcp-proxy.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { assertBuilt } from '../../support/gateway-process.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { RecordCollector } from '../../support/record-collector.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * The proxy as the simulator uses it: a real gateway process whose uplink goes through it to
 * Debian's Mosquitto, and a fleet-side subscriber straight on the broker.
 */
describe('a gateway process partitioned from its broker by the TcpProxy', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: Mosquitto;
  let proxy: TcpProxy;
  let collector: RecordCollector;
  let gateway: GatewaySupervisor | undefined;
  let log: FaultLog;
  beforeEach(async () => {
    assertBuilt();
    dir = await makeTempDir();
    broker = await Mosquitto.create(dir.path);
    log = new FaultLog();
    proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: broker.port, name: 'gw-p', log });
    collector = await RecordCollector.connect(broker.url, 'fleet-test');
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    await collector.close();
    await proxy.close();
    await broker.stop();
    await dir.remove();
  });

  for (const mode of ['blackhole', 'reset'] as const satisfies readonly CutMode[]) {
    it(`${mode}: the gateway loses its uplink, keeps storing, and after the restore the fleet has every record`, { timeout: 90_000 }, async () => {
      const configPath = join(dir.path, 'gw-p.yaml');
      // keepaliveS 1: a blackholed link is noticed within about 2 s (mqtt.js waits 1.5 keepalives for PINGRESP).
      await writeFile(
        configPath,
        testGatewayConfig({ id: 'gw-p', dataDir: join(dir.path, 'data'), url: proxy.url, sources: [{ id: 's1', rateHz: 50 }], healthListen: '127.0.0.1:0', logLevel: 'info' }).replace('connectTimeoutMs: 2000', 'connectTimeoutMs: 2000\n  keepaliveS: 1'),
      );
      const g = new GatewaySupervisor({ id: 'gw-p', configPath });
      gateway = g;
      await g.start();
      const health = async (): Promise<HealthReport> => (await fetch(g.healthUrl as string)).json() as Promise<HealthReport>;
      await waitFor(async () => (await health()).uplink.connected, 'the uplink through the proxy');
      await waitFor(() => collector.count >= 50, 'a second of records at the fleet');

      proxy.cut(mode);
      await waitFor(async () => !(await health()).uplink.connected, 'the gateway to notice the cut', 20_000);
      const storedAtCut = (await health()).sources[0]?.stored ?? 0;
      await waitFor(async () => ((await health()).sources[0]?.stored ?? 0) >= storedAtCut + 100, 'two seconds of records stored while cut off');
      expect((await health()).uplink.connected).toBe(false);
      const deliveredDuringCut = collector.count;

      proxy.restore();
      await waitFor(async () => (await health()).uplink.connected, 'the uplink back after the restore', 20_000);
      const stored = (await health()).sources[0]?.stored ?? 0;
      const [stream] = [...collector.firstSeenOrder.keys()];
      const expected = new Map([[stream as string, { records: stored, step: 1 }]]);
      await waitFor(() => collector.missing(expected).size === 0, `every one of the ${stored} records stored by now at the fleet`, 30_000);
      expect(collector.count).toBeGreaterThan(deliveredDuringCut);
      expect(collector.outOfOrderStreams()).toEqual([]);
      expect((await health()).uplink.reconnects).toBeGreaterThanOrEqual(1);
      expect(log.entries().map((e) => [e.kind, e.action, e.detail['mode']])).toEqual([
        ['partition', 'start', mode],
        ['partition', 'end', mode],
      ]);
    });
  }
});
