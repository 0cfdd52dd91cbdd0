import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeSyncEstimator } from '../../firmware-bridge/time-sync.js';

describe('time sync', () => {
  it('maps MCU ticks to wall time within the error bound it reports (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), // wall time at MCU boot
        fc.integer({ min: -80, max: 80 }), // crystal error, ppm
        fc.array(fc.record({ delayUpMs: fc.double({ min: 0.05, max: 40, noNaN: true }), delayDownMs: fc.double({ min: 0.05, max: 40, noNaN: true }) }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 600_000 }), // how far after the last exchange we map
        (bootWallMs, ppm, delays, laterMs) => {
          const est = new TimeSyncEstimator();
          // true tick at wall time w: (w - boot) * (1 + ppm) in us
          const tickAt = (w: number): number => Math.round((w - bootWallMs) * (1 + ppm * 1e-6) * 1000);
          let w = bootWallMs + 1000;
          for (const d of delays) {
            const sent = w;
            const tick = tickAt(sent + d.delayUpMs);
            const received = sent + d.delayUpMs + d.delayDownMs;
            est.add({ sentAtMs: sent, receivedAtMs: received, tickUs: tick });
            w = received + 2000;
          }
          const target = w + laterMs;
          const mapped = est.toWall(tickAt(target));
          expect(mapped).toBeDefined();
          expect(Math.abs((mapped?.ms ?? 0) - target)).toBeLessThanOrEqual((mapped?.errorMs ?? 0) + 0.01);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is as good as the best round trip, and knows nothing before the first exchange or after a reset', () => {
    const est = new TimeSyncEstimator();
    expect(est.toWall(0)).toBeUndefined();
    est.add({ sentAtMs: 1000, receivedAtMs: 1100, tickUs: 50_000 }); // slow exchange
    est.add({ sentAtMs: 2000, receivedAtMs: 2002, tickUs: 1_051_000 }); // fast one
    const m = est.toWall(1_051_000);
    expect(m?.ms).toBeCloseTo(2001, 3);
    expect(m?.errorMs).toBeLessThan(1.01);
    est.reset();
    expect(est.synced).toBe(false);
  });
});
