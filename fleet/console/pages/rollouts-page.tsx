import { ErrorNotice, Loading } from '../components/notice.js';
import { formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { canWrite, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';

export function RolloutsPage() {
  useStore(session, (s) => s.me);
  const rollouts = useResource((api) => api.rollouts(), [], { rollout: () => true });
  return (
    <>
      <div class="title-row">
        <h1>Rollouts</h1>
        {canWrite() ? (
          <a class="button primary" href={hrefs.rolloutNew}>
            New rollout
          </a>
        ) : null}
      </div>
      <ErrorNotice error={rollouts.error} />
      {rollouts.data === undefined ? (
        rollouts.error === undefined ? <Loading what="rollouts" /> : null
      ) : (
        <table class="data" aria-label="Rollouts">
          <thead>
            <tr>
              <th scope="col">Rollout</th>
              <th scope="col">Model</th>
              <th scope="col">Release</th>
              <th scope="col">State</th>
              <th scope="col">Wave</th>
              <th scope="col">Started</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {rollouts.data.items.length === 0 ? (
              <tr>
                <td colSpan={7} class="muted">
                  No rollout yet.
                </td>
              </tr>
            ) : null}
            {rollouts.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={hrefs.rollout(r.id)}>{r.name}</a>
                </td>
                <td>{r.model}</td>
                <td>
                  {r.release} ({r.version})
                </td>
                <td>
                  <span class={`badge state-${r.state}`}>{r.state}</span>
                </td>
                <td>
                  {Math.min(r.currentWave + 1, r.waves.length)} of {r.waves.length}
                </td>
                <td>{formatTime(r.createdMs)}</td>
                <td>{r.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
