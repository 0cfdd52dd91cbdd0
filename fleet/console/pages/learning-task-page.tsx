import { useMemo, useState } from 'preact/hooks';
import type { LearningRound } from '../api/types.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { TimeChart } from '../components/time-chart.js';
import { formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { canWrite, fleetApi, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';

function rejectionsText(r: LearningRound): string {
  const rej = (r.record?.['rejections'] ?? null) as Record<string, number> | null;
  if (rej === null) return '-';
  const parts = Object.entries(rej)
    .filter(([, n]) => typeof n === 'number' && n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

export function LearningTaskPage({ id }: { id: string }) {
  useStore(session, (s) => s.me);
  const isThis = { learning: (e: { taskId: string }) => e.taskId === id };
  const task = useResource((api) => api.learningTask(id), [id], isThis);
  const rounds = useResource((api) => api.learningRounds(id), [id], isThis);
  const [confirming, setConfirming] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);

  const loss = useMemo(() => {
    const closed = [...(rounds.data?.items ?? [])].filter((r) => r.meanValidationLoss !== null).sort((a, b) => a.round - b.round);
    return { times: closed.map((r) => r.closedMs ?? r.openedMs), values: closed.map((r) => r.meanValidationLoss) };
  }, [rounds.data]);

  const t = task.data;
  // Epsilon is cumulative: the newest round that reports it says what the task has spent.
  const spent = (rounds.data?.items ?? []).filter((r) => r.epsilonSpent !== null).sort((a, b) => b.round - a.round)[0];
  return (
    <>
      <h1>Learning task {id}</h1>
      <p>
        <a href={hrefs.learning}>All learning tasks</a>
      </p>
      <ErrorNotice error={task.error} />
      {t === undefined ? (
        task.error === undefined ? <Loading what="the task" /> : null
      ) : (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <span class={`badge task-${t.state}`} data-testid="task-state">
                {t.state}
              </span>
              {t.reason === null ? null : <span class="muted"> ({t.reason})</span>}
            </dd>
            <dt>Model</dt>
            <dd>
              {t.globalModel.name} release {t.globalModel.release} ({t.globalModel.version})
            </dd>
            <dt>Strategy</dt>
            <dd>{String((t.definition['strategy'] as { type?: string } | undefined)?.type ?? t.definition['strategy'] ?? '-')}</dd>
            <dt>Rounds</dt>
            <dd>
              {t.roundsClosed} closed{t.schedule.rounds === null ? ', until stopped' : ` of ${t.schedule.rounds}`}; next {t.nextRound}
            </dd>
            <dt>Privacy spent</dt>
            <dd>{spent !== undefined ? `ε ${spent.epsilonSpent?.toFixed(3)} after round ${spent.round}` : t.privacyHistory.length === 0 ? 'no differential privacy' : `${t.privacyHistory.length} rounds accounted`}</dd>
          </dl>
          {canWrite() && t.state === 'active' ? (
            <div class="actions">
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Stop task
              </button>
            </div>
          ) : null}
          <ErrorNotice error={actionError} />
          {confirming ? (
            <ConfirmDialog
              title="Stop this learning task?"
              confirmLabel="Stop task"
              danger
              onCancel={() => setConfirming(false)}
              onConfirm={() => {
                setConfirming(false);
                fleetApi()
                  .stopLearningTask(id)
                  .then(
                    () => task.reload(),
                    (err: unknown) => setActionError(err as Error),
                  );
              }}
            >
              <p>Its open round is abandoned and no further rounds run.</p>
            </ConfirmDialog>
          ) : null}
        </>
      )}
      <TimeChart caption="Validation loss" times={loss.times} series={[{ label: 'mean local validation loss', values: loss.values }]} />
      <section aria-labelledby="rounds-heading">
        <h2 id="rounds-heading">Rounds</h2>
        <ErrorNotice error={rounds.error} />
        {rounds.data === undefined ? (
          rounds.error === undefined ? <Loading what="rounds" /> : null
        ) : (
          <div class="scroll-x">
            <table class="data" aria-label="Rounds">
              <thead>
                <tr>
                  <th scope="col">Round</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Participants</th>
                  <th scope="col">Rejections by reason</th>
                  <th scope="col">Validation loss</th>
                  <th scope="col">Epsilon</th>
                  <th scope="col">Release made</th>
                </tr>
              </thead>
              <tbody>
                {rounds.data.items.map((r) => (
                  <tr key={r.round}>
                    <th scope="row">{r.round}</th>
                    <td>
                      <span class={`badge outcome-${r.outcome}`}>{r.outcome}</span>
                    </td>
                    <td>{formatTime(r.openedMs)}</td>
                    <td>
                      {r.participants} of {r.sampled}
                    </td>
                    <td>{rejectionsText(r)}</td>
                    <td>{r.meanValidationLoss === null ? '-' : r.meanValidationLoss.toPrecision(4)}</td>
                    <td>{r.epsilonSpent === null ? '-' : r.epsilonSpent.toFixed(3)}</td>
                    <td>{r.released === null ? (r.releaseError ?? '-') : `release ${r.released.release}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
