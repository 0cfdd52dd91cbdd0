import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../runtime/uplink/backoff.js';

describe('reconnect backoff', () => {
  it('stays within [ceiling/2, ceiling], the ceiling doubles up to the maximum, and reset starts over (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 5000 }), fc.integer({ min: 1, max: 100 }), fc.array(fc.double({ min: 0, max: 0.9999999, noNaN: true }), { minLength: 1, maxLength: 40 }), (min, factor, draws) => {
        const max = min * factor;
        let i = 0;
        const b = new Backoff({ minDelayMs: min, maxDelayMs: max }, () => draws[i++ % draws.length] as number);
        let ceiling = min;
        for (let n = 0; n < draws.length; n += 1) {
          expect(b.ceiling()).toBe(Math.min(max, ceiling));
          const d = b.next();
          expect(d).toBeGreaterThanOrEqual(Math.min(max, ceiling) / 2);
          expect(d).toBeLessThanOrEqual(Math.min(max, ceiling));
          ceiling *= 2;
        }
        b.reset();
        expect(b.ceiling()).toBe(min);
      }),
    );
  });

  it('spreads a fleet that lost the broker together', () => {
    const delays = Array.from({ length: 1000 }, () => {
      const b = new Backoff({ minDelayMs: 1000, maxDelayMs: 60_000 });
      for (let i = 0; i < 5; i += 1) b.next();
      return b.next(); // sixth attempt: ceiling 32 s
    });
    const spread = Math.max(...delays) - Math.min(...delays);
    expect(spread).toBeGreaterThan(12_000);
  });
});
