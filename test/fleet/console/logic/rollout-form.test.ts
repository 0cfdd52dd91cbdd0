import { describe, expect, it } from 'vitest';
import { buildRolloutRequest, DEFAULT_FORM, RolloutFormError } from '../../../../fleet/console/logic/rollout-form.js';

const target = 'models/press-ae/3/model.onnx';

describe('buildRolloutRequest', () => {
  it('leaves out what the operator left empty, so the fleet\'s defaults apply', () => {
    expect(buildRolloutRequest({ ...DEFAULT_FORM, target })).toEqual({
      target,
      selector: { kind: 'all' },
      waves: [
        { kind: 'count', count: 1 },
        { kind: 'share', share: 0.5 },
        { kind: 'share', share: 1 },
      ],
      gates: {},
      onGateFailure: 'pause',
    });
  });

  it('reads percent gates, rate, timeout in minutes, windows and a label selector', () => {
    const body = buildRolloutRequest({
      ...DEFAULT_FORM,
      target,
      name: ' canary first ',
      selector: 'site=plant-2,!canary',
      waves: '5; site=plant-1,line=press; 100%',
      maxFailurePercent: '10',
      maxTimeoutPercent: '2.5',
      onGateFailure: 'rollback',
      ratePerMinute: '60',
      gatewayTimeoutMinutes: '15',
      windows: [{ selector: 'site=plant-2', from: '22:00', to: '05:00', timeZone: 'Europe/Berlin' }],
    });
    expect(body).toEqual({
      name: 'canary first',
      target,
      selector: { kind: 'labels', selector: 'site=plant-2,!canary' },
      waves: [
        { kind: 'count', count: 5 },
        { kind: 'labels', selector: 'site=plant-1,line=press' },
        { kind: 'share', share: 1 },
      ],
      gates: { maxFailureShare: 0.1, maxTimeoutShare: 0.025 },
      onGateFailure: 'rollback',
      ratePerMinute: 60,
      gatewayTimeoutMs: 900_000,
      windows: [{ selector: 'site=plant-2', from: '22:00', to: '05:00', timeZone: 'Europe/Berlin' }],
    });
  });

  it('names the field that cannot be read', () => {
    const field = (patch: Partial<typeof DEFAULT_FORM>): string => {
      try {
        buildRolloutRequest({ ...DEFAULT_FORM, target, ...patch });
      } catch (err) {
        if (err instanceof RolloutFormError) return `${err.field}: ${err.message}`;
        throw err;
      }
      return 'accepted';
    };
    expect(field({ target: '' })).toBe('target: Release: choose the release to roll out');
    expect(field({ waves: '1, 120%' })).toMatch(/^waves: Waves, wave 2/);
    expect(field({ maxRollbackPercent: 'ten' })).toBe('maxRollbackPercent: Max rollback share: "ten" is not a percentage from 0 to 100');
    expect(field({ ratePerMinute: '0' })).toMatch(/^ratePerMinute: Rate: "0" is not a whole number from 1/);
    expect(field({ windows: [{ selector: 'a=b', from: '25:00', to: '05:00', timeZone: 'UTC' }] })).toBe('windows.0.from: Window 1: from "25:00" is not a time HH:MM');
  });
});
