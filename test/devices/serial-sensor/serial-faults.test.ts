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

const RATE_HZ = 500;

describe('serial sensor under line noise, dropped frames and an MCU reboot', () => {
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

  it('stores every sample of each boot once, in order, and counts what the line did', { timeout: 60_000 }, async () => {
    // Short frames: a line this noisy mangles long ones (see PROTOCOL.md, frame size).
    mcu = McuProcess.start(['--pty', socat.a, '--rate', String(RATE_HZ), '--samples-per-frame', '10', '--noise', '3000', '--drop-frames', '0.05']);
    const registry = builtinRegistry();
    const dataDir = `${dir.path}/data`;
    const config = parseConfig(
      `
gateway: { id: gw-noisy, dataDir: ${JSON.stringify(dataDir)} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(socat.b)}, baudRate: 921600, retransmitTimeoutMs: 100, timeSyncIntervalMs: 500 }
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
    const serial = (): Record<string, unknown> => gw.health().sources[0]?.details ?? {};

    await waitFor(() => (m.last?.samplesCommitted ?? 0) > RATE_HZ * 5, 'five seconds of samples through the noise', 30_000);
    const firstBoot = m.last?.bootId;
    m.command('reboot');
    await waitFor(() => serial()['mcuReboots'] === 1, 'the gateway to see the reboot', 10_000);
    await waitFor(() => m.last?.bootId !== firstBoot, 'the new boot id in the status');
    const committedAtReboot = m.last?.samplesCommitted ?? 0;
    await waitFor(() => (m.last?.samplesCommitted ?? 0) > committedAtReboot + RATE_HZ * 4, 'samples of the new boot', 30_000);

    const final = await m.stop();
    mcu = undefined;
    await gw.stop();
    gateway = undefined;
    const d = gw.health().sources[0]?.details ?? {};
    expect(d['crcErrors'] as number).toBeGreaterThan(0);
    expect(d['resyncs'] as number).toBeGreaterThan(0);
    expect(final?.retransmits ?? 0).toBeGreaterThan(0);
    expect(final?.samplesOverflowed).toBe(0);

    const o = await openOutbox(dataDir, { maxSizeBytes: 1 << 30, sync: false });
    const records = (await readAll(o.outbox, 1000)).map((r) => decodeRecord(r.value).data as { boot: number; n: number; values: Record<string, number[]> });
    await o.close();
    const byBoot = new Map<number, { n: number; count: number }[]>();
    for (const r of records) {
      const list = byBoot.get(r.boot) ?? [];
      list.push({ n: r.n, count: r.values['vibration']?.length ?? 0 });
      byBoot.set(r.boot, list);
    }
    expect(byBoot.size).toBe(2);
    for (const [boot, list] of byBoot) {
      // Stored in arrival order, each boot's samples run 0, 1, 2, ... without a gap or a repeat.
      let next = 0;
      for (const { n, count } of list) {
        expect({ boot, n }).toEqual({ boot, n: next });
        next = n + count;
      }
      expect(next).toBeGreaterThan(RATE_HZ * 3);
    }
  });
});
