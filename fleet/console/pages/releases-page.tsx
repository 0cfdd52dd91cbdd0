import { ErrorNotice, Loading } from '../components/notice.js';
import { formatBytes } from '../logic/format.js';
import { useResource } from '../state/use-resource.js';

export function ReleasesPage() {
  const releases = useResource((api) => api.releases(), [], { learning: () => true });
  return (
    <>
      <h1>Releases</h1>
      <p class="muted">Model releases in the fleet's TUF repository, from its newest published snapshot.</p>
      <ErrorNotice error={releases.error} />
      {releases.data === undefined ? (
        releases.error === undefined ? <Loading what="releases" /> : null
      ) : (
        <div class="scroll-x">
          <table class="data" aria-label="Releases">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Release</th>
                <th scope="col">Version</th>
                <th scope="col">Hardware</th>
                <th scope="col">Golden set</th>
                <th scope="col">Signed by</th>
                <th scope="col">Size</th>
                <th scope="col">Budgets</th>
              </tr>
            </thead>
            <tbody>
              {releases.data.items.length === 0 ? (
                <tr>
                  <td colSpan={8} class="muted">
                    No release published.
                  </td>
                </tr>
              ) : null}
              {releases.data.items.map((r) => (
                <tr key={r.target}>
                  <th scope="row">{r.model}</th>
                  <td>{r.release}</td>
                  <td>{r.version}</td>
                  <td>
                    {r.hardware.arch.join(', ') || 'any'}
                    {r.hardware.accelerators.length > 0 ? `; ${r.hardware.accelerators.join(', ')}` : ''}
                  </td>
                  <td>
                    <span title={`${r.golden.input} -> ${r.golden.output}`}>
                      {r.golden.inputName} [{r.golden.dims.join('×')}] → {r.golden.outputName}, ±{r.golden.tolerance}
                    </span>
                  </td>
                  <td>{r.signedBy}</td>
                  <td>{formatBytes(r.length)}</td>
                  <td>
                    {r.budgets.latencyMs} ms, {r.budgets.errorRatePpm} ppm errors, {r.budgets.probationS} s probation
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
