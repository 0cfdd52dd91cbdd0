import { existsSync, realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters, type HealthReport } from '../../../fleet/protocol/index.js';
import { FaultLog } from '../../../sim/faults/fault-log.js';
import { GatewaySupervisor } from '../../../sim/faults/gateway-supervisor.js';
import { SerialLink } from '../../../sim/faults/serial-link.js';
import { SimulatedMcu } from '../../../sim/mcu/simulated-mcu.js';
import { assertBuilt } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const RATE_HZ = 500;

/** What the fleet received of the serial stream: sample ranges [n, n + count) of one boot. */
interface Delivered {
  readonly boot: number;
  readonly n: number;
  readonly count: number;
}

describe('SerialLink between a SimulatedMcu and a real gateway process', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let link: SerialLink | undefined;
  let mcu: SimulatedMcu | undefined;
  let gateway: GatewaySupervisor | undefined;
  beforeEach(async () => {
    assertBuilt();
    dir = await makeTempDir();
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await gateway?.stop();
    await mcu?.stop();
    await link?.close();
    await broker.close();
    await dir.remove();
  });

  it('cable pulled: the gateway sees the device vanish; restored on the same paths: the MCU\'s buffered samples arrive, none lost, none twice', { timeout: 90_000 }, async () => {
    const delivered: Delivered[] = [];
    await broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) {
        const d = r.data as { boot: number; n: number; values: Record<string, number[]> };
        delivered.push({ boot: d.boot, n: d.n, count: d.values['vibration']?.length ?? 0 });
      }
    });
    const log = new FaultLog();
    const l = new SerialLink({ name: 'gw-s', mcuPath: join(dir.path, 'mcu-tty'), gatewayPath: join(dir.path, 'gw-tty'), log });
    link = l;
    await l.start();
    // In the simulator's process: a timer and a file descriptor per MCU, where a process each would cost tens of MB.
    const m = new SimulatedMcu({ path: l.mcuPath, rateHz: RATE_HZ, seed: 7 });
    mcu = m;
    m.start();
    const configPath = join(dir.path, 'gw-s.yaml');
    await writeFile(
      configPath,
      `
gateway: { id: gw-s, dataDir: ${JSON.stringify(join(dir.path, 'data'))} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(l.gatewayPath)}, baudRate: 921600, reopen: { minDelayMs: 50, maxDelayMs: 500 } }
uplink: { url: ${JSON.stringify(broker.url)}, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { listen: 127.0.0.1:0 }
log: { level: info }
`,
    );
    const g = new GatewaySupervisor({ id: 'gw-s', configPath });
    gateway = g;
    await g.start();
    const serial = async (): Promise<Record<string, unknown>> => ((await (await fetch(g.healthUrl as string)).json()) as HealthReport).sources[0]?.details ?? {};
    await waitFor(() => m.counters.samplesCommitted > RATE_HZ, 'a second of samples committed by the gateway');

    await l.pull();
    expect(existsSync(l.gatewayPath)).toBe(false);
    await waitFor(async () => (await serial())['connected'] === false, 'the gateway to see the device vanish');
    const committedAtPull = m.counters.samplesCommitted;
    // The MCU keeps sampling into its buffer: two seconds of samples wait for the cable.
    await waitFor(() => m.counters.bufferedSamples > RATE_HZ * 2, 'two seconds of samples held by the MCU');
    expect((await serial())['connected']).toBe(false);
    const heldDuringPull = m.counters.bufferedSamples;

    await l.restore();
    expect(realpathSync(l.gatewayPath)).toMatch(/^\/dev\/pts\/\d+$/); // the same path, a new pty behind it (the kernel may hand out the same number)
    await waitFor(async () => (await serial())['connected'] === true, 'the gateway to reopen the device', 15_000);
    await waitFor(() => m.counters.samplesCommitted >= committedAtPull + heldDuringPull + RATE_HZ, 'the held samples and a second more committed', 30_000);
    const committed = m.counters.samplesCommitted;
    await waitFor(() => delivered.reduce((a, d) => Math.max(a, d.n + d.count), 0) >= committed, 'the fleet to have every committed sample', 30_000);

    expect(m.counters.samplesOverflowed).toBe(0);
    expect(m.counters.reboots).toBe(0);
    expect(new Set(delivered.map((d) => d.boot)).size).toBe(1);
    const sorted = [...delivered].sort((a, b) => a.n - b.n);
    let next = 0;
    let lost = 0;
    let duplicated = 0;
    for (const d of sorted) {
      if (d.n > next) lost += d.n - next;
      if (d.n < next) duplicated += Math.min(d.count, next - d.n);
      next = Math.max(next, d.n + d.count);
    }
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(log.entries().map((e) => [e.kind, e.target, e.action])).toEqual([
      ['cable-pull', 'gw-s', 'start'],
      ['cable-pull', 'gw-s', 'end'],
    ]);
    expect(l.counters).toEqual({ starts: 2, pulls: 1, unexpectedExits: 0 });
  });

  it('socat missing: the error says to install it', async () => {
    const l = new SerialLink({ name: 'gw-x', mcuPath: join(dir.path, 'a'), gatewayPath: join(dir.path, 'b'), socatPath: join(dir.path, 'no-socat') });
    await expect(l.start()).rejects.toMatchObject({ code: 'E_SERIAL_LINK_START', message: expect.stringContaining('not found: install socat') });
    expect(l.plugged).toBe(false);
  });

  it('socat that dies by itself is logged as an exit: the gateway lost its cable without a fault being injected', async () => {
    const log = new FaultLog();
    const l = new SerialLink({ name: 'gw-y', mcuPath: join(dir.path, 'a'), gatewayPath: join(dir.path, 'b'), log });
    link = l;
    await l.start();
    process.kill(l.pid as number, 'SIGTERM'); // killed from outside: not by pull()
    await waitFor(() => !l.plugged, 'the link to notice socat gone');
    expect(log.entries()).toMatchObject([{ kind: 'exit', target: 'gw-y', action: 'start', detail: { process: 'socat' } }]);
    await l.restore();
    expect(l.plugged).toBe(true);
  });
});
