import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MOTOR, MotorSignals } from '../../../sim/mcu/signals.js';

const RATE = 200;

function samples(s: MotorSignals, rows: number, faultsAt?: { on: number; stuck: number }): Float64Array {
  const out = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i += 1) {
    if (i === faultsAt?.on) for (const kind of ['bearing-wear', 'spikes', 'drift'] as const) s.setFault(kind, true, i);
    if (i === faultsAt?.stuck) s.setFault('stuck', true, i);
    out.set(s.sample(i, RATE), i * 3);
  }
  return out;
}

/** Amplitude of the `hz` tone in `values` sampled at RATE (a single-bin DFT). */
function tone(values: readonly number[], hz: number): number {
  let re = 0;
  let im = 0;
  values.forEach((v, i) => {
    re += v * Math.cos((2 * Math.PI * hz * i) / RATE);
    im += v * Math.sin((2 * Math.PI * hz * i) / RATE);
  });
  return (2 * Math.hypot(re, im)) / values.length;
}

describe('the simulated motor', () => {
  it('with the default profile sends bit for bit what it sent before profiles existed', () => {
    // SHA-256 of 30,000 rows of seed 7 (faults on at 10,000, stuck at 25,000) from the code before profiles.
    const bytes = samples(new MotorSignals(7), 30_000, { on: 10_000, stuck: 25_000 });
    expect(createHash('sha256').update(new Uint8Array(bytes.buffer)).digest('hex')).toBe('f13b8587bda663192a8e397cc6c7aa0c316fad4d46fbc2d381f954b980562be8');
    expect(new MotorSignals(7, {}).profile).toEqual(DEFAULT_MOTOR);
  });

  it('follows its profile: running speed, mains, rated current, ambient and noise', () => {
    const rows = 4000;
    const column = (s: MotorSignals, c: number): number[] => Array.from(samples(s, rows).filter((_, i) => i % 3 === c));
    const profile = { runningHz: 20, mainsHz: 60, ratedCurrentA: 12, ambientC: 20 };
    const vibration = column(new MotorSignals(1, { runningHz: 20 }), 0);
    expect(tone(vibration, 20)).toBeCloseTo(0.5, 1);
    expect(tone(vibration, 24.5)).toBeLessThan(0.02);
    const current = column(new MotorSignals(1, profile), 2);
    // A 60 Hz ripple of 0.3 A x 12 / 8; no 50 Hz.
    expect(tone(current, 60)).toBeCloseTo(0.45, 1);
    expect(tone(current, 50)).toBeLessThan(0.02);
    const mean = (xs: readonly number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
    expect(mean(current)).toBeCloseTo(12 * 0.7, 0);
    // The winding starts 5 degC above its ambient.
    expect(column(new MotorSignals(1, profile), 1)[0]).toBeCloseTo(25, 0);
    const spread = (noiseScale: number): number => {
      const t = column(new MotorSignals(3, { noiseScale }), 1);
      // Sample-to-sample differences of the temperature are its noise (the level moves far slower).
      return Math.sqrt(mean(t.slice(1).map((x, i) => (x - (t[i] as number)) ** 2)) / 2);
    };
    expect(spread(1)).toBeCloseTo(0.05, 2);
    expect(spread(3) / spread(1)).toBeCloseTo(3, 1);
  });
});
