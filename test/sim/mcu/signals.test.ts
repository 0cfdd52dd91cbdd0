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
    const sha = (bytes: Float64Array): string => createHash('sha256').update(new Uint8Array(bytes.buffer)).digest('hex');
    // SHA-256 of the first 10,000 rows of seed 7 (no fault) from the code before profiles.
    expect(sha(samples(new MotorSignals(7), 10_000))).toBe('27335f99247b56c07c0512de66eae4415a34ea4f2a367b88f239bd8f44f6d66c');
    // The same rows, then faults on at 10,000 and stuck at 25,000, with the faults as resized for short runs (2026-11-30).
    expect(sha(samples(new MotorSignals(7), 30_000, { on: 10_000, stuck: 25_000 }))).toBe('84af29b0c30735f924c32af2e8a53fd801562177e9917c2b4430ab7e471022cc');
    expect(new MotorSignals(7, {}).profile).toEqual(DEFAULT_MOTOR);
  });

  it('a running motor starts at its working temperature and stays near it; a motor just switched on warms up', () => {
    const temperature = (running: boolean): number[] => Array.from(samples(new MotorSignals(2, {}, { running }), 20 * RATE).filter((_, i) => i % 3 === 1));
    const level = DEFAULT_MOTOR.ambientC + DEFAULT_MOTOR.riseAtFullLoadC * DEFAULT_MOTOR.loadMean;
    const running = temperature(true);
    expect(running[0]).toBeCloseTo(level, 0);
    // Over 20 s it moves with the ten-minute load cycle only: well under a degree.
    expect(Math.abs((running[running.length - 1] as number) - (running[0] as number))).toBeLessThan(0.5);
    const cold = temperature(false);
    expect(cold[0]).toBeCloseTo(DEFAULT_MOTOR.ambientC + 5, 0);
    expect((cold[cold.length - 1] as number) - (cold[0] as number)).toBeGreaterThan(1);
  });

  it('sizes each fault to be seen within seconds: bearing tone, a spike a second at any rate, a drift of 6 degC a minute', () => {
    const rows = 60 * RATE;
    // 60 s of the motor with the fault on from the start.
    const withFault = (kind: 'bearing-wear' | 'spikes' | 'drift', rateHz: number): number[][] => {
      const s = new MotorSignals(4, {}, { running: true });
      s.setFault(kind, true, 0);
      return Array.from({ length: 60 * rateHz }, (_, i) => s.sample(i, rateHz));
    };
    const vibration = withFault('bearing-wear', RATE).map((v) => v[0] as number);
    expect(tone(vibration, 3.58 * DEFAULT_MOTOR.runningHz)).toBeCloseTo(1, 1);
    for (const rateHz of [100, 200, 1000]) {
      const spikes = withFault('spikes', rateHz).filter((v) => Math.abs(v[0] as number) > 2.5).length;
      // About one a second for the 60 s at any rate (Poisson: 60 +- 3 sigma).
      expect(spikes, `${rateHz} Hz`).toBeGreaterThan(36);
      expect(spikes, `${rateHz} Hz`).toBeLessThan(84);
    }
    const drift = withFault('drift', RATE).map((v) => v[1] as number);
    const healthy = Array.from(samples(new MotorSignals(4, {}, { running: true }), rows).filter((_, i) => i % 3 === 1));
    expect((drift[rows - 1] as number) - (healthy[rows - 1] as number)).toBeCloseTo(6, 0);
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
