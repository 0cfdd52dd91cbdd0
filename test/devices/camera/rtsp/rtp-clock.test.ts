import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtpClock, unwrapRtpTimestamp } from '../../../../devices/camera/rtsp/rtp-clock.js';

const RATE = 90_000;
const TICKS_PER_MS = RATE / 1000;
const AHEAD_MS = 1000;
const BEHIND_MS = 10_000;
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const clock = (): RtpClock => new RtpClock({ clockRate: RATE, maxAheadMs: AHEAD_MS, maxBehindMs: BEHIND_MS });

/** Unwraps a sequence of 32-bit timestamps as the clock does. */
function unwrapAll(timestamps: readonly number[]): number[] {
  let previous: { timestamp: number; extended: number } | undefined;
  return timestamps.map((timestamp) => {
    const extended = unwrapRtpTimestamp(timestamp, previous);
    previous = { timestamp, extended };
    return extended;
  });
}

describe('RTP clock', () => {
  it('unwraps the 32-bit timestamp across 2^32: the extended counter moves by each true step, forward or back', () => {
    fc.assert(
      fc.property(uint32, fc.array(fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), { maxLength: 200 }), (first, steps) => {
        const truth = steps.reduce<number[]>((acc, step) => [...acc, acc.at(-1)! + step], [first]);
        const wire = truth.map((t) => ((t % 2 ** 32) + 2 ** 32) % 2 ** 32);
        expect(unwrapAll(wire)).toEqual(truth);
      }),
    );
    // Near the top of the range, at 30 fps: 0xfffff448 + 3000 wraps to 0x00000000 and counts on.
    expect(unwrapAll([0xffffe890, 0xfffff448, 0, 3000])).toEqual([0xffffe890, 0xfffff448, 2 ** 32, 2 ** 32 + 3000]);
  });

  it('times pictures by the camera\'s spacing, however the network delays them, and monotone for monotone timestamps', () => {
    fc.assert(
      fc.property(
        uint32,
        // Wall-clock ms, around today's: floating point keeps about 0.2 µs there.
        fc.double({ min: 1.6e12, max: 1.8e12, noNaN: true }),
        // The first picture (the anchor) late by up to the ahead bound, the others by up to 9 s: bursts, stalls, jitter.
        fc.integer({ min: 0, max: AHEAD_MS - 1 }),
        fc.array(fc.record({ ticks: fc.integer({ min: 0, max: 5 * RATE }), delayMs: fc.double({ min: 0, max: BEHIND_MS - AHEAD_MS, noNaN: true }) }), { maxLength: 200 }),
        (first, takenMs, firstDelayMs, pictures) => {
          const c = clock();
          const anchor = takenMs + firstDelayMs;
          const times = [c.time(first, anchor)];
          let ticks = 0;
          for (const p of pictures) {
            ticks += p.ticks;
            times.push(c.time((first + ticks) % 2 ** 32, takenMs + ticks / TICKS_PER_MS + p.delayMs));
            // Exactly the RTP spacing from the anchor (to floating-point rounding), never the arrival's.
            expect(times.at(-1)! - anchor).toBeCloseTo(ticks / TICKS_PER_MS, 2);
          }
          for (let i = 1; i < times.length; i += 1) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
          expect(c.resets).toBe(0);
        },
      ),
    );
  });

  it('is never ahead of arrival by more than its bound, nor behind by more than its bound, whatever the timestamps', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ timestamp: uint32, gapMs: fc.double({ min: 0, max: 60_000, noNaN: true }) }), { minLength: 1, maxLength: 200 }), (pictures) => {
        const c = clock();
        let arrival = 1_700_000_000_000;
        for (const p of pictures) {
          arrival += p.gapMs;
          const t = c.time(p.timestamp, arrival);
          expect(t - arrival).toBeLessThanOrEqual(AHEAD_MS);
          expect(arrival - t).toBeLessThanOrEqual(BEHIND_MS);
          expect(c.lagMs).toBeCloseTo(arrival - t, 9);
        }
      }),
    );
  });

  it('re-anchors at arrival when the timestamp jumps past a bound, counts it, and follows the camera\'s spacing from there', () => {
    fc.assert(
      fc.property(uint32, fc.boolean(), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (first, forward, size) => {
        const c = clock();
        const t0 = 5_000_000;
        for (let i = 0; i < 10; i += 1) c.time((first + i * 9000) % 2 ** 32, t0 + i * 100);
        // The 11th picture arrives on time, but its timestamp jumped by `size` ticks.
        const jump = forward ? size : -size;
        const jumped = (((first + 10 * 9000 + jump) % 2 ** 32) + 2 ** 32) % 2 ** 32;
        const t = c.time(jumped, t0 + 1000);
        const jumpMs = jump / TICKS_PER_MS;
        const beyond = jumpMs > AHEAD_MS || -jumpMs > BEHIND_MS;
        expect(c.resets).toBe(beyond ? 1 : 0);
        expect(t).toBeCloseTo(beyond ? t0 + 1000 : t0 + 1000 + jumpMs, 6);
        // The next picture, 100 ms later by the camera's clock, is 100 ms after it.
        expect(c.time((jumped + 9000) % 2 ** 32, t0 + 1100)).toBeCloseTo(t + 100, 6);
      }),
    );
  });

  it('re-anchors a camera clock that runs fast before it moves pictures a second into the future', () => {
    const c = clock();
    // 1 % fast: every 100 ms of arrival carries 101 ms of RTP time; ahead by 1 s after 100 s.
    const times: number[] = [];
    for (let i = 0; i <= 3000; i += 1) times.push(c.time((i * 9090) % 2 ** 32, 1e6 + i * 100) - (1e6 + i * 100));
    expect(Math.max(...times)).toBeLessThanOrEqual(AHEAD_MS);
    expect(c.resets).toBe(2); // at about 100 s and 200 s of the 300
    // And one that runs slow falls behind no further than its bound.
    const slow = clock();
    for (let i = 0; i <= 3000; i += 1) slow.time((i * 8000) % 2 ** 32, 1e6 + i * 100);
    expect(slow.resets).toBe(3); // 11.1 % slow: 10 s behind after 90 s
    expect(slow.lagMs).toBeLessThanOrEqual(BEHIND_MS);
  });

  it('anchors a new session afresh without counting it, and counts a stream restart within a session', () => {
    const c = clock();
    c.time(1000, 50_000);
    expect(c.time(1000 + 9000, 50_100)).toBeCloseTo(50_100, 6);
    c.restart();
    // The reconnected camera starts at another timestamp; its first picture is at its arrival.
    expect(c.time(3_000_000_000, 60_000)).toBe(60_000);
    expect(c.resets).toBe(0);
    c.reanchor();
    expect(c.time(7, 60_100)).toBe(60_100);
    expect(c.resets).toBe(1);
    expect(() => new RtpClock({ clockRate: 0 })).toThrow(/RTP clock rate must be a positive number/);
  });
});
