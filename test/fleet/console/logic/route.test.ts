import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hrefs, parseRoute } from '../../../../fleet/console/logic/route.js';

describe('parseRoute', () => {
  it('reads every route of the console', () => {
    expect(parseRoute('')).toEqual({ page: 'overview' });
    expect(parseRoute('#/')).toEqual({ page: 'overview' });
    expect(parseRoute('#/gateways')).toEqual({ page: 'gateways' });
    expect(parseRoute('#/gateways/gw-1')).toEqual({ page: 'gateway', id: 'gw-1' });
    expect(parseRoute('#/rollouts')).toEqual({ page: 'rollouts' });
    expect(parseRoute('#/rollouts/new')).toEqual({ page: 'rollout-new' });
    expect(parseRoute('#/rollouts/ro-0123456789ab')).toEqual({ page: 'rollout', id: 'ro-0123456789ab' });
    expect(parseRoute('#/events')).toEqual({ page: 'events' });
    expect(parseRoute('#/events/gw-1/r%2F9')).toEqual({ page: 'event', gatewayId: 'gw-1', recordId: 'r/9' });
    expect(parseRoute('#/learning')).toEqual({ page: 'learning' });
    expect(parseRoute('#/learning/press-ae')).toEqual({ page: 'learning-task', id: 'press-ae' });
    expect(parseRoute('#/releases')).toEqual({ page: 'releases' });
    expect(parseRoute('#/nope/1/2/3')).toEqual({ page: 'not-found', path: 'nope/1/2/3' });
    expect(parseRoute('#/gateways/%E0%A4%A')).toEqual({ page: 'not-found', path: 'gateways/%E0%A4%A' });
  });

  it('reads back the links it makes, for any ids', () => {
    const id = fc.string({ minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(id, id, (a, b) => {
        expect(parseRoute(hrefs.gateway(a))).toEqual({ page: 'gateway', id: a });
        expect(parseRoute(hrefs.event(a, b))).toEqual({ page: 'event', gatewayId: a, recordId: b });
        if (a !== 'new') expect(parseRoute(hrefs.rollout(a))).toEqual({ page: 'rollout', id: a });
      }),
    );
  });
});
