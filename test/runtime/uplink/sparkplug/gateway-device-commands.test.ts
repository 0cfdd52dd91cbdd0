import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../runtime/config/load.js';
import { Gateway } from '../../../../runtime/gateway.js';
import { builtinRegistry } from '../../../../runtime/plugins.js';
import { PymodbusSim } from '../../../support/pymodbus-sim.js';
import { SparkplugHost } from '../../../support/sparkplug-host.js';
import { SparkplugGatewayRig } from '../../../support/sparkplug-gateway-rig.js';
import { waitFor } from '../../../support/wait-for.js';

// A gateway polls a Modbus TCP slave (pymodbus) every 100 ms and is a Sparkplug edge node on a
// plant broker. A host sets the setpoint with a DCMD: the gateway writes the register, and the
// next polls carry the new value back to the host in DDATA. A metric the host may not write is
// refused and the register keeps its value; one the Sparkplug config would let it write while its
// Modbus point is read-only fails the config check.

describe('a Sparkplug host writing a Modbus point through the gateway', () => {
  let rig: SparkplugGatewayRig;
  beforeEach(async () => {
    rig = await SparkplugGatewayRig.create('edgewise-spbwrite-');
  });
  afterEach(() => rig.close());

  it('writes the register a DCMD sets and reports the value read back; refuses a metric that is not writable, and --check a writable metric on a read-only point', async () => {
    // Holding 0-1: the setpoint (float32, 20.0 = 0x41a00000); holding 4: a limit of 7.
    const s = rig.later(await PymodbusSim.start({ tcp: true, slaves: { 1: { holding: [0x41a0, 0x0000, 0, 0, 7, 0] } } }), (x) => x.stop());
    const h = rig.later(await SparkplugHost.attach(rig.plant, 'Plant1'), (x) => x.close());
    const { dir, fleet, plant } = rig;
    const registry = builtinRegistry();
    const yaml = `
gateway: { id: gw-write, dataDir: ${JSON.stringify(`${dir.path}/gw`)}, shutdownTimeoutMs: 5000 }
store: { sync: false }
uplink: { url: ${fleet.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
log: { level: warn }
health: { listen: 127.0.0.1:0 }
devices:
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${s.tcpPort} }
    timeoutMs: 500
    retries: 1
    slaves:
      - unit: 1
        name: press
        groups:
          - name: fast
            intervalMs: 100
            points:
              - { name: setpoint, table: holding, address: 0, type: float32, unit: degC, write: true }
              - { name: limit, table: holding, address: 4, type: int16 }
sparkplug:
  url: ${plant.url}
  groupId: Plant1
  edgeNodeId: gw-write
  reconnect: { minDelayMs: 50, maxDelayMs: 200 }
  sources:
    - id: plc
      deviceId: press
      metrics:
        - { name: setpoint, type: Float, unit: degC, write: true }
        - { name: limit, type: Int16 }
`;
    // A metric the host may write must be a point the Modbus config lets be written: --check says so, with the line.
    const writableLimit = yaml.replace('{ name: limit, type: Int16 }', '{ name: limit, type: Int16, write: true }');
    const line = writableLimit.split('\n').findIndex((l) => l.includes('{ name: limit, type: Int16, write: true }')) + 1;
    expect(() => parseConfig(writableLimit, 'test', registry)).toThrow(
      `sparkplug.sources[0].metrics[1].write: expected a value its source can write (point limit of slave press (unit 1) has no \`write: true\` in its Modbus config), got write: true (line ${line})`,
    );
    const gw = rig.later(await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) }), (x) => x.stop());
    await gw.start();
    const sp = () => gw.health().sparkplug;

    const birth = await waitFor(() => h.of('DBIRTH')[0], 'the DBIRTH of the press');
    const alias = (name: string): number => birth.metrics.find((m) => m.name === name)?.alias as number;
    /** The latest value of a metric the host has seen in DDATA. */
    const latest = (name: string): unknown =>
      h
        .of('DDATA')
        .flatMap((m) => m.metrics)
        .filter((m) => m.alias === alias(name))
        .at(-1)?.value;
    await waitFor(() => latest('setpoint') === 20, 'the setpoint as read before the write');

    // The host sets the setpoint by alias, as Ignition does after the birth.
    await h.commandDevice('gw-write', 'press', [{ alias: alias('setpoint'), type: 'Float', value: 42.5 }]);
    await waitFor(() => latest('setpoint') === 42.5, 'the written setpoint read back from the slave', 15_000);
    expect(sp()).toMatchObject({ deviceCommands: 1, writes: 1, writesFailed: 0, writesRefused: 0 });

    // Not writable: the edge node refuses, nothing reaches the slave.
    await h.commandDevice('gw-write', 'press', [{ alias: alias('limit'), type: 'Int16', value: 99 }]);
    await waitFor(() => sp()?.writesRefused === 1, 'the refused write counted');
    const plc = (): Record<string, unknown> => gw.health().sources.find((x) => x.id === 'plc')?.details ?? {};
    const polls = plc()['polls'] as number;
    await waitFor(() => (plc()['polls'] as number) > polls + 3, 'a few more polls');
    expect(latest('limit')).toBe(7);
    expect(plc()).toMatchObject({ writes: 1, writesRefused: 0 });
    // What an operator alerts on: the outcomes of the host's writes in /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${String(gw.healthPort)}/metrics`)).text();
    expect(metrics).toContain('edgewise_sparkplug_writes_total{outcome="written"} 1');
    expect(metrics).toContain('edgewise_sparkplug_writes_total{outcome="refused"} 1');
    expect(metrics).toContain('edgewise_sparkplug_writes_total{outcome="failed"} 0');
  }, 60_000);
});
