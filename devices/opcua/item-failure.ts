import type { OpcuaItemConfig } from './schema.js';

/**
 * A monitored item the server refused, as `name (node id): status`, with what to do when the
 * status alone does not say it. A percent deadband is the usual case: it is a percentage of the
 * node's EURange (Part 8 §6.2), which `--check` cannot see; node-opcua's server answers
 * BadMonitoredItemFilterUnsupported for a node without one, the spec's answer is
 * BadDeadbandFilterInvalid.
 */
export function describeItemFailure(item: OpcuaItemConfig, status: string): string {
  const hint = hintFor(item, status);
  return `${item.name} (${item.nodeId}): ${status}${hint === undefined ? '' : ` (${hint})`}`;
}

function hintFor(item: OpcuaItemConfig, status: string): string | undefined {
  const deadband = item.deadband?.type;
  if (deadband === 'percent' && (status === 'BadMonitoredItemFilterUnsupported' || status === 'BadDeadbandFilterInvalid')) {
    return 'a percent deadband needs an EURange property on the node, and the server has none for it (edgewise opcua browse shows a node\'s [low, high]): use an absolute deadband, or none';
  }
  if (deadband !== undefined && (status === 'BadFilterNotAllowed' || status === 'BadMonitoredItemFilterUnsupported' || status === 'BadDeadbandFilterInvalid')) {
    return `the server refused the ${deadband} deadband: a deadband applies only to a numeric variable; remove it from this item`;
  }
  return undefined;
}
