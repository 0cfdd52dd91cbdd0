import { useMemo } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import type { FleetApi } from '../api/endpoints.js';
import type { FleetEvent } from '../api/types.js';
import { eventSummary } from '../components/event-list.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { SERIES_COLOURS, TimeChart } from '../components/time-chart.js';
import { alertShares, channelLabel, windowContributions } from '../logic/explanation.js';
import { formatShare, formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { cachedEvent, rememberEvents } from '../state/event-cache.js';
import { useResource } from '../state/use-resource.js';

/** One event: from what the page has read, else `GET /v1/events/{gateway}/{recordId}`; null when the fleet has none. */
async function findEvent(api: FleetApi, gatewayId: string, recordId: string): Promise<FleetEvent | null> {
  const cached = cachedEvent(gatewayId, recordId);
  if (cached !== undefined) return cached;
  try {
    const e = await api.event(gatewayId, recordId);
    rememberEvents([e]);
    return e;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export function EventPage({ gatewayId, recordId }: { gatewayId: string; recordId: string }) {
  const found = useResource((api) => findEvent(api, gatewayId, recordId), [gatewayId, recordId]);
  const e = found.data;
  return (
    <>
      <h1>{e === undefined || e === null ? `Event ${recordId}` : `${e.kind === 'alert' ? 'Alert' : 'Event'}: ${eventSummary(e)}`}</h1>
      <p>
        <a href={hrefs.events}>All alerts and events</a>
      </p>
      <ErrorNotice error={found.error} />
      {found.loading && e === undefined ? <Loading what="the event" /> : null}
      {e === null ? (
        <p class="notice">
          The fleet has no event {recordId} of gateway {gatewayId}: it was never sent, or the retention policy swept it.
        </p>
      ) : null}
      {e === undefined || e === null ? null : <EventDetail e={e} />}
    </>
  );
}

function EventDetail({ e }: { e: FleetEvent }) {
  const d = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as Record<string, unknown>;
  const isAnomaly = e.kind === 'alert' && typeof d['explanation'] === 'object' && d['explanation'] !== null;
  const isDefect = d['event'] === 'defect';
  return (
    <>
      <dl class="facts">
        <dt>Gateway</dt>
        <dd>
          <a href={hrefs.gateway(e.gatewayId)}>{e.gatewayId}</a>
        </dd>
        <dt>Kind</dt>
        <dd>{e.kind}</dd>
        <dt>Stream</dt>
        <dd>{e.stream}</dd>
        <dt>Model</dt>
        <dd>{e.model ?? '-'}</dd>
        <dt>Time</dt>
        <dd>
          {formatTime(e.ts)} (received {formatTime(e.receivedMs)})
        </dd>
        <dt>Record</dt>
        <dd>{e.recordId}</dd>
      </dl>
      {isAnomaly ? <AnomalyExplanation e={e} d={d} /> : null}
      {isDefect ? <DefectCrop d={d} /> : null}
      <details>
        <summary>The record's data as sent</summary>
        <pre class="json">{JSON.stringify(e.data, (k, v: unknown) => (k === '$base64' && typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}… (${v.length} characters)` : v), 2)}</pre>
      </details>
    </>
  );
}

function AnomalyExplanation({ e, d }: { e: FleetEvent; d: Record<string, unknown> }) {
  const shares = useMemo(() => alertShares(d['explanation']), [d]);
  const start = typeof d['start'] === 'number' ? d['start'] : e.ts;
  const end = typeof d['end'] === 'number' ? d['end'] : null;
  const base = e.stream.endsWith('.alerts') ? e.stream.slice(0, -'.alerts'.length) : e.stream;
  const windows = useResource(
    async (api) => {
      const out: FleetEvent[] = [];
      let before: string | undefined;
      // The span's windows, at most 5,000 of them (ten pages): enough to draw; the chart is not a store.
      for (let i = 0; i < 10; i += 1) {
        const page = await api.events({ gateway: e.gatewayId, kind: 'summary', stream: `${base}.anomaly`, from: Math.floor(start), to: Math.floor(end ?? Date.now()) + 1, before, limit: 500 });
        out.push(...page.items);
        if (page.next === null) break;
        before = page.next;
      }
      return out;
    },
    [e.gatewayId, e.recordId],
  );
  const series = useMemo(() => (windows.data === undefined ? undefined : windowContributions(windows.data, shares.map((s) => s.channel))), [windows.data, shares]);
  return (
    <figure class="chart explanation">
      <figcaption>
        Explanation: each channel's share of the anomaly score, {formatTime(start)} to {end === null ? 'now (still open)' : formatTime(end)}
        {typeof d['peakTs'] === 'number' ? `, peak at ${formatTime(d['peakTs'])}` : ''}
      </figcaption>
      {series !== undefined && series.times.length > 0 ? (
        <>
          <h3 class="small">Over the span: the score of each of the detector's windows, stacked by channel</h3>
          <TimeChart times={series.times} series={shares.map((s, i) => ({ label: channelLabel(s), values: series.contributions[i] ?? [] }))} stacked yLabel="score" height={220} />
        </>
      ) : null}
      <ErrorNotice error={windows.error} what="Windows over the span" />
      <h3 class="small">At the alert's peak</h3>
      <ul class="share-bars">
        {shares.map((s, i) => (
          <li key={s.channel}>
            <span class="share-label">
              <span class="swatch" aria-hidden="true" style={{ background: SERIES_COLOURS[i % SERIES_COLOURS.length] }} />
              <span data-testid="explanation-channel">{channelLabel(s)}</span>
            </span>
            <span class="share-bar" aria-hidden="true">
              <span style={{ width: `${(s.share * 100).toFixed(1)}%`, background: SERIES_COLOURS[i % SERIES_COLOURS.length] }} />
            </span>
            <span class="share-value">{formatShare(s.share)}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

function DefectCrop({ d }: { d: Record<string, unknown> }) {
  const crop = (typeof d['crop'] === 'object' && d['crop'] !== null ? d['crop'] : null) as { png?: { $base64?: unknown }; width?: number; height?: number } | null;
  const b64 = crop?.png?.$base64;
  const best = d['best'] as { score?: number } | undefined;
  return (
    <section aria-labelledby="defect-heading">
      <h2 id="defect-heading">Defect</h2>
      {typeof b64 === 'string' && /^[A-Za-z0-9+/]+=*$/.test(b64) ? (
        <img class="crop" alt="Crop of the defect" src={`data:image/png;base64,${b64}`} width={(crop?.width ?? 96) * 3} height={(crop?.height ?? 96) * 3} />
      ) : (
        <p class="muted">This event carries no crop.</p>
      )}
      <dl class="facts">
        <dt>Class</dt>
        <dd>{String(d['className'] ?? '-')}</dd>
        <dt>Zone</dt>
        <dd>{String(d['zone'] ?? '-')}</dd>
        <dt>Seen</dt>
        <dd>
          {String(d['sightings'] ?? '?')} times, {String(d['defectSightings'] ?? '?')} as defective
        </dd>
        <dt>Best score</dt>
        <dd>{typeof best?.score === 'number' ? best.score.toFixed(2) : '-'}</dd>
      </dl>
    </section>
  );
}
