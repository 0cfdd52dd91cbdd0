import type { FleetEvent } from '../api/types.js';
import { formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { rememberEvents } from '../state/event-cache.js';

/** What an event is, in a few words: the anomaly alert's state and channels, the vision event's name. */
export function eventSummary(e: FleetEvent): string {
  const d = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as Record<string, unknown>;
  if (e.kind === 'alert') {
    const channels = Array.isArray(d['channels']) ? ` on ${(d['channels'] as unknown[]).join(', ')}` : '';
    const score = typeof d['peakScore'] === 'number' ? `, peak ${(d['peakScore'] as number).toFixed(2)}` : '';
    return `alert ${typeof d['state'] === 'string' ? d['state'] : ''}${channels}${score}`.trim();
  }
  if (typeof d['event'] === 'string') {
    const cls = typeof d['className'] === 'string' ? ` ${d['className']}` : '';
    const zone = typeof d['zone'] === 'string' ? ` in ${d['zone']}` : '';
    return `${d['event']}${cls}${zone}`;
  }
  return e.class;
}

export function EventTable({ events, label, showGateway = true }: { events: readonly FleetEvent[]; label: string; showGateway?: boolean }) {
  rememberEvents(events);
  return (
    <table class="data" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Time</th>
          {showGateway ? <th scope="col">Gateway</th> : null}
          <th scope="col">Kind</th>
          <th scope="col">Stream</th>
          <th scope="col">What</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={`${e.gatewayId}/${e.recordId}`}>
            <td>
              <a href={hrefs.event(e.gatewayId, e.recordId)}>{formatTime(e.ts)}</a>
            </td>
            {showGateway ? <td>{e.gatewayId}</td> : null}
            <td>
              <span class={`badge kind-${e.kind}`}>{e.kind}</span>
            </td>
            <td>{e.stream}</td>
            <td>{eventSummary(e)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
