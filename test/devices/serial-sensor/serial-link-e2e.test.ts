import { afterEach, describe, expect, it } from 'vitest';
import { SerialRig } from '../../support/serial-rig.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * 30 s, the cable pulled at 10 s: time sync (every 500 ms) has long settled by then, and the
 * run goes on for 10 s or more after the replay of the gap. (Was 60 s with the pull at 25 s:
 * the same counts, at twice the wall time.)
 */
const RUN_MS = 30_000;
const CUT_AT_MS = 10_000;
const CUT_FOR_MS = 4000;
const RATE_HZ = 2000;

describe('serial sensor end to end over a socat pty', () => {
  let rig: SerialRig | undefined;
  afterEach(async () => {
    await rig?.close();
  });

  it(`${RUN_MS / 1000} s at ${RATE_HZ} Hz x 3 channels with the cable pulled for ${CUT_FOR_MS / 1000} s: 0 lost, 0 duplicated`, { timeout: RUN_MS + 60_000 }, async () => {
    const r = await SerialRig.start({
      mcuArgs: ['--rate', String(RATE_HZ), '--clock-error-ppm', '40'],
      device: 'reopen: { minDelayMs: 50, maxDelayMs: 500 }, timeSyncIntervalMs: 500',
    });
    rig = r;
    const m = r.mcu;
    const t0 = Date.now();

    await waitFor(() => (m.last?.samplesCommitted ?? 0) > RATE_HZ, 'samples committed by the gateway');
    await waitFor(() => Date.now() - t0 >= CUT_AT_MS, 'the first part of the run', CUT_AT_MS + 5000, 100);

    // The line eats the MCU's view of the last commits, then the cable is pulled: after the
    // reconnect the MCU sends again samples the store already has.
    m.command('lose-commits 2');
    const committedBeforeLoss = m.last?.samplesCommitted ?? 0;
    await waitFor(() => ((r.serial()['committedIndex'] as number) ?? 0) > committedBeforeLoss + RATE_HZ, 'samples stored but not committed on the MCU');
    await r.socat.kill();
    const cutAt = Date.now();
    await waitFor(() => r.serial()['connected'] === false, 'the gateway to see the port gone');
    const committedAtCut = m.last?.samplesCommitted ?? 0;
    await waitFor(() => Date.now() - cutAt >= CUT_FOR_MS, 'the outage', CUT_FOR_MS + 5000, 50);
    // The MCU held them (its status lines come every second or so, later on a loaded machine: wait for one).
    const bufferedInGap = await waitFor(() => {
      const b = m.last?.bufferedSamples ?? 0;
      return b > RATE_HZ * (CUT_FOR_MS / 1000) * 0.8 ? b : undefined;
    }, 'the MCU to report the samples of the outage held', 10_000);
    expect(r.serial()['connected']).toBe(false); // still unplugged: they were held, not sent

    // Plug it back in: both sides reopen by themselves; the buffered samples come over.
    await r.socat.start();
    await waitFor(() => r.serial()['connected'] === true, 'the gateway to reopen the port', 15_000);
    await waitFor(() => (m.last?.samplesCommitted ?? 0) > committedAtCut + bufferedInGap, 'the samples of the gap to be committed', 20_000);
    await waitFor(() => Date.now() - t0 >= RUN_MS, 'the rest of the run', RUN_MS, 100);

    const final = await r.stopRun();
    expect(final?.reboots).toBe(0);
    expect(final?.samplesOverflowed).toBe(0);

    // The outbox: every sample from 0 up to the last committed index exactly once.
    const records = await r.records();
    expect(new Set(records.map((rec) => rec.boot)).size).toBe(1);
    records.sort((a, b) => a.n - b.n);
    let next = 0;
    let duplicated = 0;
    let lost = 0;
    for (const rec of records) {
      const count = rec.values['vibration']?.length ?? 0;
      if (rec.n < next) duplicated += Math.min(count, next - rec.n);
      if (rec.n > next) lost += rec.n - next;
      next = Math.max(next, rec.n + count);
    }
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    const details = r.serial();
    expect(details['lostSamples']).toBe(0);
    expect(details['duplicateSamples']).toBeGreaterThan(RATE_HZ / 2); // sent again, recognised, not stored again
    expect(details['portOpens']).toBeGreaterThanOrEqual(2);
    expect(next).toBeGreaterThanOrEqual(final?.samplesCommitted ?? Infinity);
    expect(next).toBeGreaterThan(RATE_HZ * (RUN_MS / 1000) * 0.9);
    // Every record says what it measured, in what unit, and how well its time is known.
    expect(records[0]?.units).toEqual({ vibration: 'g', temperature: 'degC', current: 'A' });
    expect(records.filter((rec) => rec.tsErrorMs === null).length).toBeLessThan(5);
    // The bound is the best time-sync round trip / 2 of the last 16 exchanges (firmware-bridge/time-sync.ts; that it
    // holds is time-sync.test.ts's job). While the gap is replayed the sync replies queue behind the samples on the
    // same line, and on a loaded machine behind other work, so a few records may carry a wider bound: hold the
    // bound for 95% of records, and a sane ceiling for all (a broken sync would give seconds, or null).
    const bounds = records.flatMap((rec) => (rec.tsErrorMs === null ? [] : [rec.tsErrorMs])).sort((a, b) => a - b);
    expect(bounds[Math.floor(bounds.length * 0.95)]).toBeLessThan(50);
    expect(bounds[bounds.length - 1]).toBeLessThan(1000);
  });
});
