import { afterEach, describe, expect, it } from 'vitest';
import { SerialRig } from '../../support/serial-rig.js';
import { waitFor } from '../../support/wait-for.js';

const RATE_HZ = 500;

describe('serial sensor under line noise, dropped frames and an MCU reboot', () => {
  let rig: SerialRig | undefined;
  afterEach(async () => {
    await rig?.close();
  });

  it('stores every sample of each boot once, in order, and counts what the line did', { timeout: 60_000 }, async () => {
    // Short frames: a line this noisy mangles long ones (see PROTOCOL.md, frame size).
    const r = await SerialRig.start({
      mcuArgs: ['--rate', String(RATE_HZ), '--samples-per-frame', '10', '--noise', '3000', '--drop-frames', '0.05'],
      device: 'retransmitTimeoutMs: 100, timeSyncIntervalMs: 500',
    });
    rig = r;
    const m = r.mcu;

    await waitFor(() => (m.last?.samplesCommitted ?? 0) > RATE_HZ * 5, 'five seconds of samples through the noise', 30_000);
    const firstBoot = m.last?.bootId;
    m.command('reboot');
    await waitFor(() => r.serial()['mcuReboots'] === 1, 'the gateway to see the reboot', 10_000);
    await waitFor(() => m.last?.bootId !== firstBoot, 'the new boot id in the status');
    const committedAtReboot = m.last?.samplesCommitted ?? 0;
    await waitFor(() => (m.last?.samplesCommitted ?? 0) > committedAtReboot + RATE_HZ * 4, 'samples of the new boot', 30_000);

    const final = await r.stopRun();
    const d = r.serial();
    expect(d['crcErrors'] as number).toBeGreaterThan(0);
    expect(d['resyncs'] as number).toBeGreaterThan(0);
    expect(final?.retransmits ?? 0).toBeGreaterThan(0);
    expect(final?.samplesOverflowed).toBe(0);

    const byBoot = new Map<number, { n: number; count: number }[]>();
    for (const rec of await r.records()) {
      const list = byBoot.get(rec.boot) ?? [];
      list.push({ n: rec.n, count: rec.values['vibration']?.length ?? 0 });
      byBoot.set(rec.boot, list);
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
