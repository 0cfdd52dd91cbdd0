import { describe, expect, it } from 'vitest';
import type { FleetEvent } from '../../../../fleet/console/api/types.js';
import { alertShares, channelLabel, windowContributions } from '../../../../fleet/console/logic/explanation.js';
import { openAlerts } from '../../../../fleet/console/logic/open-alerts.js';

const alert = (gw: string, recordId: string, ts: number, data: unknown, stream = 'press.alerts'): FleetEvent => ({ gatewayId: gw, recordId, kind: 'alert', class: 'alert', stream, model: null, ts, receivedMs: ts, data });

describe('openAlerts', () => {
  it('keeps an alert open until its newest record clears it, per gateway, stream and alert id', () => {
    const open = openAlerts([
      alert('gw-1', 'a', 100, { alert: 1, state: 'raised' }),
      alert('gw-1', 'b', 200, { alert: 1, state: 'cleared' }),
      alert('gw-1', 'c', 300, { alert: 2, state: 'raised' }),
      alert('gw-2', 'd', 150, { alert: 1, state: 'raised' }),
      alert('gw-2', 'e', 160, { alert: 1, state: 'cleared' }, 'other.alerts'),
      alert('gw-3', 'f', 50, { alert: 4, state: 'cleared' }),
      alert('gw-3', 'g', 60, { alert: 4, state: 'reopened' }),
    ]);
    expect(open.map((a) => a.recordId)).toEqual(['c', 'd', 'g']);
  });

  it('counts an alert record without an id or state as open on its own', () => {
    expect(openAlerts([alert('gw-1', 'x', 1, { level: 'high' }), alert('gw-1', 'y', 2, null)]).map((a) => a.recordId)).toEqual(['y', 'x']);
  });
});

describe('explanation shares', () => {
  it('gives each channel its share of the alert\'s score with its unit, largest first', () => {
    const s = alertShares({ current: { contribution: 3, unit: 'A' }, vibration: { contribution: 1, unit: 'mm/s' }, temp: { contribution: -2, unit: '°C' } });
    expect(s.map((c) => [channelLabel(c), c.share])).toEqual([
      ['current (A)', 0.75],
      ['vibration (mm/s)', 0.25],
      ['temp (°C)', 0],
    ]);
  });

  it('turns the anomaly windows into contributions over time (stacking to the score), oldest first, null where a channel is missing', () => {
    const w = windowContributions(
      [
        { ts: 2000, data: { peakTs: 2500, explanation: { a: 1, b: 3 } } },
        { ts: 1000, data: { explanation: { a: 2 } } },
      ],
      ['a', 'b'],
    );
    expect(w).toEqual({ times: [1000, 2500], contributions: [[2, 1], [null, 3]] });
  });
});
