import { useState } from 'preact/hooks';
import type { RolloutDecision, RolloutState } from '../api/types.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import { formatCount, formatDuration, formatShare, formatTime } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { waveGates } from '../logic/wave-gates.js';
import { canWrite, fleetApi, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';

function waveText(w: Readonly<Record<string, unknown>>): string {
  if (w['kind'] === 'count') return formatCount(Number(w['count']), 'gateway');
  if (w['kind'] === 'share') return `up to ${formatShare(w['share'] as number)} of all`;
  if (w['kind'] === 'labels') return String(w['selector']);
  return JSON.stringify(w);
}

function selectorText(s: Readonly<Record<string, unknown>>): string {
  if (s['kind'] === 'all') return 'every gateway';
  if (s['kind'] === 'labels') return String(s['selector']);
  if (s['kind'] === 'ids') return (s['ids'] as string[]).join(', ');
  return JSON.stringify(s);
}

interface GateResult {
  readonly gate: string;
  readonly count: number;
  readonly share: number;
  readonly limit: number;
  readonly pass: boolean;
}

function isGateList(v: unknown): v is GateResult[] {
  return Array.isArray(v) && v.every((g) => typeof g === 'object' && g !== null && typeof (g as GateResult).gate === 'string' && typeof (g as GateResult).count === 'number');
}

/** A gate as the driver judged it: `failure 1 (100%, max 0%) failed`. */
function gateText(g: GateResult): string {
  return `${g.gate} ${g.count} (${formatShare(g.share)}${g.gate === 'reached' ? '' : `, max ${formatShare(g.limit)}`}) ${g.pass ? 'passed' : 'failed'}`;
}

/** A detail value in words: gates judged, counts (the non-zero ones), lists; JSON only for what has no better form. */
function detailText(key: string, v: unknown): string {
  if (isGateList(v)) return `${key}: ${v.map(gateText).join('; ')}`;
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return `${key} ${v.join(', ')}`;
  if (typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'number')) {
    const counts = Object.entries(v as Record<string, number>).filter(([, n]) => n !== 0);
    return `${key}: ${counts.length === 0 ? 'all 0' : counts.map(([k, n]) => `${k} ${n}`).join(', ')}`;
  }
  return `${key} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
}

/** A decision in words, with each gate's numbers as the driver recorded them. */
function decisionText(e: RolloutDecision): string {
  const d = e.detail;
  const wave = typeof d['wave'] === 'number' ? ` wave ${(d['wave'] as number) + 1}` : '';
  if (e.kind === 'gate-failed' && isGateList(d['gates'])) {
    const failed = d['gates'].filter((g) => !g.pass).map(gateText);
    return `gate failed on${wave}${typeof d['phase'] === 'string' ? ` (${d['phase']})` : ''}: ${failed.join('; ')}`;
  }
  const rest = Object.entries(d)
    .filter(([k]) => k !== 'wave')
    .map(([k, v]) => detailText(k, v))
    .join('. ');
  return `${wave === '' ? e.kind : wave.trim()}${rest === '' ? '' : `: ${rest}`}`;
}

const LIVE_STATES: readonly RolloutState[] = ['running', 'paused', 'rolling-back'];

export function RolloutPage({ id }: { id: string }) {
  useStore(session, (s) => s.me);
  const status = useResource((api) => api.rollout(id), [id], { rollout: (e) => e.rolloutId === id });
  const [confirming, setConfirming] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function move(action: 'pause' | 'resume' | 'abort'): Promise<void> {
    setActionError(null);
    setBusy(true);
    try {
      await fleetApi().moveRollout(id, action);
      status.reload();
    } catch (err) {
      setActionError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  const s = status.data;
  if (s === undefined)
    return (
      <>
        <h1>Rollout {id}</h1>
        <ErrorNotice error={status.error} />
        {status.error === undefined ? <Loading what="the rollout" /> : null}
      </>
    );
  const r = s.rollout;
  const write = canWrite();
  return (
    <>
      <h1>{r.name}</h1>
      <p>
        <a href={hrefs.rollouts}>All rollouts</a>
      </p>
      <ErrorNotice error={status.error} />
      <dl class="facts">
        <dt>State</dt>
        <dd>
          <span class={`badge state-${r.state}`} data-testid="rollout-state">
            {r.state}
          </span>
          {r.reason === null ? null : <span class="muted"> ({r.reason})</span>}
        </dd>
        <dt>Release</dt>
        <dd>
          {r.model} release {r.release} ({r.version})
        </dd>
        <dt>Gateways</dt>
        <dd>{selectorText(r.selector)}</dd>
        <dt>Current wave</dt>
        <dd>
          {Math.min(r.currentWave + 1, r.waves.length)} of {r.waves.length}
          {r.quality === null ? '' : `, ${r.phase}`}
        </dd>
        <dt>Gates</dt>
        <dd>
          failure ≤ {formatShare(r.gates.maxFailureShare)}, rollback ≤ {formatShare(r.gates.maxRollbackShare)}, timeout ≤ {formatShare(r.gates.maxTimeoutShare)}; on a failed gate: {r.onGateFailure}
        </dd>
        <dt>Pace</dt>
        <dd>
          {r.ratePerMinute} gateways a minute, timeout {formatDuration(r.gatewayTimeoutMs)}
          {r.windows.length === 0 ? '' : `; windows: ${r.windows.map((w) => `${w.selector} ${w.from}-${w.to} ${w.timeZone}`).join('; ')}`}
        </dd>
        <dt>Started</dt>
        <dd>{formatTime(r.createdMs)}</dd>
      </dl>
      {write && LIVE_STATES.includes(r.state) ? (
        <div class="actions">
          {r.state === 'running' ? (
            <button type="button" disabled={busy} onClick={() => void move('pause')}>
              Pause
            </button>
          ) : null}
          {r.state === 'paused' ? (
            <button type="button" disabled={busy} onClick={() => void move('resume')}>
              Resume
            </button>
          ) : null}
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
            Abort
          </button>
        </div>
      ) : null}
      <ErrorNotice error={actionError} />
      {confirming ? (
        <ConfirmDialog
          title="Abort this rollout?"
          confirmLabel="Abort rollout"
          danger
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            void move('abort');
          }}
        >
          <p>
            It stops for good: no more gateways are told of {r.model} release {r.release}. Gateways that installed it keep it.
          </p>
        </ConfirmDialog>
      ) : null}
      <section aria-labelledby="waves-heading">
        <h2 id="waves-heading">Waves</h2>
        <div class="scroll-x">
          <table class="data" aria-label="Waves">
            <thead>
              <tr>
                <th scope="col">Wave</th>
                <th scope="col">Plan</th>
                <th scope="col">Gateways</th>
                <th scope="col">Told</th>
                <th scope="col">Notified</th>
                <th scope="col">Active</th>
                <th scope="col">Pending</th>
                <th scope="col">Offline</th>
                <th scope="col">Failure gate</th>
                <th scope="col">Rollback gate</th>
                <th scope="col">Timeout gate</th>
                {r.quality === null ? null : <th scope="col">Shadow</th>}
                {r.onGateFailure === 'rollback' ? <th scope="col">Reverted</th> : null}
              </tr>
            </thead>
            <tbody>
              {s.waves.map((t, i) => {
                const g = waveGates(t, r.gates);
                const current = i === r.currentWave && LIVE_STATES.includes(r.state);
                return (
                  <tr key={i} class={current ? 'current' : undefined} aria-current={current ? 'step' : undefined}>
                    <th scope="row">{i + 1}</th>
                    <td>{r.waves[i] === undefined ? '' : waveText(r.waves[i] as Record<string, unknown>)}</td>
                    <td>{t.total}</td>
                    <td>{g.told}</td>
                    <td>{t.notified}</td>
                    <td>{t.active}</td>
                    <td>{t.pending}</td>
                    <td>{t.offline}</td>
                    {g.results.map((x) => (
                      <td key={x.gate} class={x.pass ? undefined : 'gate-failed'} data-testid={`gate-${x.gate}`}>
                        {x.count} ({formatShare(x.share)}, max {formatShare(x.limit)}){x.pass ? '' : ' failed'}
                      </td>
                    ))}
                    {r.quality === null ? null : (
                      <td>
                        {t.shadowing} shadowing, {t.shadowed} done
                      </td>
                    )}
                    {r.onGateFailure === 'rollback' ? (
                      <td>
                        {t.reverted} ({t.reverting} reverting)
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="decisions-heading">
        <h2 id="decisions-heading">Decisions</h2>
        <ol class="decisions" aria-labelledby="decisions-heading">
          {s.events.map((e) => (
            <li key={e.seq}>
              <span class="muted">{formatTime(e.ts)}</span> <span class={`badge decision-${e.kind}`}>{e.kind}</span> {decisionText(e)}
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}
