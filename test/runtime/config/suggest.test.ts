import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../../runtime/config/suggest.js';

describe('did-you-mean suggestions', () => {
  it('treats a change of case as no edit', () => {
    expect(editDistance('rateHZ', 'rateHz')).toBe(0);
    expect(closest('rateHZ', ['id', 'type', 'rateHz', 'samplesPerRecord'])).toBe('rateHz');
  });

  it('finds slips: a missing, an extra, a wrong and two swapped letters', () => {
    const keys = ['reconnect', 'maxSizeBytes', 'passwordFile', 'windowMs'];
    expect(closest('reconect', keys)).toBe('reconnect');
    expect(closest('maxSizeByte', keys)).toBe('maxSizeBytes');
    expect(closest('passwrodFile', keys)).toBe('passwordFile');
    expect(closest('windowMz', keys)).toBe('windowMs');
  });

  it('suggests nothing for another word', () => {
    expect(closest('colour', ['name', 'unit', 'offset', 'sine', 'noise'])).toBeUndefined();
    expect(closest('x', ['id', 'type'])).toBeUndefined();
  });

  it('is a distance: symmetric, zero only for equal (ignoring case), and bounded by the longer length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d).toBe(editDistance(b, a));
        expect(d === 0).toBe(a.toLowerCase() === b.toLowerCase());
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });
});
