import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../../fleet/broker/embedded-broker.js';
import { EventLog } from '../../../../runtime/health/events.js';
import { Registry } from '../../../../runtime/health/prom-client.js';
import { BdSeqStore } from '../../../../runtime/uplink/sparkplug/bd-seq.js';
import { MAX_COMMAND_METRICS, MAX_PENDING_WRITES } from '../../../../runtime/uplink/sparkplug/device-commands.js';
import { SparkplugEdgeNode } from '../../../../runtime/uplink/sparkplug/edge-node.js';
import { sparkplugSettings, type SparkplugSection } from '../../../../runtime/uplink/sparkplug/schema.js';
import { MemoryFeed } from '../../../support/sparkplug-memory-feed.js';
import { SparkplugHost } from '../../../support/sparkplug-host.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { waitFor } from '../../../support/wait-for.js';

const SOURCES: SparkplugSection['sources'] = [
  {
    id: 'plc-1',
    deviceId: 'press',
    metrics: [
      { name: 'setpoint', type: 'Float', write: true },
      { name: 'offset', type: 'Int16', write: true },
      { name: 'enabled', type: 'Boolean', write: true },
      { name: 'temperature', type: 'Double' },
    ],
  },
];

describe('DCMD: a Sparkplug host sets writable metrics', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let host: SparkplugHost | undefined;
  let node: SparkplugEdgeNode | undefined;
  const events = new EventLog(pino({ level: 'silent' }), new Registry()).for('sparkplug');

  beforeEach(async () => {
    dir = await makeTempDir('edgewise-spbcmd-');
    broker = await EmbeddedBroker.create();
  });
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    await host?.close();
    host = undefined;
    await broker.close();
    await dir.remove();
  });

  /** The edge node with a writer that records each write (and fails or hangs those told to). */
  async function startNode(behaviour: (metric: string) => 'ok' | 'fail' | 'hang' = () => 'ok') {
    const writes: { source: string; metric: string; value: unknown }[] = [];
    const settings = sparkplugSettings({ url: broker.url, groupId: 'Plant1', edgeNodeId: 'gw-01', sources: SOURCES, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    const n = new SparkplugEdgeNode(new MemoryFeed(), settings, {}, await BdSeqStore.open(`${dir.path}/state`), events, async (source, metric, value) => {
      writes.push({ source, metric, value });
      const b = behaviour(metric);
      if (b === 'fail') throw Object.assign(new Error('slave 1 answered exception 2 (illegal data address)'), { code: 'E_MODBUS_EXCEPTION' });
      if (b === 'hang') await new Promise(() => undefined);
    });
    node = n;
    n.start();
    const h = await SparkplugHost.connect(broker.url, 'Plant1');
    host = h;
    await waitFor(() => n.stats().born && h.of('DBIRTH').length > 0, 'the births');
    return { n, h, writes };
  }

  it('writes metrics named by alias (as hosts do after the DBIRTH) or by name, each as its datatype, through the source of the device', async () => {
    const { n, h, writes } = await startNode();
    const alias = (name: string): number => n.deviceDefs[0]?.byName.get(name)?.alias as number;
    await h.commandDevice('gw-01', 'press', [
      { alias: alias('setpoint'), type: 'Float', value: 42.5 },
      { alias: alias('offset'), type: 'Int16', value: -300 },
    ]);
    await h.commandDevice('gw-01', 'press', [{ name: 'enabled', type: 'Boolean', value: true }]);
    await waitFor(() => n.stats().writes === 3, 'three writes confirmed');
    expect(writes).toEqual([
      { source: 'plc-1', metric: 'setpoint', value: 42.5 },
      { source: 'plc-1', metric: 'offset', value: -300 },
      { source: 'plc-1', metric: 'enabled', value: true },
    ]);
    expect(n.stats()).toMatchObject({ deviceCommands: 2, writes: 3, writesRefused: 0, writesFailed: 0 });
  });

  it('refuses, counts and writes nothing for a read-only or unknown metric, a value of the wrong kind, an unknown device, or too many writes waiting', async () => {
    const { n, h, writes } = await startNode((m) => (m === 'setpoint' ? 'hang' : 'ok'));
    await h.commandDevice('gw-01', 'press', [
      { name: 'temperature', type: 'Double', value: 99 },
      { name: 'nonsense', type: 'Double', value: 1 },
      { name: 'enabled', type: 'String', value: 'yes please' },
    ]);
    await h.commandDevice('gw-01', 'other-device', [{ name: 'setpoint', type: 'Float', value: 1 }]);
    await waitFor(() => n.stats().writesRefused === 4, 'four refusals');
    expect(writes).toEqual([]);
    // Writes that never finish hold their slots: one past the bound is refused, not queued.
    await h.commandDevice('gw-01', 'press', Array.from({ length: MAX_PENDING_WRITES + 1 }, (_, i) => ({ name: 'setpoint', type: 'Float', value: i })));
    await waitFor(() => n.stats().writesRefused === 5, 'the write past the bound refused');
    expect(writes).toHaveLength(MAX_PENDING_WRITES);
  });

  it('counts a write the source failed, and a DCMD that is no Sparkplug payload as an invalid command, and keeps publishing', async () => {
    const { n, h } = await startNode(() => 'fail');
    await h.commandDevice('gw-01', 'press', [{ name: 'setpoint', type: 'Float', value: 1 }]);
    await h.publishDeviceCommand('gw-01', 'press', Uint8Array.of(0xff, 0xff, 0xff, 0x01));
    // Too many metrics in one command: refused whole, nothing written.
    await h.commandDevice('gw-01', 'press', Array.from({ length: MAX_COMMAND_METRICS + 1 }, () => ({ name: 'setpoint', type: 'Float', value: 2 })));
    await waitFor(() => n.stats().writesFailed === 1 && n.stats().invalidCommands === 2, 'the failure and the invalid commands counted');
    expect(n.stats().deviceCommands).toBe(1);
    expect(n.stats()).toMatchObject({ connected: true, born: true, writes: 0 });
  });
});
