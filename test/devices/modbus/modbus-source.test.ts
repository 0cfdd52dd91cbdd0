import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { configProblems, expectCheckRefuses } from '../../support/config-check.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { PymodbusSim } from '../../support/pymodbus-sim.js';
import { waitFor } from '../../support/wait-for.js';

// The simulator's default map (test/support/pymodbus-sim.py), per unit u: every type in ABCD from HR0, CDAB from HR20,
// DCBA from HR60 (int16, uint16, int32, uint32, float32, float64 one after another); HR100 = u;
// IR i = 1000 + 10u + i; coil i = i odd; discrete i = i multiple of 3.
const UNITS = [1, 2, 3] as const;

function slavesYaml(indent: string): string {
  return UNITS.map(
    (u) => `${indent}- unit: ${u}
${indent}  name: s${u}
${indent}  groups:
${indent}    - name: fast
${indent}      intervalMs: 300
${indent}      points:
${indent}        - { name: i16, table: holding, address: 0, type: int16 }
${indent}        - { name: u16, table: holding, address: 1 }
${indent}        - { name: i32, table: holding, address: 22, type: int32, order: CDAB }
${indent}        - { name: f64, table: holding, address: 68, type: float64, order: DCBA }
${indent}        - { name: id, table: holding, address: 100 }
${indent}        - { name: volts, table: input, address: 0, count: 3, scale: 0.1, unit: V }
${indent}        - { name: run, table: coil, address: 0, count: 4 }
${indent}        - { name: di, table: discrete, address: 0, count: 3 }
`,
  ).join('');
}

interface Seen {
  readonly stream: string;
  readonly at: number;
  readonly data: { unit: number; slave: string; group: string; values: Record<string, number[]>; units: Record<string, string> };
}

function expectSlaveValues(r: Seen, u: number): void {
  const v = r.data.values;
  expect(Object.keys(v)).toEqual(['i16', 'u16', 'i32', 'f64', 'id', 'volts', 'run', 'di']);
  expect(v['i16']).toEqual([-1234]);
  expect(v['u16']).toEqual([54321]);
  expect(v['i32']).toEqual([-123456789]);
  expect(v['f64']).toEqual([-2.718281828459045]);
  expect(v['id']).toEqual([u]);
  expect(v['volts']).toHaveLength(3);
  (v['volts'] ?? []).forEach((x, i) => expect(x).toBeCloseTo((1000 + 10 * u + i) * 0.1, 9));
  expect(v['run']).toEqual([0, 1, 0, 1]);
  expect(v['di']).toEqual([1, 0, 0]);
  expect(r.data.units).toMatchObject({ volts: 'V', i16: '' });
  expect(r.data).toMatchObject({ unit: u, slave: `s${u}`, group: 'fast' });
}

describe('modbus source in a gateway, against pymodbus over RTU (socat pty pair) and TCP', () => {
  const rig = useGatewayRig();
  let sim: PymodbusSim;
  const seen: Seen[] = [];
  let unsubscribe: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    sim = await PymodbusSim.start({ rtu: true, tcp: true, baudRate: 19_200 });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  afterEach(async () => {
    await unsubscribe?.();
    unsubscribe = undefined;
    seen.length = 0;
  });

  async function startGateway(): Promise<Gateway> {
    unsubscribe = await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) seen.push({ stream: r.stream, at: Date.now(), data: r.data as Seen['data'] });
    });
    const registry = builtinRegistry();
    const yaml = `
gateway: { id: gw-modbus, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)} }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
devices:
  - id: rtu
    type: modbus
    rtu: { path: ${JSON.stringify(sim.serialPath)}, baudRate: 19200, parity: none, stopBits: 1 }
    timeoutMs: 200
    retries: 0
    interFrameDelayMs: auto
    reopen: { minDelayMs: 100, maxDelayMs: 1000 }
    slaves:
${slavesYaml('      ')}  - id: tcp
    type: modbus
    tcp: { host: 127.0.0.1, port: ${sim.tcpPort} }
    timeoutMs: 200
    retries: 0
    slaves:
${slavesYaml('      ')}log: { level: warn }
`;
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    await gw.start();
    return gw;
  }

  const count = (stream: string, after = 0): number => seen.filter((r) => r.stream === stream && r.at > after).length;

  it('records every slave on both buses with the decoded values', { timeout: 60_000 }, async () => {
    const gw = await startGateway();
    const streams = ['rtu', 'tcp'].flatMap((bus) => UNITS.map((u) => `${bus}.s${u}.fast`));
    await waitFor(() => streams.every((s) => count(s) >= 3), 'three records of every slave on both buses', 30_000);
    for (const s of streams) {
      const u = Number(s.split('.')[1]?.slice(1));
      for (const r of seen.filter((x) => x.stream === s)) expectSlaveValues(r, u);
    }
    const h = gw.health();
    expect(h.status).toBe('ok');
    const rtu = h.sources.find((s) => s.id === 'rtu')?.details ?? {};
    expect(rtu['open']).toBe(true);
    for (const u of UNITS) {
      // 7 requests a poll: HR 0-1, 22-23, 68-71, 100, IR 0-2, coils, discrete.
      expect(rtu[`slave.s${u}.responses`] as number).toBeGreaterThanOrEqual(21);
      // A timeout can happen on a loaded box (200 ms, no retry, a Python slave): not a fault of
      // ours. Misframed or corrupt answers would be: none.
      expect(rtu[`slave.s${u}.crcErrors`]).toBe(0);
      expect(rtu[`slave.s${u}.framingErrors`]).toBe(0);
    }
  });

  it('a silent slave degrades its sources naming it alone; the others keep producing records', { timeout: 60_000 }, async () => {
    const gw = await startGateway();
    await waitFor(() => UNITS.every((u) => count(`rtu.s${u}.fast`) >= 1 && count(`tcp.s${u}.fast`) >= 1), 'records of every slave', 30_000);
    await sim.command('silent 2');
    try {
      const h = await waitFor(() => {
        const r = gw.health();
        return r.reasons.filter((x) => x.startsWith('source rtu:') || x.startsWith('source tcp:')).length === 2 ? r : undefined;
      }, 'both sources degraded', 20_000);
      expect(h.status).toBe('degraded');
      for (const id of ['rtu', 'tcp']) {
        const reason = h.reasons.find((x) => x.startsWith(`source ${id}:`)) ?? '';
        expect(reason).toMatch(/slave 2 \(s2\) failing since/);
        expect(reason).not.toMatch(/slave [13]/);
        const d = h.sources.find((s) => s.id === id)?.details ?? {};
        expect(d['slave.s2.consecutiveFailedPolls'] as number).toBeGreaterThanOrEqual(3);
        expect(d['slave.s1.consecutiveFailedPolls']).toBe(0);
        expect(d['slave.s3.consecutiveFailedPolls']).toBe(0);
      }
      // Slave 2's polls last a timeout plus the line's guard, longer than its interval: the next one is skipped, not stacked.
      await waitFor(() => (gw.health().sources.find((s) => s.id === 'rtu')?.details?.['pollOverruns'] as number) > 0, 'an overrun poll counted', 10_000);
      const degradedAt = Date.now();
      await waitFor(
        () => ['rtu', 'tcp'].every((bus) => count(`${bus}.s1.fast`, degradedAt) >= 3 && count(`${bus}.s3.fast`, degradedAt) >= 3),
        'slaves 1 and 3 still recorded while 2 is silent',
        20_000,
      );
      expect(count('rtu.s2.fast', degradedAt) + count('tcp.s2.fast', degradedAt)).toBe(0);
    } finally {
      await sim.command('answer 2');
    }
    await waitFor(() => gw.health().status === 'ok', 'the sources healthy again once slave 2 answers', 20_000);
  });
});

describe('modbus config check', () => {
  const badMap = (dataDir: string): string => `gateway: { id: gw-1, dataDir: ${JSON.stringify(dataDir)} }
uplink: { url: "mqtt://127.0.0.1:1" }
devices:
  - id: bus1
    type: modbus
    tcp: { host: 127.0.0.1 }
    slaves:
      - unit: 1
        name: meter
        groups:
          - name: fast
            intervalMs: 1000
            points:
              - { name: ok, table: holding, address: 0 }
              - { name: running, table: coil, address: 5, type: float32 }
              - { name: v, table: holding, address: 10, type: uint16, order: CDAB }
`;
  const expected = [
    'devices[0].slaves[0].groups[0].points[1].type: expected bool (a coil is one bit), got float32 (line 15)',
    'devices[0].slaves[0].groups[0].points[2].order: expected no order: it applies to 32- and 64-bit types, which span several registers, got order CDAB on uint16 (line 16)',
  ];

  it('names the path and YAML line of each problem of a bad register map', () => {
    expect(configProblems(badMap('/tmp/x'))).toEqual(expected);
  });

  it('`edgewise gateway --check` exits 2 and prints them, no stack trace', { timeout: 30_000 }, async () => {
    await expectCheckRefuses(badMap, expected);
  });
});
