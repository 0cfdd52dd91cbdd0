/**
 * Events the page has already read (lists, the live stream), by gateway and record id, so
 * opening one from a list needs no request; a page opened straight from a link asks
 * `GET /v1/events/{gateway}/{recordId}` (event-page.tsx).
 * Bounded: the oldest entries go first past MAX_EVENTS.
 */
import type { FleetEvent } from '../api/types.js';

const MAX_EVENTS = 2000;
const cache = new Map<string, FleetEvent>();

export function eventKey(gatewayId: string, recordId: string): string {
  return `${gatewayId}\u0000${recordId}`;
}

export function rememberEvents(events: readonly FleetEvent[]): void {
  for (const e of events) {
    const k = eventKey(e.gatewayId, e.recordId);
    cache.delete(k);
    cache.set(k, e);
  }
  while (cache.size > MAX_EVENTS) cache.delete(cache.keys().next().value as string);
}

export function cachedEvent(gatewayId: string, recordId: string): FleetEvent | undefined {
  return cache.get(eventKey(gatewayId, recordId));
}
