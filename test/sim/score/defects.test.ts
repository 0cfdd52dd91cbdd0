import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defectsFromEvents, matchSortedTimes, scoreDefects } from '../../../sim/score/defects.js';
import type { DefectivePart, DefectObservation } from '../../../sim/score/types.js';

/** The largest one-to-one matching by augmenting paths (Kuhn), to check the greedy one against. */
function maxMatching(a: readonly number[], b: readonly number[], tol: number): number {
  const matchB = new Array<number>(b.length).fill(-1);
  const tryA = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < b.length; j += 1) {
      if (seen[j] || Math.abs((a[i] as number) - (b[j] as number)) > tol) continue;
      seen[j] = true;
      if (matchB[j] === -1 || tryA(matchB[j] as number, seen)) {
        matchB[j] = i;
        return true;
      }
    }
    return false;
  };
  let n = 0;
  for (let i = 0; i < a.length; i += 1) if (tryA(i, new Array<boolean>(b.length).fill(false))) n += 1;
  return n;
}

const times = fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 12 }).map((xs) => xs.sort((x, y) => x - y));

describe('matchSortedTimes', () => {
  it('finds as many pairs as the largest matching, each pair within the tolerance and each time used once', () => {
    fc.assert(
      fc.property(times, times, fc.integer({ min: 0, max: 30 }), (a, b, tol) => {
        const pairs = matchSortedTimes(a, b, tol);
        expect(pairs.length).toBe(maxMatching(a, b, tol));
        for (const [i, j] of pairs) expect(Math.abs((a[i] as number) - (b[j] as number))).toBeLessThanOrEqual(tol);
        expect(new Set(pairs.map(([i]) => i)).size).toBe(pairs.length);
        expect(new Set(pairs.map(([, j]) => j)).size).toBe(pairs.length);
      }),
    );
  });
});

const part = (gatewayId: string, partId: number, leftViewMs: number): DefectivePart => ({ gatewayId, partId, defect: 'scratch', leftViewMs });
const event = (gatewayId: string, track: number, lastSeenMs: number): DefectObservation => ({ gatewayId, recordId: `${gatewayId}.1.${track}`, track, lastSeenMs });

describe('scoreDefects', () => {
  it('gives recall and precision 1 to one event per defective part near the time it left', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('gw-1', 'gw-2'), fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: -1000, max: 1000 }))), (specs) => {
        const parts = specs.map(([gw, t], i) => part(gw, i, t));
        const events = specs.map(([gw, t, off], i) => event(gw, i, t + off));
        const s = scoreDefects(parts, events, 1000);
        expect(s.recall).toBe(1);
        expect(s.precision).toBe(1);
      }),
    );
  });

  it('matches one to one: two events for one part make one false event; an event on another gateway matches nothing', () => {
    const s = scoreDefects([part('gw-1', 1, 5000), part('gw-1', 2, 9000)], [event('gw-1', 1, 5100), event('gw-1', 2, 5200), event('gw-2', 3, 9000)], 1500);
    expect(s).toMatchObject({ parts: 2, events: 3, matched: 1, recall: 0.5, precision: 1 / 3 });
    expect(s.missedParts.map((p) => p.partId)).toEqual([2]);
    expect(s.falseEvents.map((e) => e.track).sort()).toEqual([2, 3]);
  });

  it('keeps recall and precision in [0, 1]', () => {
    fc.assert(
      fc.property(times, times, fc.integer({ min: 0, max: 50 }), (pt, et, tol) => {
        const s = scoreDefects(pt.map((t, i) => part('gw-1', i, t)), et.map((t, i) => event('gw-1', i, t)), tol);
        for (const v of [s.recall, s.precision]) expect(v >= 0 && v <= 1).toBe(true);
        expect(s.matched + s.missedParts.length).toBe(s.parts);
        expect(s.matched + s.falseEvents.length).toBe(s.events);
      }),
    );
  });
});

describe('defectsFromEvents', () => {
  it('keeps the vision stage\'s defect events with their last sighting, and counts malformed ones', () => {
    const base = { gatewayId: 'cam-1', kind: 'event', stream: 'cam-1.events', ts: 5 };
    const { defects, unreadable } = defectsFromEvents([
      { ...base, recordId: 'a.1.0', data: { event: 'entered', track: 1 } },
      { ...base, recordId: 'a.1.1', data: { event: 'defect', track: 1, firstTs: 100, lastTs: 900, best: { ts: 500 } } },
      { ...base, recordId: 'a.1.2', data: { event: 'defect', track: 'x' } },
      { ...base, recordId: 'a.1.3', data: null },
    ]);
    expect(defects).toEqual([{ gatewayId: 'cam-1', recordId: 'a.1.1', track: 1, lastSeenMs: 900 }]);
    expect(unreadable).toBe(1);
  });
});
