import { describe, expect, it } from 'vitest';
import { counterRates } from '../../../../fleet/console/logic/rates.js';

describe('counterRates', () => {
  it('gives per-second rates between samples, none for the first', () => {
    expect(counterRates([{ ts: 0, value: 100 }, { ts: 60_000, value: 700 }, { ts: 120_000, value: 700 }])).toEqual([
      { ts: 0, perSecond: null },
      { ts: 60_000, perSecond: 10 },
      { ts: 120_000, perSecond: 0 },
    ]);
  });

  it('counts a restarted gateway\'s total from zero, as Prometheus does', () => {
    expect(counterRates([{ ts: 0, value: 5000 }, { ts: 10_000, value: 30 }])[1]).toEqual({ ts: 10_000, perSecond: 3 });
  });

  it('has no rate across a missing value or a clock that did not move forward', () => {
    const r = counterRates([{ ts: 0, value: 1 }, { ts: 1000, value: null }, { ts: 2000, value: 3 }, { ts: 2000, value: 4 }]);
    expect(r.map((p) => p.perSecond)).toEqual([null, null, null, null]);
  });
});
