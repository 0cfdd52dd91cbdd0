import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../runtime/config/load.js';
import { Gateway } from '../../../../runtime/gateway.js';
import { builtinRegistry } from '../../../../runtime/plugins.js';
import { PymodbusSim } from '../../../support/pymodbus-sim.js';
import { SparkplugGatewayRig } from '../../../support/sparkplug-gateway-rig.js';
import { SparkplugHost, type HostMessage } from '../../../support/sparkplug-host.js';
import { waitFor } from '../../../support/wait-for.js';

// One Modbus TCP bus with two slaves (pymodbus: holding 100 holds the unit id, 110.. zeros), each
// its own Sparkplug device (`sparkplug.sources[].id: plc.<slave>`). Points of the same name on
// the two slaves stay apart; a DCMD to one device writes its slave only; a silent slave is a
// DDEATH of its device only.

describe('a Modbus bus whose slaves are Sparkplug devices of their own', () => {
  let rig: SparkplugGatewayRig;
  beforeEach(async () => {
    rig = await SparkplugGatewayRig.create('edgewise-spbslaves-');
  });
  afterEach(() => rig.close());

  it('keeps the slaves apart: their values, a DCMD to one of them, and the DDEATH of the one that goes silent', async () => {
    const s = rig.later(await PymodbusSim.start({ tcp: true }), (x) => x.stop());
    const h = rig.later(await SparkplugHost.attach(rig.plant, 'Plant1'), (x) => x.close());
    const group = (unit: number): string => `
      - unit: ${unit}
        name: s${unit}
        groups:
          - name: fast
            intervalMs: 100
            points:
              - { name: id, table: holding, address: 100 }
              - { name: spare, table: holding, address: 110, write: true }`;
    const device = (unit: number): string => `
    - id: plc.s${unit}
      deviceId: press${unit}
      metrics:
        - { name: id, type: UInt16 }
        - { name: spare, type: UInt16, write: true }`;
    const yaml = `
gateway: { id: gw-slaves, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)}, shutdownTimeoutMs: 5000 }
store: { sync: false }
uplink: { url: ${rig.fleet.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
log: { level: warn }
devices:
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${s.tcpPort} }
    timeoutMs: 200
    retries: 0
    slaves:${group(1)}${group(2)}
sparkplug:
  url: ${rig.plant.url}
  groupId: Plant1
  edgeNodeId: gw-slaves
  reconnect: { minDelayMs: 50, maxDelayMs: 200 }
  sources:${device(1)}${device(2)}
`;
    const registry = builtinRegistry();
    // A part that none of the bus's streams is: --check says so, with the line, instead of a device that never gets a record.
    const typo = yaml.replace('- id: plc.s2', '- id: plc.s9');
    const line = typo.split('\n').findIndex((l) => l.includes('- id: plc.s9')) + 1;
    expect(() => parseConfig(typo, 'test', registry)).toThrow(`sparkplug.sources[1].id: expected a source id or a prefix of its streams (plc.s1.fast, plc.s2.fast), got "plc.s9" (line ${line})`);
    const gw = rig.later(await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) }), (x) => x.stop());
    await gw.start();

    await waitFor(() => h.of('DBIRTH').length === 2, 'the births of both slaves');
    const alias = (d: string, name: string): number => h.of('DBIRTH').find((m) => m.device === d)?.metrics.find((m) => m.name === name)?.alias as number;
    const values = (d: string, name: string, from = 0): unknown[] =>
      h.messages
        .slice(from)
        .filter((m: HostMessage) => m.type === 'DDATA' && m.device === d)
        .flatMap((m) => m.metrics.filter((x) => x.alias === alias(d, name)).map((x) => x.value));
    await waitFor(() => values('press1', 'id').length > 3 && values('press2', 'id').length > 3, 'DDATA of both slaves');
    // Each device carries its own slave's unit id, never the other's.
    expect(new Set(values('press1', 'id'))).toEqual(new Set([1]));
    expect(new Set(values('press2', 'id'))).toEqual(new Set([2]));

    // A DCMD to press2's spare writes slave 2's register only.
    await h.commandDevice('gw-slaves', 'press2', [{ alias: alias('press2', 'spare'), type: 'UInt16', value: 77 }]);
    await waitFor(() => values('press2', 'spare').at(-1) === 77, "press2's spare read back", 15_000);
    const afterWrite = h.messages.length;
    await waitFor(() => values('press1', 'spare', afterWrite).length > 2, 'more DDATA of press1');
    expect(new Set(values('press1', 'spare'))).toEqual(new Set([0]));

    // Slave 2 goes silent: DDEATH of press2 alone; press1's data goes on.
    await s.command('silent 2');
    const death = await waitFor(() => h.messages.findIndex((m) => m.type === 'DDEATH') + 1 || undefined, 'a DDEATH', 15_000);
    expect(h.messages[death - 1]?.device).toBe('press2');
    await waitFor(() => values('press1', 'id', death).length > 3, 'press1 still sending after the DDEATH');
    expect(h.of('DDEATH').map((m) => m.device)).toEqual(['press2']);
    expect(gw.health().sparkplug).toMatchObject({ writes: 1, deviceDeaths: 1 });
  }, 60_000);
});
