/**
 * The page's copy of every gateway: loaded once page by page, then kept current by the live
 * stream's `gateways` batches (each replaces its gateway by id). The overview's counts come
 * from the same list, so the overview and the table never disagree. Pure: no DOM.
 */
import type { GatewayStatus, GatewaySummary } from '../api/types.js';
import { GATEWAY_STATUSES } from '../api/types.js';

export type StatusCounts = Record<GatewayStatus | 'total', number>;

export interface SiteCounts {
  readonly site: string;
  readonly counts: StatusCounts;
}

function zeroCounts(): StatusCounts {
  const c = { total: 0 } as StatusCounts;
  for (const s of GATEWAY_STATUSES) c[s] = 0;
  return c;
}

export class GatewayIndex {
  private readonly byId = new Map<string, GatewaySummary>();
  private cachedList: GatewaySummary[] | null = null;
  /** Goes up at each change: the views' cue to recompute. */
  version = 0;

  /** Replaces everything (the first load, and after a resync). */
  reset(items: readonly GatewaySummary[]): void {
    this.byId.clear();
    for (const g of items) this.byId.set(g.id, g);
    this.changed();
  }

  /** A live batch: each gateway replaced (or added) by id. */
  apply(items: readonly GatewaySummary[]): void {
    if (items.length === 0) return;
    for (const g of items) this.byId.set(g.id, g);
    this.changed();
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): GatewaySummary | undefined {
    return this.byId.get(id);
  }

  /** Every gateway in id order (the API's order); the same array until the next change. */
  list(): readonly GatewaySummary[] {
    this.cachedList ??= [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.cachedList;
  }

  counts(): StatusCounts {
    const c = zeroCounts();
    for (const g of this.byId.values()) {
      c[g.status] += 1;
      c.total += 1;
    }
    return c;
  }

  /** Counts per site, sites in name order (the empty site, gateways without one, last). */
  sites(): SiteCounts[] {
    const per = new Map<string, StatusCounts>();
    for (const g of this.byId.values()) {
      let c = per.get(g.site);
      if (c === undefined) per.set(g.site, (c = zeroCounts()));
      c[g.status] += 1;
      c.total += 1;
    }
    return [...per.entries()]
      .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0))
      .map(([site, counts]) => ({ site, counts }));
  }

  private changed(): void {
    this.cachedList = null;
    this.version += 1;
  }
}
