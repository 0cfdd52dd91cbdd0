import type { FleetEvent } from '../api/types.js';
import { GATEWAY_STATUSES } from '../api/types.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { formatTime } from '../logic/format.js';
import { openAlerts } from '../logic/open-alerts.js';
import { hrefs } from '../logic/route.js';
import { gatewayIndex, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';

const ALERTS_READ = 1000;

export function OverviewPage() {
  useStore(session, (s) => s.gatewaysVersion);
  const loaded = useStore(session, (s) => s.gatewaysLoaded);
  const gatewaysError = useStore(session, (s) => s.gatewaysError);
  const counts = gatewayIndex.counts();
  const sites = gatewayIndex.sites();
  const alerts = useResource((api, signal) => api.client.get<{ items: FleetEvent[] }>('/v1/events', { kind: 'alert', limit: ALERTS_READ }, signal), [], { event: (e) => e.kind === 'alert' });
  const rollouts = useResource((api) => api.rollouts(), [], { rollout: () => true });
  const tasks = useResource((api) => api.learningTasks(), [], { learning: () => true });
  const open = alerts.data === undefined ? undefined : openAlerts(alerts.data.items);
  const active = rollouts.data?.items.filter((r) => r.state === 'running' || r.state === 'paused' || r.state === 'rolling-back');
  const activeTasks = tasks.data?.items.filter((t) => t.state === 'active');

  return (
    <>
      <h1>Overview</h1>
      <ErrorNotice error={gatewaysError === null ? null : new Error(gatewaysError)} />
      <section aria-labelledby="gw-heading">
        <h2 id="gw-heading">Gateways{loaded ? '' : ' (loading…)'}</h2>
        <ul class="tiles">
          <li class="tile">
            <span class="tile-label">total</span>
            <a class="tile-value" href={hrefs.gateways} data-testid="count-total">
              {counts.total}
            </a>
          </li>
          {GATEWAY_STATUSES.map((s) => (
            <li class={`tile tile-${s}`} key={s}>
              <span class="tile-label">{s}</span>
              <span class="tile-value" data-testid={`count-${s}`}>
                {counts[s]}
              </span>
            </li>
          ))}
          <li class="tile tile-alerts">
            <span class="tile-label">open alerts</span>
            <a class="tile-value" href={hrefs.events} data-testid="count-open-alerts">
              {open === undefined ? '…' : open.length}
            </a>
          </li>
        </ul>
        <ErrorNotice error={alerts.error} what="Alerts" />
      </section>
      <section aria-labelledby="sites-heading">
        <h2 id="sites-heading">Sites</h2>
        <table class="data">
          <caption>Gateways per site</caption>
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Online</th>
              <th scope="col">Offline</th>
              <th scope="col">Degraded</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {sites.map((s) => (
              <tr key={s.site}>
                <th scope="row">{s.site === '' ? '(no site)' : s.site}</th>
                <td>{s.counts.online}</td>
                <td>{s.counts.offline}</td>
                <td>{s.counts.degraded}</td>
                <td>{s.counts.total}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <div class="columns">
        <section aria-labelledby="rollouts-heading">
          <h2 id="rollouts-heading">Active rollouts</h2>
          <ErrorNotice error={rollouts.error} />
          {active === undefined ? (
            <Loading what="rollouts" />
          ) : (
            <ul class="plain" aria-labelledby="rollouts-heading">
              {active.length === 0 ? <li class="muted">No rollout is running.</li> : null}
              {active.map((r) => (
                <li key={r.id}>
                  <a href={hrefs.rollout(r.id)}>{r.name}</a> <span class={`badge state-${r.state}`}>{r.state}</span> wave {r.currentWave + 1} of {r.waves.length}
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="tasks-heading">
          <h2 id="tasks-heading">Learning tasks</h2>
          <ErrorNotice error={tasks.error} />
          {activeTasks === undefined ? (
            <Loading what="learning tasks" />
          ) : (
            <ul class="plain" aria-labelledby="tasks-heading">
              {activeTasks.length === 0 ? <li class="muted">No learning task is active.</li> : null}
              {activeTasks.map((t) => (
                <li key={t.id}>
                  <a href={hrefs.learningTask(t.id)}>{t.id}</a> round {t.nextRound}, {t.roundsClosed} closed, model {t.globalModel.name} release {t.globalModel.release}
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      {open !== undefined && open.length > 0 ? (
        <section aria-labelledby="open-heading">
          <h2 id="open-heading">Open alerts</h2>
          <ul class="plain">
            {open.slice(0, 10).map((a) => (
              <li key={`${a.gatewayId}/${a.recordId}`}>
                <a href={hrefs.event(a.gatewayId, a.recordId)}>
                  {a.gatewayId} {a.stream}
                </a>{' '}
                <span class="muted">{formatTime(a.ts)}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
