import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertPolicy, type AlertEvent, type AlertPolicyOptions } from '../../../models/anomaly/alert-policy.js';

const options = fc
  .record({ raise: fc.double({ min: 0.1, max: 1, noNaN: true }), gap: fc.double({ min: 0, max: 0.5, noNaN: true }), minDurationMs: fc.integer({ min: 0, max: 50 }), cooldownMs: fc.integer({ min: 0, max: 100 }), groupShare: fc.double({ min: 0, max: 1, noNaN: true }) })
  .map((o): AlertPolicyOptions => ({ raiseThreshold: o.raise, clearThreshold: Math.max(0, o.raise - o.gap), minDurationMs: o.minDurationMs, cooldownMs: o.cooldownMs, groupShare: o.groupShare }));

/** Scores with a few channels; time steps of 1..5 ms. */
const stream = fc.array(fc.record({ dt: fc.integer({ min: 1, max: 5 }), a: fc.double({ min: 0, max: 1, noNaN: true }), b: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 300 });

function run(o: AlertPolicyOptions, points: { dt: number; a: number; b: number }[]): AlertEvent[] {
  const policy = new AlertPolicy(o);
  const events: AlertEvent[] = [];
  let ts = 0;
  for (const p of points) {
    ts += p.dt;
    const score = Math.max(p.a, p.b);
    const total = p.a + p.b;
    events.push(...policy.push({ ts, score, contributions: total === 0 ? { a: 0, b: 0 } : { a: (score * p.a) / total, b: (score * p.b) / total } }));
  }
  events.push(...policy.close(ts));
  return events;
}

describe('alert policy', () => {
  it('never emits an alert shorter than the minimum duration (property)', () => {
    fc.assert(
      fc.property(options, stream, (o, points) => {
        for (const e of run(o, points)) {
          if (e.type === 'cleared') expect((e.alert.end as number) - e.alert.start).toBeGreaterThanOrEqual(o.minDurationMs);
          if (e.type === 'raised') expect(e.alert.peakScore).toBeGreaterThanOrEqual(o.raiseThreshold);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never raises two alerts inside the cooldown (property)', () => {
    fc.assert(
      fc.property(options, stream, (o, points) => {
        const events = run(o, points);
        const ends = new Map<number, number>();
        let lastEnd: number | undefined;
        for (const e of events) {
          if (e.type === 'cleared') {
            ends.set(e.alert.id, e.alert.end as number);
            lastEnd = e.alert.end as number;
          }
          if (e.type === 'raised' && lastEnd !== undefined) expect(e.alert.start - lastEnd).toBeGreaterThanOrEqual(o.cooldownMs);
        }
        // ids are new only for new alerts
        const raisedIds = events.filter((e) => e.type === 'raised').map((e) => e.alert.id);
        expect(new Set(raisedIds).size).toBe(raisedIds.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes one id from its allocator per raised alert, none for a rise that did not last, and every event of an alert carries its id (property)', () => {
    fc.assert(
      fc.property(options, stream, fc.integer({ min: 1, max: 1e9 }), (o, points, first) => {
        // The allocator stands for the stage's ledger: ids go on from where a previous process left them.
        const taken: number[] = [];
        let next = first;
        const policy = new AlertPolicy(o, () => {
          taken.push(next);
          return next++;
        });
        const events: AlertEvent[] = [];
        let ts = 0;
        for (const p of points) {
          ts += p.dt;
          events.push(...policy.push({ ts, score: Math.max(p.a, p.b), contributions: { a: p.a, b: p.b } }));
        }
        events.push(...policy.close(ts));
        const raised = events.filter((e) => e.type === 'raised').map((e) => e.alert.id);
        expect(raised).toEqual(taken);
        for (const e of events) expect(taken).toContain(e.alert.id);
      }),
      { numRuns: 1000 },
    );
  });

  it('does not flap on a score hovering at the threshold (hysteresis)', () => {
    const policy = new AlertPolicy({ raiseThreshold: 0.9, clearThreshold: 0.7, minDurationMs: 0, cooldownMs: 0, groupShare: 0.2 });
    const events: AlertEvent[] = [];
    for (let t = 0; t < 100; t += 1) events.push(...policy.push({ ts: t, score: t % 2 === 0 ? 0.91 : 0.85, contributions: { x: t % 2 === 0 ? 0.91 : 0.85 } }));
    expect(events.map((e) => e.type)).toEqual(['raised']);
  });

  it('groups channels that fire together, and explains the alert at its peak', () => {
    const policy = new AlertPolicy({ raiseThreshold: 0.8, clearThreshold: 0.5, minDurationMs: 2, cooldownMs: 10, groupShare: 0.25 });
    const events: AlertEvent[] = [];
    events.push(...policy.push({ ts: 0, score: 0.85, contributions: { vibration: 0.8, current: 0.05, temperature: 0 } }));
    events.push(...policy.push({ ts: 1, score: 0.95, contributions: { vibration: 0.5, current: 0.45, temperature: 0 } }));
    events.push(...policy.push({ ts: 2, score: 0.9, contributions: { vibration: 0.6, current: 0.3, temperature: 0 } }));
    events.push(...policy.push({ ts: 3, score: 0.1, contributions: { vibration: 0.05, current: 0.05, temperature: 0 } }));
    expect(events.map((e) => e.type)).toEqual(['raised', 'cleared']);
    const alert = events[1]?.alert;
    expect(alert).toMatchObject({ start: 0, end: 3, peakScore: 0.95, peakTs: 1, channels: ['current', 'vibration'], explanation: { vibration: 0.5, current: 0.45, temperature: 0 } });
    // A rise within the cooldown reopens the same alert.
    expect(policy.push({ ts: 8, score: 0.9, contributions: { vibration: 0.9 } }).map((e) => [e.type, e.alert.id])).toEqual([['reopened', alert?.id]]);
  });
});
