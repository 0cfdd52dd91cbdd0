/**
 * Which alerts are open: an anomaly alert is raised (or reopened) and later cleared, each a
 * record of its own carrying the alert's id and `state`; the newest record of each alert
 * (gateway, stream, alert id) says whether it is still open. An alert record without an id
 * or state has nothing that could clear it and counts as open on its own. Pure: no DOM.
 */
import type { FleetEvent } from '../api/types.js';

export function openAlerts(alerts: readonly FleetEvent[]): FleetEvent[] {
  const newest = new Map<string, FleetEvent>();
  for (const a of alerts) {
    if (a.kind !== 'alert') continue;
    const d = (typeof a.data === 'object' && a.data !== null ? a.data : {}) as { alert?: unknown; state?: unknown };
    const key = d.alert === undefined || d.state === undefined ? `record:${a.gatewayId}/${a.recordId}` : `alert:${a.gatewayId}/${a.stream}/${String(d.alert)}`;
    const seen = newest.get(key);
    if (seen === undefined || a.ts > seen.ts || (a.ts === seen.ts && a.receivedMs > seen.receivedMs)) newest.set(key, a);
  }
  return [...newest.values()].filter((a) => (a.data as { state?: unknown } | null)?.state !== 'cleared').sort((a, b) => b.ts - a.ts);
}
