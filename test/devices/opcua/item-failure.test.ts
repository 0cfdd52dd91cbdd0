import { describe, expect, it } from 'vitest';
import { describeItemFailure } from '../../../devices/opcua/item-failure.js';

// What a refused monitored item says (the end-to-end case, node-opcua's BadMonitoredItemFilterUnsupported, is in source.test.ts).
describe('opcua item failures', () => {
  const percent = { nodeId: 'ns=2;s=Level', name: 'level', deadband: { type: 'percent' as const, value: 5 } };
  const absolute = { nodeId: 'ns=2;s=Mode', name: 'mode', deadband: { type: 'absolute' as const, value: 1 } };

  it('a percent deadband refused as the spec says (BadDeadbandFilterInvalid) or as node-opcua does: needs an EURange, use an absolute one', () => {
    for (const status of ['BadDeadbandFilterInvalid', 'BadMonitoredItemFilterUnsupported']) {
      const text = describeItemFailure(percent, status);
      expect(text).toMatch(new RegExp(`^level \\(ns=2;s=Level\\): ${status} \\(a percent deadband needs an EURange property on the node`));
      expect(text).toContain('use an absolute deadband, or none');
    }
  });

  it('a deadband on a variable that is not a number: remove it', () => {
    expect(describeItemFailure(absolute, 'BadFilterNotAllowed')).toBe('mode (ns=2;s=Mode): BadFilterNotAllowed (the server refused the absolute deadband: a deadband applies only to a numeric variable; remove it from this item)');
  });

  it('any other status, or an item without a deadband: the status alone', () => {
    expect(describeItemFailure(percent, 'BadNodeIdUnknown')).toBe('level (ns=2;s=Level): BadNodeIdUnknown');
    expect(describeItemFailure({ nodeId: 'ns=2;s=X', name: 'x' }, 'BadMonitoredItemFilterUnsupported')).toBe('x (ns=2;s=X): BadMonitoredItemFilterUnsupported');
  });
});
