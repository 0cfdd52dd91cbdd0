import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { alertsFromEvents, scoreAlerts, sensorFaultWindows, type FleetEventItem } from '../../../sim/score/alerts.js';
import type { AlertObservation, SensorFaultWindow } from '../../../sim/score/types.js';

const GRACE = 5000;
const gatewayIds = ['gw-1', 'gw-2', 'gw-3'];

/** Faults on a gateway do not overlap, as the scenario schedules them (one at a time per MCU). */
const faultsArb = fc
  .array(fc.record({ gw: fc.constantFrom(...gatewayIds), gapMs: fc.integer({ min: GRACE + 2, max: 60_000 }), durationMs: fc.integer({ min: 1000, max: 60_000 }) }), { maxLength: 12 })
  .map((specs) => {
    const at = new Map<string, number>();
    return specs.map(({ gw, gapMs, durationMs }): SensorFaultWindow => {
      const startMs = (at.get(gw) ?? 0) + gapMs;
      at.set(gw, startMs + durationMs);
      return { gatewayId: gw, kind: 'bearing-wear', channels: ['vibration'], startMs, endMs: startMs + durationMs };
    });
  });

const alertAt = (gatewayId: string, startMs: number, alertId = 1): AlertObservation => ({ gatewayId, stream: 'motor-1', alertId, startMs, endMs: startMs + 500, channels: ['vibration'], peakScore: 9 });

describe('scoreAlerts', () => {
  it('keeps precision and recall in [0, 1] on any alerts and faults', () => {
    fc.assert(
      fc.property(faultsArb, fc.array(fc.record({ gw: fc.constantFrom(...gatewayIds), t: fc.integer({ min: 0, max: 400_000 }) }), { maxLength: 30 }), (faults, raw) => {
        const s = scoreAlerts(raw.map((a, i) => alertAt(a.gw, a.t, i)), faults, GRACE);
        for (const v of [s.precision, s.recall]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        expect(s.trueAlerts + s.falseAlerts.length).toBe(s.alerts);
        expect(s.detected).toBeLessThanOrEqual(s.faults);
      }),
    );
  });

  it('gives precision 1 and recall 1 to one alert inside each fault, with its delay', () => {
    fc.assert(
      fc.property(faultsArb, fc.double({ min: 0, max: 1, noNaN: true }), (faults, where) => {
        const alerts = faults.map((f, i) => alertAt(f.gatewayId, Math.round(f.startMs + where * (f.endMs - f.startMs)), i));
        const s = scoreAlerts(alerts, faults, GRACE);
        expect(s.precision).toBe(1);
        expect(s.recall).toBe(1);
        expect(s.falseAlerts).toEqual([]);
        const delays = faults.map((f, i) => (alerts[i] as AlertObservation).startMs - f.startMs);
        if (faults.length > 0) {
          expect(s.maxDelayMs).toBe(Math.max(...delays));
          expect(s.meanDelayMs).toBeCloseTo(delays.reduce((a, b) => a + b, 0) / delays.length, 6);
        }
      }),
    );
  });

  it('loses recall (and precision) when the same alerts are shifted outside the fault windows', () => {
    fc.assert(
      fc.property(faultsArb.filter((f) => f.length > 0), (faults) => {
        const inside = faults.map((f, i) => alertAt(f.gatewayId, f.startMs, i));
        const before = scoreAlerts(inside, faults, GRACE);
        // Before each fault starts: never inside a window (faults on a gateway are more than the grace apart).
        const early = faults.map((f, i) => alertAt(f.gatewayId, f.startMs - 1, i));
        const after = scoreAlerts(early, faults, GRACE);
        expect(after.recall).toBeLessThan(before.recall);
        expect(after.recall).toBe(0);
        expect(after.precision).toBe(0);
        expect(after.falseAlerts).toHaveLength(faults.length);
      }),
    );
  });

  it('counts an alert on another gateway as false even inside the window, and one within the grace as true', () => {
    const fault: SensorFaultWindow = { gatewayId: 'gw-1', kind: 'spikes', channels: ['vibration', 'current'], startMs: 10_000, endMs: 20_000 };
    const s = scoreAlerts([alertAt('gw-2', 12_000), alertAt('gw-1', 20_000), alertAt('gw-1', 20_000 + GRACE, 2), alertAt('gw-1', 20_001 + GRACE, 3)], [fault], GRACE);
    expect(s).toMatchObject({ alerts: 4, trueAlerts: 2, detected: 1, recall: 1, meanDelayMs: 10_000 });
    expect(s.falseAlerts.map((a) => a.gatewayId)).toEqual(['gw-2', 'gw-1']);
  });

  it('does not count an alert raised only after the fault ended as its detection (a drift noticed when it stops was missed), nor as a false alarm', () => {
    const fault: SensorFaultWindow = { gatewayId: 'gw-1', kind: 'drift', channels: ['temperature'], startMs: 10_000, endMs: 30_000 };
    const s = scoreAlerts([alertAt('gw-1', 30_020)], [fault], GRACE);
    expect(s).toMatchObject({ alerts: 1, trueAlerts: 1, precision: 1, detected: 0, recall: 0, meanDelayMs: null });
    expect(s.outcomes[0]?.delayMs).toBeNull();
  });

  it('says precision 1 with no alerts and recall 1 with no faults (nothing wrong was done)', () => {
    expect(scoreAlerts([], [], GRACE)).toMatchObject({ precision: 1, recall: 1, meanDelayMs: null });
  });
});

describe('sensorFaultWindows', () => {
  it('turns a simulated MCU\'s fault log into windows with the channels each fault changes', () => {
    const motor = new MotorSignals(1);
    motor.setFault('bearing-wear', true, 1000);
    motor.setFault('drift', true, 1500);
    motor.setFault('bearing-wear', false, 3000);
    const t0 = 1_700_000_000_000;
    const windows = sensorFaultWindows('gw-1', motor.faultLog, (i) => t0 + i, t0 + 10_000);
    expect(windows).toEqual([
      { gatewayId: 'gw-1', kind: 'bearing-wear', channels: ['vibration'], startMs: t0 + 1000, endMs: t0 + 3000 },
      { gatewayId: 'gw-1', kind: 'drift', channels: ['temperature'], startMs: t0 + 1500, endMs: t0 + 10_000 },
    ]);
  });
});

describe('alertsFromEvents', () => {
  const ev = (recordId: string, data: unknown, kind = 'alert'): FleetEventItem => ({ gatewayId: 'gw-1', recordId, kind, stream: 'motor-1.alerts', ts: 0, data });

  it('folds raised and cleared into one alert with its start and end, and counts what is not an alert', () => {
    const { alerts, unreadable } = alertsFromEvents([
      ev('r1', { alert: 3, state: 'raised', start: 100, end: null, channels: ['vibration'], peakScore: 4 }),
      ev('r2', { alert: 3, state: 'cleared', start: 100, end: 900, channels: ['vibration', 'current'], peakScore: 7 }),
      ev('r3', { alert: 4, state: 'raised', start: 2000, end: null, channels: [], peakScore: 5 }),
      ev('r4', { state: 'raised' }),
      ev('r5', { event: 'defect' }, 'event'),
    ]);
    expect(unreadable).toBe(1);
    expect(alerts).toEqual([
      { gatewayId: 'gw-1', stream: 'motor-1.alerts', alertId: 3, startMs: 100, endMs: 900, channels: ['vibration', 'current'], peakScore: 7 },
      { gatewayId: 'gw-1', stream: 'motor-1.alerts', alertId: 4, startMs: 2000, endMs: null, channels: [], peakScore: 5 },
    ]);
  });

  it('keeps apart two alerts with one id from two lives of a gateway (a restart numbers them from 1 again)', () => {
    const { alerts } = alertsFromEvents([
      ev('r1', { alert: 1, state: 'raised', start: 100, end: null, channels: ['vibration'], peakScore: 4 }),
      ev('r2', { alert: 1, state: 'cleared', start: 100, end: 900, channels: ['vibration'], peakScore: 4 }),
      // kill -9, restart: the new process's first alert is alert 1 again.
      ev('r3', { alert: 1, state: 'raised', start: 5000, end: null, channels: ['current'], peakScore: 6 }),
      ev('r4', { alert: 1, state: 'cleared', start: 5000, end: 7000, channels: ['current'], peakScore: 6 }),
    ]);
    expect(alerts.map((a) => [a.alertId, a.startMs, a.endMs, a.channels])).toEqual([
      [1, 100, 900, ['vibration']],
      [1, 5000, 7000, ['current']],
    ]);
  });

  it('never throws on arbitrary event data', () => {
    fc.assert(
      fc.property(fc.array(fc.anything()), (datas) => {
        const { alerts, unreadable } = alertsFromEvents(datas.map((d, i) => ev(`r${i}`, d)));
        expect(alerts.length + unreadable).toBeLessThanOrEqual(datas.length);
      }),
    );
  });
});
