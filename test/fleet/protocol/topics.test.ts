import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, gatewayTopics, isGatewayId, parseGatewayTopic } from '../../../fleet/protocol/index.js';

const gatewayId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

describe('topics', () => {
  it('parses what it builds, for every gateway id and kind', () => {
    fc.assert(
      fc.property(gatewayId, fc.constantFrom('records', 'state', 'health') as fc.Arbitrary<'records' | 'state' | 'health'>, (id, kind) => {
        expect(parseGatewayTopic(gatewayTopics[kind](id))).toEqual({ gatewayId: id, kind });
      }),
    );
  });

  it('refuses ids that would break the topic tree', () => {
    for (const bad of ['', 'a/b', '+', '#', 'a+', '-lead', 'x'.repeat(65), 'sp ace']) expect(isGatewayId(bad)).toBe(false);
  });

  it('refuses foreign topics with a typed error', () => {
    for (const t of ['edgewise/v2/gw/a/records', 'edgewise/v1/gw/a/other', 'edgewise/v1/gw/a', 'x']) {
      expect(() => parseGatewayTopic(t)).toThrow(ProtocolError);
    }
  });
});
