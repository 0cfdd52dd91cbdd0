import { ErrorNotice, Loading } from '../components/notice.js';
import { formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { useResource } from '../state/use-resource.js';

export function LearningPage() {
  const tasks = useResource((api) => api.learningTasks(), [], { learning: () => true });
  return (
    <>
      <h1>Learning</h1>
      <ErrorNotice error={tasks.error} />
      {tasks.data === undefined ? (
        tasks.error === undefined ? <Loading what="learning tasks" /> : null
      ) : (
        <table class="data" aria-label="Learning tasks">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col">Model</th>
              <th scope="col">Rounds closed</th>
              <th scope="col">Next round</th>
              <th scope="col">Updated</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {tasks.data.items.length === 0 ? (
              <tr>
                <td colSpan={7} class="muted">
                  No learning task yet.
                </td>
              </tr>
            ) : null}
            {tasks.data.items.map((t) => (
              <tr key={t.id}>
                <td>
                  <a href={hrefs.learningTask(t.id)}>{t.id}</a>
                </td>
                <td>
                  <span class={`badge task-${t.state}`}>{t.state}</span>
                </td>
                <td>
                  {t.globalModel.name} release {t.globalModel.release}
                </td>
                <td>
                  {t.roundsClosed}
                  {t.schedule.rounds === null ? '' : ` of ${t.schedule.rounds}`}
                </td>
                <td>{t.state === 'active' ? t.nextRound : '-'}</td>
                <td>{formatTime(t.updatedMs)}</td>
                <td>{t.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
