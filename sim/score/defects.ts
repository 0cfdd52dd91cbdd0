/**
 * Vision defect events against the defective parts that rode the belt.
 *
 * The stage sends a `defect` when a part's track ends, so an event belongs to a part when,
 * on the same gateway, its last sighting is within `toleranceMs` of the part leaving the
 * view. Matching is one to one (one part cannot excuse two events): on a line, with a
 * symmetric tolerance, taking events and parts in time order and pairing the earliest
 * compatible ones gives the largest matching (an exchange argument; tested against brute
 * force).
 */
import type { FleetEventItem } from './alerts.js';
import type { DefectivePart, DefectObservation } from './types.js';

export const DEFAULT_DEFECT_TOLERANCE_MS = 1500;

export interface DefectScore {
  readonly parts: number;
  readonly events: number;
  readonly matched: number;
  /** matched / parts; 1 when no defective part rode the belt. */
  readonly recall: number;
  /** matched / events; 1 when no event was sent. */
  readonly precision: number;
  readonly missedParts: readonly DefectivePart[];
  readonly falseEvents: readonly DefectObservation[];
  readonly pairs: readonly { readonly part: DefectivePart; readonly event: DefectObservation }[];
}

/** The largest one-to-one matching of times a and b with |a - b| <= tolerance, as index pairs (inputs sorted ascending). */
export function matchSortedTimes(a: readonly number[], b: readonly number[], toleranceMs: number): [number, number][] {
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (Math.abs(x - y) <= toleranceMs) {
      pairs.push([i, j]);
      i += 1;
      j += 1;
    } else if (x < y) i += 1;
    else j += 1;
  }
  return pairs;
}

export function scoreDefects(parts: readonly DefectivePart[], events: readonly DefectObservation[], toleranceMs = DEFAULT_DEFECT_TOLERANCE_MS): DefectScore {
  const gateways = new Set([...parts.map((p) => p.gatewayId), ...events.map((e) => e.gatewayId)]);
  const pairs: { part: DefectivePart; event: DefectObservation }[] = [];
  const missedParts: DefectivePart[] = [];
  const falseEvents: DefectObservation[] = [];
  for (const gw of gateways) {
    const ps = parts.filter((p) => p.gatewayId === gw).sort((x, y) => x.leftViewMs - y.leftViewMs);
    const es = events.filter((e) => e.gatewayId === gw).sort((x, y) => x.lastSeenMs - y.lastSeenMs);
    const matched = matchSortedTimes(
      ps.map((p) => p.leftViewMs),
      es.map((e) => e.lastSeenMs),
      toleranceMs,
    );
    const usedP = new Set(matched.map(([i]) => i));
    const usedE = new Set(matched.map(([, j]) => j));
    for (const [i, j] of matched) pairs.push({ part: ps[i] as DefectivePart, event: es[j] as DefectObservation });
    ps.forEach((p, i) => usedP.has(i) || missedParts.push(p));
    es.forEach((e, j) => usedE.has(j) || falseEvents.push(e));
  }
  return {
    parts: parts.length,
    events: events.length,
    matched: pairs.length,
    recall: parts.length === 0 ? 1 : pairs.length / parts.length,
    precision: events.length === 0 ? 1 : pairs.length / events.length,
    missedParts,
    falseEvents,
    pairs,
  };
}

/**
 * The vision stage's `defect` events among the fleet's events (kind `event`, `data.event` =
 * `defect`); one whose `track` or `lastTs` is not a number is counted in `unreadable`.
 */
export function defectsFromEvents(events: readonly FleetEventItem[]): { defects: DefectObservation[]; unreadable: number } {
  const defects: DefectObservation[] = [];
  let unreadable = 0;
  for (const e of events) {
    const d = e.data;
    if (typeof d !== 'object' || d === null || (d as Record<string, unknown>)['event'] !== 'defect') continue;
    const { track, lastTs } = d as Record<string, unknown>;
    if (typeof track !== 'number' || typeof lastTs !== 'number') {
      unreadable += 1;
      continue;
    }
    defects.push({ gatewayId: e.gatewayId, recordId: e.recordId, track, lastSeenMs: lastTs });
  }
  return { defects, unreadable };
}
