import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../runtime/config/load.js';
import { Gateway } from '../../../../runtime/gateway.js';
import { builtinRegistry } from '../../../../runtime/plugins.js';
import { PymodbusSim } from '../../../support/pymodbus-sim.js';
import { SparkplugHost, type HostMessage } from '../../../support/sparkplug-host.js';
import { SparkplugGatewayRig } from '../../../support/sparkplug-gateway-rig.js';
import { waitFor } from '../../../support/wait-for.js';

// A gateway polls one Modbus TCP slave (pymodbus) every 100 ms and is a Sparkplug edge node on
// a plant broker; a host in the broker's process sees every message. The slave goes silent, then
// the whole simulator dies (the TCP endpoint gone): each time the host must see the device's
// DDEATH, and DBIRTH then DDATA when it answers again, on one connection with seq running on.

const TOPIC = 'spBv1.0/Plant1';

describe('a sparkplug gateway whose modbus device stops answering', () => {
  let rig: SparkplugGatewayRig;
  beforeEach(async () => {
    rig = await SparkplugGatewayRig.create('edgewise-spblive-');
  });
  afterEach(() => rig.close());

  it('sends DDEATH for the device when its slave goes silent or its endpoint dies, and DBIRTH then DDATA when it answers again', async () => {
    const s = rig.later(await PymodbusSim.start({ tcp: true }), (x) => x.stop());
    const h = rig.later(await SparkplugHost.attach(rig.plant, 'Plant1'), (x) => x.close());
    const { dir, fleet, plant } = rig;
    const topics: string[] = [];
    rig.later(await plant.subscribe(`${TOPIC}/#`, (topic) => void topics.push(topic)), (unsubscribe) => unsubscribe());
    const registry = builtinRegistry();
    const yaml = `
gateway: { id: gw-live, dataDir: ${JSON.stringify(`${dir.path}/gw`)}, shutdownTimeoutMs: 5000 }
store: { sync: false }
uplink: { url: ${fleet.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
log: { level: warn }
devices:
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${s.tcpPort} }
    timeoutMs: 200
    retries: 0
    reopen: { minDelayMs: 100, maxDelayMs: 400 }
    slaves:
      - unit: 1
        name: s1
        groups:
          - name: fast
            intervalMs: 100
            points:
              - { name: id, table: holding, address: 100 }
sparkplug:
  url: ${plant.url}
  groupId: Plant1
  edgeNodeId: gw-live
  reconnect: { minDelayMs: 50, maxDelayMs: 200 }
  sources:
    - id: plc
      deviceId: press
      metrics:
        - { name: id, type: UInt16 }
`;
    const gw = rig.later(await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) }), (x) => x.stop());
    await gw.start();

    const device = (type: string): string => `${TOPIC}/${type}/gw-live/press`;
    /** The messages from `from` on, as "TYPE device". */
    const since = (from: number): string[] => h.messages.slice(from).map((m) => `${m.type} ${m.device ?? ''}`);
    /** The index of the first DDEATH from message `from` on (undefined: none yet). */
    const deathAfter = (from: number): number | undefined => {
      const k = h.messages.findIndex((m, i) => i >= from && m.type === 'DDEATH');
      return k < 0 ? undefined : k;
    };
    /** Waits for a DDATA of the device after message `from`, and checks the id it carries. */
    const dataAfter = async (from: number, what: string): Promise<void> => {
      const m = await waitFor(() => h.messages.slice(from).find((x) => x.type === 'DDATA'), what, 15_000);
      expect(m.metrics.map((x) => x.value)).toContain(1); // HR100 = the unit id
    };

    await waitFor(() => h.of('DDATA').length >= 3, 'DDATA of the answering slave', 15_000);
    expect(since(0).slice(0, 3)).toEqual(['NBIRTH ', 'DBIRTH press', 'DDATA press']);

    // The slave goes silent: after DEGRADED_AFTER_FAILED_POLLS failed polls the source stops answering.
    await s.command('silent 1');
    const death1 = await waitFor(() => deathAfter(0), 'the DDEATH of the silent slave', 15_000);
    expect(topics).toContain(device('DDEATH'));
    expect(h.messages[death1]?.metrics).toEqual([]);
    expect(gw.health().sparkplug?.deviceDeaths).toBe(1);
    await s.command('answer 1');
    await dataAfter(death1, 'DDATA after the slave answers again');
    expect(since(death1).slice(0, 3)).toEqual(['DDEATH press', 'DBIRTH press', 'DDATA press']);

    // The simulator dies (connection refused): the same, through the bus not being open.
    const before = h.messages.length;
    await s.pullCable();
    const death2 = await waitFor(() => deathAfter(before), 'the DDEATH of the dead endpoint', 15_000);
    await s.plugIn();
    await dataAfter(death2, 'DDATA after the endpoint is back');
    expect(since(death2).slice(0, 3)).toEqual(['DDEATH press', 'DBIRTH press', 'DDATA press']);
    expect(gw.health().sparkplug?.deviceDeaths).toBe(2);

    // One connection throughout: one NBIRTH, and seq running on over DBIRTH, DDATA and DDEATH.
    expect(h.of('NBIRTH')).toHaveLength(1);
    const seqs = h.messages.map((m: HostMessage) => m.seq);
    expect(seqs[0]).toBe(0);
    seqs.forEach((q, k) => expect(q).toBe(k % 256));
    expect(topics.filter((t) => t.includes('/DDEATH/'))).toEqual([device('DDEATH'), device('DDEATH')]);
    expect(topics.filter((t) => t.includes('/DBIRTH/'))).toEqual([device('DBIRTH'), device('DBIRTH'), device('DBIRTH')]);
  });
});
