import { useMemo, useState } from 'preact/hooks';
import type { GatewayStatus, GatewaySummary } from '../api/types.js';
import { GATEWAY_STATUSES } from '../api/types.js';
import { StatusBadge } from '../components/status-badge.js';
import type { Column } from '../components/virtual-table.js';
import { VirtualTable } from '../components/virtual-table.js';
import { formatAgo, formatCount } from '../logic/format.js';
import type { GatewayFilter, GatewayPredicate, SortKey } from '../logic/gateway-filter.js';
import { compileFilter, EMPTY_FILTER, filterAndSort, FilterError, releasesText } from '../logic/gateway-filter.js';
import { hrefs } from '../logic/route.js';
import { gatewayIndex, session } from '../state/session.js';
import { useStore } from '../state/store.js';

function labelsText(g: GatewaySummary): string {
  return Object.entries(g.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function GatewaysPage() {
  const version = useStore(session, (s) => s.gatewaysVersion);
  const loaded = useStore(session, (s) => s.gatewaysLoaded);
  const [filter, setFilter] = useState<GatewayFilter>(EMPTY_FILTER);
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: 'id', descending: false });
  const [good, setGood] = useState<{ predicate: GatewayPredicate; error: FilterError | null }>(() => ({ predicate: compileFilter(EMPTY_FILTER), error: null }));
  const now = Date.now();

  function update(patch: Partial<GatewayFilter>): void {
    const next = { ...filter, ...patch };
    setFilter(next);
    try {
      setGood({ predicate: compileFilter(next), error: null });
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      setGood((g) => ({ predicate: g.predicate, error: err })); // keep showing the last filter that could be read
    }
  }

  const rows = useMemo(() => filterAndSort(gatewayIndex.list(), good.predicate, sort), [version, good.predicate, sort]);
  const sites = useMemo(() => [...new Set(gatewayIndex.list().map((g) => g.site))].filter((s) => s !== '').sort(), [version]);

  const columns: Column<GatewaySummary>[] = [
    { id: 'id', label: 'Gateway', width: 'minmax(10rem, 1.3fr)', sortable: true, render: (g) => <a href={hrefs.gateway(g.id)}>{g.id}</a> },
    { id: 'site', label: 'Site', width: 'minmax(6rem, 0.8fr)', sortable: true, render: (g) => g.site },
    { id: 'status', label: 'Status', width: '8.5rem', sortable: true, render: (g) => <StatusBadge status={g.status} /> },
    { id: 'labels', label: 'Labels', width: 'minmax(8rem, 1.5fr)', render: (g) => <span class="truncate" title={labelsText(g)}>{labelsText(g)}</span> },
    { id: 'releases', label: 'Active releases', width: 'minmax(8rem, 1fr)', sortable: true, render: (g) => <span class="truncate">{releasesText(g)}</span> },
    { id: 'lastSeen', label: 'Last seen', width: '8rem', sortable: true, render: (g) => formatAgo(g.lastSeenMs, now) },
  ];

  const fieldError = good.error;
  return (
    <>
      <h1>Gateways</h1>
      <form class="filters" role="search" aria-label="Filter gateways" onSubmit={(e) => e.preventDefault()}>
        <div class="field wide">
          <label for="f-selector">Label selector</label>
          <input id="f-selector" value={filter.selector} placeholder="line in (press,paint),!canary" aria-invalid={fieldError?.field === 'selector'} aria-describedby={fieldError?.field === 'selector' ? 'f-error' : undefined} onInput={(e) => update({ selector: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <div class="field">
          <label for="f-site">Site</label>
          <input id="f-site" list="f-sites" value={filter.site} onInput={(e) => update({ site: (e.currentTarget as HTMLInputElement).value })} />
          <datalist id="f-sites">
            {sites.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" value={filter.status} onChange={(e) => update({ status: (e.currentTarget as HTMLSelectElement).value as GatewayStatus | '' })}>
            <option value="">any</option>
            {GATEWAY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-model">Model</label>
          <input id="f-model" value={filter.model} onInput={(e) => update({ model: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        <div class="field narrow">
          <label for="f-release">Release</label>
          <input id="f-release" inputMode="numeric" value={filter.release} aria-invalid={fieldError?.field === 'release'} aria-describedby={fieldError?.field === 'release' ? 'f-error' : undefined} onInput={(e) => update({ release: (e.currentTarget as HTMLInputElement).value })} />
        </div>
      </form>
      {fieldError === null ? null : (
        <p id="f-error" role="alert" class="notice error">
          {fieldError.message}
        </p>
      )}
      <p class="match-count" aria-live="polite">
        <span data-testid="gateway-match-count">{formatCount(rows.length, 'gateway')}</span>
        {loaded ? null : <span class="muted"> (loading…)</span>}
      </p>
      <VirtualTable
        label="Gateways"
        rows={rows}
        columns={columns}
        rowKey={(g) => g.id}
        sort={{ column: sort.key, descending: sort.descending }}
        onSort={(column) => setSort((s) => ({ key: column as SortKey, descending: s.key === column ? !s.descending : false }))}
        empty={loaded ? 'No gateway matches.' : 'Loading…'}
      />
    </>
  );
}
