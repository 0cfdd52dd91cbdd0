import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { McuProcess } from '../../support/mcu-process.js';
import { freePort } from '../../support/ports.js';
import { SocatPair } from '../../support/socat.js';
import { openOutbox, readAll } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const RUN_MS = 60_000;
const CUT_AT_MS = 25_000;
const CUT_FOR_MS = 4000;
const RATE_HZ = 2000;

interface SampleRecord {
  boot: number;
  n: number;
  values: Record<string, number[]>;
  units: Record<string, string>;
  tsErrorMs: number | null;
}

describe('serial sensor end to end over a socat pty', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let socat: SocatPair;
  let mcu: McuProcess | undefined;
  let gateway: Gateway | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
    socat = new SocatPair(`${dir.path}/mcu-tty`, `${dir.path}/gw-tty`);
    await socat.start();
  });
  afterEach(async () => {
    await gateway?.stop();
    await mcu?.stop();
    await socat.kill();
    await dir.remove();
  });

  it(`${RUN_MS / 1000} s at ${RATE_HZ} Hz x 3 channels with the cable pulled for ${CUT_FOR_MS / 1000} s: 0 lost, 0 duplicated`, { timeout: RUN_MS + 60_000 }, async () => {
    mcu = McuProcess.start(['--pty', socat.a, '--rate', String(RATE_HZ), '--clock-error-ppm', '40']);
    const registry = builtinRegistry();
    const dataDir = `${dir.path}/data`;
    const config = parseConfig(
      `
gateway: { id: gw-serial, dataDir: ${JSON.stringify(dataDir)} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(socat.b)}, baudRate: 921600, reopen: { minDelayMs: 50, maxDelayMs: 500 }, timeSyncIntervalMs: 500 }
store: { maxSizeBytes: 1073741824 }
uplink: { url: "mqtt://127.0.0.1:${await freePort()}" }
log: { level: warn }
`,
      'test',
      registry,
    );
    const gw = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    gateway = gw;
    await gw.start();
    const m = mcu;
    const t0 = Date.now();
    const serial = (): Record<string, unknown> => gw.health().sources[0]?.details ?? {};

    await waitFor(() => (m.last?.samplesCommitted ?? 0) > RATE_HZ, 'samples committed by the gateway');
    await waitFor(() => Date.now() - t0 >= CUT_AT_MS, 'the first part of the run', CUT_AT_MS + 5000, 100);

    // The line eats the MCU's view of the last commits, then the cable is pulled: after the
    // reconnect the MCU sends again samples the store already has.
    m.command('lose-commits 2');
    const committedBeforeLoss = m.last?.samplesCommitted ?? 0;
    await waitFor(() => ((serial()['committedIndex'] as number) ?? 0) > committedBeforeLoss + RATE_HZ, 'samples stored but not committed on the MCU');
    await socat.kill();
    const cutAt = Date.now();
    await waitFor(() => serial()['connected'] === false, 'the gateway to see the port gone');
    const committedAtCut = m.last?.samplesCommitted ?? 0;
    await waitFor(() => Date.now() - cutAt >= CUT_FOR_MS, 'the outage', CUT_FOR_MS + 5000, 50);
    const bufferedInGap = m.last?.bufferedSamples ?? 0;
    expect(bufferedInGap).toBeGreaterThan(RATE_HZ * (CUT_FOR_MS / 1000) * 0.8); // the MCU held them

    // Plug it back in: both sides reopen by themselves; the buffered samples come over.
    await socat.start();
    await waitFor(() => serial()['connected'] === true, 'the gateway to reopen the port', 15_000);
    await waitFor(() => (m.last?.samplesCommitted ?? 0) > committedAtCut + bufferedInGap, 'the samples of the gap to be committed', 20_000);
    await waitFor(() => Date.now() - t0 >= RUN_MS, 'the rest of the run', RUN_MS, 100);

    const final = await m.stop();
    mcu = undefined;
    await gw.stop();
    gateway = undefined;
    expect(final?.reboots).toBe(0);
    expect(final?.samplesOverflowed).toBe(0);

    // The outbox: every sample from 0 up to the last committed index exactly once.
    const o = await openOutbox(dataDir, { maxSizeBytes: 1 << 30, sync: false });
    const records = (await readAll(o.outbox, 1000)).map((r) => decodeRecord(r.value).data as SampleRecord);
    await o.close();
    const boots = new Set(records.map((r) => r.boot));
    expect(boots.size).toBe(1);
    records.sort((a, b) => a.n - b.n);
    let next = 0;
    let duplicated = 0;
    let lost = 0;
    for (const r of records) {
      const count = r.values['vibration']?.length ?? 0;
      if (r.n < next) duplicated += Math.min(count, next - r.n);
      if (r.n > next) lost += r.n - next;
      next = Math.max(next, r.n + count);
    }
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    const details = gw.health().sources[0]?.details ?? {};
    expect(details['lostSamples']).toBe(0);
    expect(details['duplicateSamples']).toBeGreaterThan(RATE_HZ / 2); // sent again, recognised, not stored again
    expect(details['portOpens']).toBeGreaterThanOrEqual(2);
    expect(next).toBeGreaterThanOrEqual(final?.samplesCommitted ?? Infinity);
    expect(next).toBeGreaterThan(RATE_HZ * (RUN_MS / 1000) * 0.9);
    // Every record says what it measured, in what unit, and how well its time is known.
    expect(records[0]?.units).toEqual({ vibration: 'g', temperature: 'degC', current: 'A' });
    expect(records.filter((r) => r.tsErrorMs === null).length).toBeLessThan(5);
    expect(Math.max(...records.filter((r) => r.tsErrorMs !== null).map((r) => r.tsErrorMs as number))).toBeLessThan(50);
  });
});
