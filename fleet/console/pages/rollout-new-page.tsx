import { useState } from 'preact/hooks';
import type { RolloutPreview } from '../api/types.js';
import { ErrorNotice, Loading } from '../components/notice.js';
import type { RolloutForm } from '../logic/rollout-form.js';
import { buildRolloutRequest, DEFAULT_FORM } from '../logic/rollout-form.js';
import { formatCount } from '../logic/format.js';
import { hrefs } from '../logic/route.js';
import { canWrite, fleetApi, session } from '../state/session.js';
import { useStore } from '../state/store.js';
import { useResource } from '../state/use-resource.js';
import { navigate } from '../state/use-route.js';

function Field(props: { id: string; label: string; hint?: string; children: preact.ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint === undefined ? null : (
        <span class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
    </div>
  );
}

export function RolloutNewPage() {
  useStore(session, (s) => s.me);
  const releases = useResource((api) => api.releases(), []);
  const [form, setForm] = useState<RolloutForm>(DEFAULT_FORM);
  const [error, setError] = useState<Error | null>(null);
  const [preview, setPreview] = useState<RolloutPreview | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<RolloutForm>): void => {
    setForm((f) => ({ ...f, ...patch }));
    setPreview(null);
  };
  const text = (key: keyof RolloutForm) => (e: Event) => set({ [key]: (e.currentTarget as HTMLInputElement).value } as Partial<RolloutForm>);
  const target = form.target !== '' ? form.target : (releases.data?.items[0]?.target ?? '');

  async function act(kind: 'preview' | 'start'): Promise<void> {
    setError(null);
    let body;
    try {
      body = buildRolloutRequest({ ...form, target });
    } catch (err) {
      setError(err as Error);
      return;
    }
    setBusy(true);
    try {
      if (kind === 'preview') setPreview(await fleetApi().previewRollout(body));
      else {
        const status = await fleetApi().createRollout(body);
        navigate(hrefs.rollout(status.rollout.id));
      }
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  const setWindow = (i: number, patch: Partial<RolloutForm['windows'][number]>): void => set({ windows: form.windows.map((w, k) => (k === i ? { ...w, ...patch } : w)) });

  return (
    <>
      <h1>New rollout</h1>
      {canWrite() ? null : <p class="notice">This token is read-only: you can preview a rollout but not start one.</p>}
      <ErrorNotice error={releases.error} what="Releases" />
      {releases.data !== undefined && releases.data.items.length === 0 ? (
        <p class="notice">
          The fleet's TUF repository has no model release to roll out. Publish one with <code>edgewise repo add-model</code>, <code>sign</code> and <code>publish</code>.
        </p>
      ) : null}
      {releases.data === undefined || releases.data.items.length === 0 ? (
        releases.error === undefined && releases.data === undefined ? <Loading what="releases" /> : null
      ) : (
        <form
          class="rollout-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act('preview');
          }}
        >
          <fieldset>
            <legend>What and where</legend>
            <Field id="r-release" label="Release">
              <select id="r-release" value={target} onChange={(e) => set({ target: (e.currentTarget as HTMLSelectElement).value })}>
                {releases.data.items.map((r) => (
                  <option key={r.target} value={r.target}>
                    {r.model} release {r.release}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="r-name" label="Name" hint="optional; default: the model and version">
              <input id="r-name" value={form.name} onInput={text('name')} aria-describedby="r-name-hint" />
            </Field>
            <Field id="r-selector" label="Selector" hint="a label selector (site=plant-2,!canary); empty: every gateway">
              <input id="r-selector" value={form.selector} onInput={text('selector')} aria-describedby="r-selector-hint" />
            </Field>
            <Field id="r-waves" label="Waves" hint="counts and shares of all, in order: 1, 50%, 100%; separate label-selector waves with ;">
              <input id="r-waves" value={form.waves} onInput={text('waves')} aria-describedby="r-waves-hint" />
            </Field>
          </fieldset>
          <fieldset>
            <legend>Gates between waves</legend>
            <Field id="r-fail" hint="empty: 0" label="Max failure share (%)">
              <input id="r-fail" aria-describedby="r-fail-hint" inputMode="decimal" value={form.maxFailurePercent} onInput={text('maxFailurePercent')} />
            </Field>
            <Field id="r-rollback" hint="empty: 0" label="Max rollback share (%)">
              <input id="r-rollback" aria-describedby="r-rollback-hint" inputMode="decimal" value={form.maxRollbackPercent} onInput={text('maxRollbackPercent')} />
            </Field>
            <Field id="r-timeout-share" hint="empty: 10" label="Max timeout share (%)">
              <input id="r-timeout-share" aria-describedby="r-timeout-share-hint" inputMode="decimal" value={form.maxTimeoutPercent} onInput={text('maxTimeoutPercent')} />
            </Field>
            <Field id="r-on-fail" label="On a failed gate">
              <select id="r-on-fail" value={form.onGateFailure} onChange={(e) => set({ onGateFailure: (e.currentTarget as HTMLSelectElement).value as 'pause' | 'rollback' })}>
                <option value="pause">pause</option>
                <option value="rollback">roll back and pause</option>
              </select>
            </Field>
          </fieldset>
          <fieldset>
            <legend>Pace</legend>
            <Field id="r-rate" label="Rate (gateways per minute)" hint="empty: 600">
              <input id="r-rate" inputMode="numeric" value={form.ratePerMinute} onInput={text('ratePerMinute')} aria-describedby="r-rate-hint" />
            </Field>
            <Field id="r-gw-timeout" label="Gateway timeout (minutes)" hint="empty: 30">
              <input id="r-gw-timeout" inputMode="numeric" value={form.gatewayTimeoutMinutes} onInput={text('gatewayTimeoutMinutes')} aria-describedby="r-gw-timeout-hint" />
            </Field>
          </fieldset>
          <fieldset>
            <legend>Windows</legend>
            <p class="hint">Gateways matching a window's selector are told only between its times.</p>
            {form.windows.map((w, i) => (
              <div class="window-row" key={i} role="group" aria-label={`Window ${i + 1}`}>
                <Field id={`w-${i}-selector`} label={`Window ${i + 1} selector`}>
                  <input id={`w-${i}-selector`} value={w.selector} onInput={(e) => setWindow(i, { selector: (e.currentTarget as HTMLInputElement).value })} />
                </Field>
                <Field id={`w-${i}-from`} label={`Window ${i + 1} from`}>
                  <input id={`w-${i}-from`} type="time" value={w.from} onInput={(e) => setWindow(i, { from: (e.currentTarget as HTMLInputElement).value })} />
                </Field>
                <Field id={`w-${i}-to`} label={`Window ${i + 1} to`}>
                  <input id={`w-${i}-to`} type="time" value={w.to} onInput={(e) => setWindow(i, { to: (e.currentTarget as HTMLInputElement).value })} />
                </Field>
                <Field id={`w-${i}-tz`} label={`Window ${i + 1} time zone`}>
                  <input id={`w-${i}-tz`} value={w.timeZone} onInput={(e) => setWindow(i, { timeZone: (e.currentTarget as HTMLInputElement).value })} />
                </Field>
                <button type="button" onClick={() => set({ windows: form.windows.filter((_, k) => k !== i) })}>
                  Remove window {i + 1}
                </button>
              </div>
            ))}
            <button type="button" onClick={() => set({ windows: [...form.windows, { selector: '', from: '22:00', to: '05:00', timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }] })}>
              Add window
            </button>
          </fieldset>
          <ErrorNotice error={error} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Preview
            </button>
            {canWrite() ? (
              <button type="button" class="primary" disabled={busy} onClick={() => void act('start')}>
                Start rollout
              </button>
            ) : null}
          </div>
        </form>
      )}
      {preview === null ? null : (
        <section aria-labelledby="preview-heading">
          <h2 id="preview-heading">
            Preview: {preview.model} release {preview.release} to {formatCount(preview.total, 'gateway')}
          </h2>
          <table class="data" aria-label="Wave preview">
            <thead>
              <tr>
                <th scope="col">Wave</th>
                <th scope="col">Gateways</th>
                <th scope="col">Who</th>
              </tr>
            </thead>
            <tbody>
              {preview.waves.map((w, i) => (
                <tr key={i}>
                  <th scope="row">{i + 1}</th>
                  <td>{w.size}</td>
                  <td>
                    {w.gateways.join(', ')}
                    {w.more > 0 ? ` and ${w.more} more` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}
