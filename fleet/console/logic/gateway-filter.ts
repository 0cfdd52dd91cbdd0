/**
 * Filtering and sorting the gateways table in memory: the page holds the whole list (10,000
 * gateways load in ten pages once; live updates keep it current), so a filter is a loop over
 * an array, not a request. Label selectors mean what they mean on the server: the parser and
 * matcher are the registry's own (fleet/registry/labels.ts, plain functions without imports).
 * Pure: no DOM.
 */
import { LabelError, matches, parseSelector } from '../../registry/labels.js';
import type { Selector } from '../../registry/labels.js';
import type { GatewayStatus, GatewaySummary } from '../api/types.js';

export interface GatewayFilter {
  readonly selector: string;
  readonly site: string;
  readonly status: GatewayStatus | '';
  readonly model: string;
  /** A release number as typed; with model, that model's active release; alone, any model's. */
  readonly release: string;
}

export const EMPTY_FILTER: GatewayFilter = { selector: '', site: '', status: '', model: '', release: '' };

export type SortKey = 'id' | 'site' | 'status' | 'lastSeen' | 'runtime' | 'releases';
export interface GatewaySort {
  readonly key: SortKey;
  readonly descending: boolean;
}

export class FilterError extends Error {
  readonly code = 'E_FILTER';
  constructor(
    readonly field: keyof GatewayFilter,
    message: string,
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

export type GatewayPredicate = (g: GatewaySummary) => boolean;

/** The filter as one predicate; throws FilterError naming the field that cannot be read. */
export function compileFilter(f: GatewayFilter): GatewayPredicate {
  let selector: Selector = [];
  try {
    selector = parseSelector(f.selector, 'Label selector');
  } catch (err) {
    if (err instanceof LabelError) throw new FilterError('selector', err.message);
    throw err;
  }
  const release = f.release.trim();
  if (release !== '' && !/^\d+$/.test(release)) throw new FilterError('release', `Release: ${JSON.stringify(release)} is not a release number`);
  const releaseNo = release === '' ? null : Number(release);
  const site = f.site.trim();
  const model = f.model.trim();
  const status = f.status;
  return (g) => {
    if (status !== '' && g.status !== status) return false;
    if (site !== '' && g.site !== site) return false;
    if (model !== '') {
      const r = g.releases[model];
      if (r === undefined || r.active === null || r.active === undefined) return false;
      if (releaseNo !== null && r.active.release !== releaseNo) return false;
    } else if (releaseNo !== null) {
      let any = false;
      for (const k in g.releases) if (g.releases[k]?.active?.release === releaseNo) any = true;
      if (!any) return false;
    }
    return selector.length === 0 || matches(selector, g.labels);
  };
}

/** The active releases as the table shows them: `model 3, other 1`, models in name order. */
export function releasesText(g: GatewaySummary): string {
  return Object.keys(g.releases)
    .sort()
    .map((m) => {
      const r = g.releases[m]?.active?.release;
      return r === undefined ? `${m} -` : `${m} ${r}`;
    })
    .join(', ');
}

const STATUS_ORDER: Readonly<Record<GatewayStatus, number>> = { offline: 0, degraded: 1, 'never-seen': 2, online: 3, revoked: 4 };

function sortValue(g: GatewaySummary, key: SortKey): string | number {
  switch (key) {
    case 'id':
      return g.id;
    case 'site':
      return g.site;
    case 'status':
      return STATUS_ORDER[g.status];
    case 'lastSeen':
      return g.lastSeenMs ?? -1;
    case 'runtime':
      return g.runtimeVersion ?? '';
    case 'releases':
      return releasesText(g);
  }
}

/**
 * The gateways that pass the filter, in the sort's order (ties by id, so the order is stable
 * across live updates). Keys are computed once per gateway, not per comparison.
 */
export function filterAndSort(all: readonly GatewaySummary[], predicate: GatewayPredicate, sort: GatewaySort): GatewaySummary[] {
  const keyed: { g: GatewaySummary; k: string | number }[] = [];
  for (const g of all) if (predicate(g)) keyed.push({ g, k: sortValue(g, sort.key) });
  const dir = sort.descending ? -1 : 1;
  keyed.sort((a, b) => {
    const c = a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
    if (c !== 0) return c * dir;
    return a.g.id < b.g.id ? -1 : a.g.id > b.g.id ? 1 : 0;
  });
  return keyed.map((x) => x.g);
}
