import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trackMaxAgeMs } from '../../../sim/run/camera-yaml.js';

describe('trackMaxAgeMs', () => {
  it('keeps the stage default from 5 fps up, and never lets a slower camera continue a track across more than 1.2 s', () => {
    expect(trackMaxAgeMs(5)).toBe(1000);
    expect(trackMaxAgeMs(30)).toBe(1000);
    expect(trackMaxAgeMs(2)).toBe(700);
    fc.assert(
      fc.property(fc.double({ min: 1, max: 60, noNaN: true }), (fps) => {
        const periodMs = 1000 / fps;
        const age = trackMaxAgeMs(fps);
        expect(Number.isInteger(age) && age >= 1 && age <= 1000).toBe(true);
        // The tracker tries to continue a track before it ends one unseen for longer than `age`: the
        // last try is at the first frame past it.
        const lastTryMs = (Math.floor(age / periodMs) + 1) * periodMs;
        expect(lastTryMs).toBeLessThanOrEqual(1200 + 1);
      }),
    );
  });
});
