import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecordMessage } from '../../../fleet/ingest/record-message.js';
import { fleetFilters } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { PymodbusSim } from '../../support/pymodbus-sim.js';
import { waitFor } from '../../support/wait-for.js';

// A gateway polls three RTU slaves (pymodbus behind a socat pty pair) every 100 ms; the records
// go through the pipeline into the LevelDB outbox and out to the rig's broker, where the test
// counts them. Two kinds of cable pull: the USB adapter unplugged (the port disappears) and the
// RS-485 pair cut (the port stays open, nothing answers).
const UNITS = [1, 2, 3] as const;
const STREAMS = UNITS.map((u) => `rtu.s${u}.fast`);

interface Seen {
  readonly id: string;
  readonly stream: string;
  readonly ts: number;
  readonly id16: number | undefined;
}

describe('modbus RTU cable pull, in a gateway', () => {
  const rig = useGatewayRig();
  let sim: PymodbusSim;
  const seen: Seen[] = [];
  const logged: Record<string, unknown>[] = [];
  let unsubscribe: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    sim = await PymodbusSim.start({ rtu: true, baudRate: 19_200 });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  afterEach(async () => {
    await unsubscribe?.();
    unsubscribe = undefined;
    seen.length = 0;
    logged.length = 0;
  });

  async function startGateway(): Promise<Gateway> {
    unsubscribe = await rig.broker.subscribe(fleetFilters.records, (topic, payload) => {
      for (const r of decodeRecordMessage(topic, payload).records) {
        const values = (r.data as { values: Record<string, number[]> }).values;
        seen.push({ id: r.id, stream: r.stream, ts: r.ts, id16: values['id']?.[0] });
      }
    });
    const slaves = UNITS.map(
      (u) => `      - unit: ${u}
        name: s${u}
        groups:
          - name: fast
            intervalMs: 100
            points:
              - { name: i16, table: holding, address: 0, type: int16 }
              - { name: id, table: holding, address: 100 }
              - { name: volts, table: input, address: 0, count: 3, scale: 0.1, unit: V }
`,
    ).join('');
    const registry = builtinRegistry();
    const yaml = `
gateway: { id: gw-cable, dataDir: ${JSON.stringify(`${rig.dir.path}/gw`)} }
uplink: { url: ${rig.broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
devices:
  - id: rtu
    type: modbus
    rtu: { path: ${JSON.stringify(sim.serialPath)}, baudRate: 19200, parity: none, stopBits: 1 }
    timeoutMs: 250
    retries: 0
    reopen: { minDelayMs: 100, maxDelayMs: 800 }
    slaves:
${slaves}`;
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger });
    rig.gateway = gw;
    await gw.start();
    return gw;
  }

  const details = (gw: Gateway): Record<string, unknown> => gw.health().sources.find((s) => s.id === 'rtu')?.details ?? {};
  const count = (stream: string, from: number, to = Number.POSITIVE_INFINITY): number => seen.filter((r) => r.stream === stream && r.ts >= from && r.ts < to).length;

  /** Every record the source handed over was stored, reached the broker from the outbox once, and carries its own slave's id. */
  async function expectAllStoredDeliveredOnce(gw: Gateway): Promise<number> {
    const src = gw.health().sources.find((s) => s.id === 'rtu');
    expect(src?.dropped).toBe(0);
    const stored = src?.stored ?? 0;
    await waitFor(() => seen.filter((r) => STREAMS.includes(r.stream)).length >= stored, `the broker to have all ${stored} stored records`, 15_000);
    const ids = new Set(seen.map((r) => r.id));
    expect(ids.size).toBe(seen.length);
    for (const r of seen) expect(r.id16).toBe(Number(r.stream.split('.')[1]?.slice(1)));
    expect(gw.health().store.appended.telemetry).toBeGreaterThanOrEqual(stored);
    return stored;
  }

  it('USB adapter unplugged: degraded naming the port, reopen backs off, and all three slaves resume when it is back', { timeout: 60_000 }, async () => {
    const gw = await startGateway();
    await waitFor(() => STREAMS.every((s) => count(s, 0) >= 3) && gw.health().status === 'ok', 'three records of each slave and a healthy gateway', 20_000);

    const pulledAt = Date.now();
    await sim.pullCable();
    const port = `${sim.serialPath}@19200`;
    const reason = await waitFor(() => gw.health().reasons.find((r) => r.startsWith('source rtu:')), 'the source to be degraded', 10_000);
    const degradedAt = Date.now();
    expect(reason).toContain(`port ${port} not open since`);
    // The backoff: each failed reopen says how long until the next, doubling from minDelayMs up to maxDelayMs.
    await waitFor(() => (details(gw)['openFailures'] as number) >= 4, 'four failed reopens', 10_000);
    const retries = logged.filter((l) => l['event'] === 'modbus.open_failed').map((l) => l['retryInMs']);
    expect(retries.slice(0, 4)).toEqual([200, 400, 800, 800]);
    expect(logged.find((l) => l['event'] === 'modbus.open_failed')?.['endpoint']).toBe(port);
    const d = details(gw);
    expect(d).toMatchObject({ open: false, portCloses: 1, portOpens: 1 });
    expect(d['lastOpenError']).toEqual(expect.any(String));
    expect(gw.health().reasons.find((r) => r.startsWith('source rtu:'))).toMatch(/reopen failed: .*reopening with backoff/);
    // While the port is away nothing is polled, and the gateway goes on (the uplink, the health report).
    for (const s of STREAMS) expect(count(s, degradedAt)).toBe(0);
    expect(gw.health().uplink.connected).toBe(true);

    const pluggedAt = Date.now();
    await sim.plugIn();
    await waitFor(() => STREAMS.every((s) => count(s, pluggedAt) >= 3), 'three records of each slave after the cable is back', 20_000);
    await waitFor(() => gw.health().status === 'ok', 'the gateway healthy again', 10_000);
    expect(details(gw)).toMatchObject({ open: true, portOpens: 2, portCloses: 1, notOpenSince: null });

    const stored = await expectAllStoredDeliveredOnce(gw);
    const before = STREAMS.map((s) => count(s, 0, pulledAt));
    const after = STREAMS.map((s) => count(s, pluggedAt));
    for (const n of [...before, ...after]) expect(n).toBeGreaterThanOrEqual(3);
    expect(stored).toBe(seen.length);
  });

  it('RS-485 pair cut: the port stays open, every slave times out and is degraded by name, and all recover', { timeout: 60_000 }, async () => {
    const gw = await startGateway();
    await waitFor(() => STREAMS.every((s) => count(s, 0) >= 3) && gw.health().status === 'ok', 'three records of each slave and a healthy gateway', 20_000);
    const before = details(gw);
    const cutAt = Date.now();
    for (const u of UNITS) await sim.command(`silent ${u}`);
    try {
      const reason = await waitFor(() => {
        const r = gw.health().reasons.find((x) => x.startsWith('source rtu:'));
        return r !== undefined && UNITS.every((u) => r.includes(`slave ${u} (s${u}) failing since`)) ? r : undefined;
      }, 'every slave degraded by name', 20_000);
      expect(reason).toMatch(/did not answer/);
      expect(reason).not.toMatch(/not open/);
      const d = details(gw);
      expect(d['open']).toBe(true);
      for (const u of UNITS) {
        expect(d[`slave.s${u}.timeouts`] as number).toBeGreaterThan(before[`slave.s${u}.timeouts`] as number);
        expect(d[`slave.s${u}.consecutiveFailedPolls`] as number).toBeGreaterThanOrEqual(3);
      }
      expect(d['timeouts'] as number).toBeGreaterThanOrEqual(9);
    } finally {
      for (const u of UNITS) await sim.command(`answer ${u}`);
    }
    const answeredAt = Date.now();
    await waitFor(() => STREAMS.every((s) => count(s, answeredAt) >= 3), 'three records of each slave once they answer', 20_000);
    await waitFor(() => gw.health().status === 'ok', 'the gateway healthy again', 10_000);
    const stored = await expectAllStoredDeliveredOnce(gw);
    expect(stored).toBe(seen.length);
    for (const s of STREAMS) {
      expect(count(s, 0, cutAt)).toBeGreaterThanOrEqual(3);
      expect(count(s, answeredAt)).toBeGreaterThanOrEqual(3);
    }
  });
});
