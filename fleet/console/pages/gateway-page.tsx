import { useEffect, useMemo, useRef } from 'preact/hooks';
import type { GatewayDetail, MetricSample, ReleaseRef } from '../api/types.js';
import { EventTable } from '../components/event-list.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { StatusBadge } from '../components/status-badge.js';
import { TimeChart } from '../components/time-chart.js';
import type { TimeSeries } from '../components/time-chart.js';
import { formatAgo, formatBytes, formatTime } from '../logic/format.js';
import { counterRates } from '../logic/rates.js';
import { gatewayIndex, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';

const METRICS_SPAN_MS = 24 * 3600 * 1000;
const RECENT = 20;

function releaseText(r: ReleaseRef | null | undefined): string {
  if (r === null || r === undefined || r.release === undefined) return '-';
  return r.version === undefined ? String(r.release) : `${r.release} (${r.version})`;
}

export function GatewayPage({ id }: { id: string }) {
  useStore(session, (s) => s.gatewaysVersion);
  const summary = gatewayIndex.get(id);
  const detail = useResource((api, signal) => api.client.get<GatewayDetail>(`/v1/gateways/${encodeURIComponent(id)}`, undefined, signal), [id]);
  const metrics = useResource((api) => api.gatewayMetrics(id, Date.now() - METRICS_SPAN_MS, Date.now()), [id]);
  const recent = useResource(
    async (api) => {
      const [alerts, events] = await Promise.all([api.events({ gateway: id, kind: 'alert', limit: RECENT }), api.events({ gateway: id, kind: 'event', limit: RECENT })]);
      return [...alerts.items, ...events.items].sort((a, b) => b.ts - a.ts).slice(0, RECENT);
    },
    [id],
    { event: (e) => e.gatewayId === id },
  );

  // The live stream changed this gateway's summary: its detail and samples changed with it.
  const seen = useRef(summary);
  useEffect(() => {
    if (summary !== undefined && seen.current !== undefined && summary !== seen.current) {
      detail.reload();
      metrics.reload();
    }
    seen.current = summary;
  }, [summary]);

  const g = detail.data;
  return (
    <>
      <h1>{id}</h1>
      <ErrorNotice error={detail.error} />
      {g === undefined ? (
        detail.error === undefined ? <Loading what="the gateway" /> : null
      ) : (
        <>
          <section aria-labelledby="health-heading">
            <h2 id="health-heading">Health</h2>
            <dl class="facts">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={g.status} testId="gateway-status" />
              </dd>
              <dt>Site</dt>
              <dd>{g.site === '' ? '-' : g.site}</dd>
              <dt>Labels</dt>
              <dd>{Object.entries(g.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}</dd>
              <dt>Last seen</dt>
              <dd>
                {formatTime(g.lastSeenMs)} ({formatAgo(g.lastSeenMs, Date.now())})
              </dd>
              <dt>Runtime</dt>
              <dd>{g.runtimeVersion ?? '-'}</dd>
              <dt>Hardware</dt>
              <dd>{g.hardware === null ? '-' : `${g.hardware.platform ?? ''} ${g.hardware.arch ?? ''}, ${g.hardware.cpus ?? '?'} CPUs, ${formatBytes(g.hardware.memoryBytes)}${(g.hardware.accelerators ?? []).length > 0 ? `, ${(g.hardware.accelerators ?? []).join(', ')}` : ''}`}</dd>
              <dt>Health</dt>
              <dd>{g.health === null ? 'no report yet' : `${g.health.status}, reported ${formatTime(g.health.ts)}`}</dd>
              <dt>Telemetry</dt>
              <dd>
                {g.telemetry.records} records, last {formatTime(g.telemetry.lastMs)}
              </dd>
            </dl>
            {g.health !== null && g.health.reasons.length > 0 ? (
              <>
                <h3>Degraded because</h3>
                <ul class="reasons">
                  {g.health.reasons.map((r) => (
                    <li key={r} data-testid="health-reason">
                      {r}
                    </li>
                  ))}
                </ul>
              </>
            ) : null}
            {g.healthReport === null ? null : (
              <details>
                <summary>The health report as sent</summary>
                <pre class="json">{JSON.stringify(g.healthReport, null, 2)}</pre>
              </details>
            )}
          </section>
          <section aria-labelledby="releases-heading">
            <h2 id="releases-heading">Models</h2>
            <table class="data" aria-label="Releases">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Active</th>
                  <th scope="col">Standby</th>
                </tr>
              </thead>
              <tbody>
                {Object.keys(g.releases).length === 0 ? (
                  <tr>
                    <td colSpan={3} class="muted">
                      No model release reported.
                    </td>
                  </tr>
                ) : null}
                {Object.keys(g.releases)
                  .sort()
                  .map((m) => (
                    <tr key={m}>
                      <th scope="row">{m}</th>
                      <td>{releaseText(g.releases[m]?.active)}</td>
                      <td>{releaseText(g.releases[m]?.standby)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </section>
          <MetricsSection samples={metrics.data?.items} error={metrics.error} />
          <section aria-labelledby="updates-heading">
            <h2 id="updates-heading">Updates</h2>
            <table class="data" aria-label="Update history">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Model</th>
                  <th scope="col">Release</th>
                  <th scope="col">Step</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {g.updateSteps.length === 0 ? (
                  <tr>
                    <td colSpan={6} class="muted">
                      No update reported.
                    </td>
                  </tr>
                ) : null}
                {g.updateSteps.map((s, i) => (
                  <tr key={`${s.ts}-${i}`}>
                    <td>{formatTime(s.ts)}</td>
                    <td>{s.model ?? '-'}</td>
                    <td>{s.release ?? '-'}</td>
                    <td>{s.step}</td>
                    <td>
                      <span class={`badge outcome-${s.outcome}`}>{s.outcome}</span>
                    </td>
                    <td>{s.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
      <section aria-labelledby="recent-heading">
        <h2 id="recent-heading">Recent alerts and events</h2>
        <ErrorNotice error={recent.error} />
        {recent.data === undefined ? <Loading what="events" /> : recent.data.length === 0 ? <p class="muted">None.</p> : <EventTable events={recent.data} label="Recent alerts and events" showGateway={false} />}
      </section>
    </>
  );
}

function MetricsSection({ samples, error }: { samples: readonly MetricSample[] | undefined; error: Error | undefined }) {
  const charts = useMemo(() => {
    if (samples === undefined) return undefined;
    const times = samples.map((s) => s.ts);
    const rate = (pick: (s: MetricSample) => number | null): (number | null)[] => counterRates(samples.map((s) => ({ ts: s.ts, value: pick(s) }))).map((p) => p.perSecond);
    const rates: TimeSeries[] = [
      { label: 'published (records/s)', values: rate((s) => s.publishedRecords) },
      { label: 'acknowledged (records/s)', values: rate((s) => s.ackedRecords) },
      { label: 'dropped (records/s)', values: rate((s) => s.droppedRecords) },
    ];
    const mib = (v: number | null): number | null => (v === null ? null : v / 1048576);
    const sizes: TimeSeries[] = [
      { label: 'memory RSS (MiB)', values: samples.map((s) => mib(s.rssBytes)) },
      { label: 'store (MiB)', values: samples.map((s) => mib(s.storeBytes)) },
    ];
    return { times, rates, sizes };
  }, [samples]);
  return (
    <section aria-labelledby="metrics-heading">
      <h2 id="metrics-heading">Over the last 24 hours</h2>
      <ErrorNotice error={error} what="Metrics" />
      {charts === undefined ? (
        error === undefined ? (
          <Loading what="metrics" />
        ) : null
      ) : (
        <div class="charts">
          <TimeChart caption="Metrics" times={charts.times} series={charts.rates} yLabel="records/s" />
          <TimeChart caption="Memory and store" times={charts.times} series={charts.sizes} yLabel="MiB" />
        </div>
      )}
    </section>
  );
}
