import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnitError, formatDuration, parseDuration, parseSize } from '../../../sim/scenario/units.js';

describe('parseDuration', () => {
  it('reads the forms a scenario is written in', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2min')).toBe(120_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1m 30s')).toBe(90_000);
    expect(parseDuration(' 5 s ')).toBe(5000);
    expect(parseDuration('0s')).toBe(0);
  });

  it('refuses a bare number, saying it has no unit', () => {
    expect(() => parseDuration('30')).toThrow(/bare number has no unit/);
  });

  it.each(['', 's', '-5s', '5 seconds', '1s1m', '1m1m', '5x', '0.0001ms', '1e3s', '5s!'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(UnitError);
  });

  it('reads back what formatDuration writes, for any whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('adds its parts: h, m, s and ms written together give their sum', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        expect(parseDuration(`${h}h${m}m${s}s${ms}ms`)).toBe(((h * 60 + m) * 60 + s) * 1000 + ms);
      }),
    );
  });

  it('never throws anything but UnitError, and only returns whole non-negative milliseconds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          const ms = parseDuration(text);
          expect(Number.isSafeInteger(ms) && ms >= 0).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(UnitError);
        }
      }),
    );
  });
});

describe('parseSize', () => {
  it('reads IEC and SI units as their standards say', () => {
    expect(parseSize('2MiB')).toBe(2 * 2 ** 20);
    expect(parseSize('512 KiB')).toBe(512 * 1024);
    expect(parseSize('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseSize('2MB')).toBe(2_000_000);
    expect(parseSize('500kB')).toBe(500_000);
    expect(parseSize('65536B')).toBe(65_536);
  });

  it('refuses a bare number and names an unknown unit', () => {
    expect(() => parseSize('2048')).toThrow(/bare number has no unit/);
    expect(() => parseSize('2mb')).toThrow(/unknown unit "mb"/);
  });

  it('refuses a fraction of a byte', () => {
    expect(() => parseSize('1.5B')).toThrow(/not a whole byte/);
  });

  it('scales with its unit: n KiB is n * 1024 bytes, n MB is n * 10^6', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 30 }), (n) => {
        expect(parseSize(`${n}KiB`)).toBe(n * 1024);
        expect(parseSize(`${n}MB`)).toBe(n * 1e6);
        expect(parseSize(`${n}B`)).toBe(n);
      }),
    );
  });

  it('never throws anything but UnitError on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          expect(Number.isSafeInteger(parseSize(text))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(UnitError);
        }
      }),
    );
  });
});
