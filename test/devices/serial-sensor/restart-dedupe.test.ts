import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../devices/synthetic/signals.js';
import { decodeRecord } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { GatewayProcess } from '../../support/gateway-process.js';
import { McuProcess } from '../../support/mcu-process.js';
import { freePort } from '../../support/ports.js';
import type { SampleRecord } from '../../support/serial-rig.js';
import { SocatPair } from '../../support/socat.js';
import { openOutbox, readAll } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const RATE_HZ = 1000;
const KILLS = 6;

/**
 * A gateway killed with SIGKILL after storing samples whose COMMIT never reached the MCU (every
 * other run, the MCU is told to lose commits for a random stretch before the kill; the others
 * are killed at a random point of normal running) restarts, and the MCU sends those samples
 * again. The checkpoint written with the records says they are stored.
 */
describe('serial sensor across gateway kill -9', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let socat: SocatPair | undefined;
  let mcu: McuProcess | undefined;
  let proc: GatewayProcess | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await proc?.kill('SIGKILL');
    await mcu?.stop();
    await socat?.kill();
    await dir.remove();
  });

  it(`never stores a sample twice and loses none the MCU sends again, across ${KILLS} kill -9s`, { timeout: 120_000 }, async () => {
    const s = new SocatPair(`${dir.path}/mcu-tty`, `${dir.path}/gw-tty`);
    socat = s;
    await s.start();
    const m = McuProcess.start(['--pty', s.a, '--rate', String(RATE_HZ), '--samples-per-frame', '10']);
    mcu = m;
    const dataDir = `${dir.path}/data`;
    const yaml = `
gateway: { id: gw-serial-crash, dataDir: ${JSON.stringify(dataDir)} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(s.b)}, baudRate: 921600, retransmitTimeoutMs: 100, reopen: { minDelayMs: 20, maxDelayMs: 100 } }
store: { maxSizeBytes: 1073741824 }
uplink: { url: "mqtt://127.0.0.1:${await freePort()}" }
log: { level: debug }
`;
    parseConfig(yaml, 'test', builtinRegistry());
    const configPath = `${dir.path}/gateway.yaml`;
    await writeFile(configPath, yaml);

    const random = seededRandom(20261129);
    let restored = 0;
    const onLine = (line: { event?: string }): void => {
      if (line.event === 'serial.checkpoint_restored') restored += 1;
    };
    for (let i = 0; i < KILLS; i += 1) {
      const committedBefore = m.last?.samplesCommitted ?? 0;
      const p = GatewayProcess.start(configPath, onLine);
      proc = p;
      // A restarted gateway first restores its checkpoint. Wait for that: COMMITs the killed
      // run left in the pty can still reach the MCU and satisfy the wait below before this
      // run has even started.
      if (i > 0) await waitFor(() => restored >= i, `run ${i + 1} to restore its checkpoint`, 30_000);
      await waitFor(() => (m.last?.samplesCommitted ?? 0) > committedBefore + 50, 'the gateway storing and committing samples', 30_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; stderr: ${p.stderr}`);
      });
      if (i % 2 === 0) {
        // The window, made wide: samples stored, their COMMIT lost (as when the gateway dies
        // before it reaches the MCU). The MCU keeps them and sends them to the next run.
        m.command('lose-commits 60');
        const buffered = m.last?.bufferedSamples ?? 0;
        const more = 100 + Math.floor(random() * 600);
        await waitFor(() => (m.last?.bufferedSamples ?? 0) > buffered + more, 'stored samples the MCU still holds', 30_000);
      } else {
        // A random point of normal running: whatever was in flight at that moment.
        const committed = m.last?.samplesCommitted ?? 0;
        const more = Math.floor(random() * 1000);
        await waitFor(() => (m.last?.samplesCommitted ?? 0) > committed + more, 'more samples committed', 30_000);
      }
      expect((await p.kill('SIGKILL')).signal).toBe('SIGKILL');
      proc = undefined;
      m.command('lose-commits 0');
    }
    const takenAtLastKill = m.last?.samplesTaken ?? 0;

    // One more run catches up with everything the MCU kept, then both stop.
    const p = GatewayProcess.start(configPath, onLine);
    proc = p;
    await waitFor(() => restored >= KILLS, 'the last run to restore its checkpoint', 30_000);
    await waitFor(() => (m.last?.samplesCommitted ?? 0) > takenAtLastKill + RATE_HZ, 'the last run to commit past what the MCU held', 30_000);
    const final = await m.stop();
    mcu = undefined;
    expect((await p.kill('SIGTERM')).code).toBe(0);
    proc = undefined;

    expect(final?.samplesOverflowed).toBe(0);
    expect(final?.reboots).toBe(0);
    const o = await openOutbox(dataDir, { maxSizeBytes: 1 << 30, sync: false });
    const stored = (await readAll(o.outbox, 1000)).map((r) => decodeRecord(r.value).data as SampleRecord);
    await o.close();
    // Every sample index of the one boot exactly once, in order, up to past everything committed.
    const seen = new Map<number, number>();
    for (const r of stored) for (let k = 0; k < (r.values['vibration']?.length ?? 0); k += 1) seen.set(r.n + k, (seen.get(r.n + k) ?? 0) + 1);
    const twice = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
    expect(twice.length, `samples stored twice, e.g. ${twice.slice(0, 5).join(', ')}`).toBe(0);
    let next = 0;
    for (const r of stored) {
      expect(r.n).toBe(next);
      next = r.n + (r.values['vibration']?.length ?? 0);
    }
    expect(new Set(stored.map((r) => r.boot)).size).toBe(1);
    expect(next).toBeGreaterThanOrEqual(final?.samplesCommitted ?? Number.POSITIVE_INFINITY);
    expect(restored).toBe(KILLS);
  });
});
