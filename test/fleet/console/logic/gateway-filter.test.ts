import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GatewayStatus, GatewaySummary } from '../../../../fleet/console/api/types.js';
import { GATEWAY_STATUSES } from '../../../../fleet/console/api/types.js';
import { compileFilter, EMPTY_FILTER, filterAndSort, FilterError } from '../../../../fleet/console/logic/gateway-filter.js';
import type { GatewayFilter, SortKey } from '../../../../fleet/console/logic/gateway-filter.js';
import { GatewayIndex } from '../../../../fleet/console/logic/gateway-index.js';

function gateway(id: string, o: { site?: string; status?: GatewayStatus; labels?: Record<string, string>; releases?: Record<string, number>; lastSeenMs?: number | null } = {}): GatewaySummary {
  return {
    id,
    site: o.site ?? '',
    labels: o.labels ?? {},
    status: o.status ?? 'online',
    online: (o.status ?? 'online') !== 'offline',
    createdMs: 0,
    revokedMs: null,
    lastSeenMs: o.lastSeenMs ?? null,
    stateClean: null,
    runtimeVersion: '0.1.0',
    hardware: null,
    releases: Object.fromEntries(Object.entries(o.releases ?? {}).map(([m, r]) => [m, { active: { release: r }, standby: null }])),
    health: null,
    telemetry: { records: 0, lastMs: null },
  };
}

/** 10,000 gateways over 4 sites, 3 lines, 5 statuses and 2 models: the size the table must stay fast at. */
function fleet(n: number): GatewaySummary[] {
  return Array.from({ length: n }, (_, i) =>
    gateway(`gw-${String(i).padStart(5, '0')}`, {
      site: `plant-${i % 4}`,
      status: GATEWAY_STATUSES[i % 5] as GatewayStatus,
      labels: { site: `plant-${i % 4}`, line: ['press', 'paint', 'weld'][i % 3] as string, ...(i % 10 === 0 ? { canary: 'true' } : {}) },
      releases: i % 2 === 0 ? { motor: 1 + (i % 3) } : { motor: 1, camera: 2 },
      lastSeenMs: i % 7 === 0 ? null : i * 1000,
    }),
  );
}

describe('gateway filter', () => {
  const all = fleet(10_000);

  it('filters by label selector, site, status, model and release together', () => {
    const p = compileFilter({ selector: 'line in (press,weld),!canary', site: 'plant-2', status: 'degraded', model: 'motor', release: '3' });
    const got = filterAndSort(all, p, { key: 'id', descending: false });
    const want = all.filter((g) => ['press', 'weld'].includes(g.labels['line'] as string) && g.labels['canary'] === undefined && g.site === 'plant-2' && g.status === 'degraded' && g.releases['motor']?.active?.release === 3);
    expect(got.map((g) => g.id)).toEqual(want.map((g) => g.id));
    expect(got.length).toBeGreaterThan(0);
  });

  it('with a release and no model, matches a gateway running that release of any model', () => {
    const p = compileFilter({ ...EMPTY_FILTER, release: '2' });
    const got = filterAndSort(all, p, { key: 'id', descending: false });
    expect(got.length).toBe(all.filter((g) => Object.values(g.releases).some((r) => r.active?.release === 2)).length);
    expect(got.some((g) => g.releases['camera'] !== undefined)).toBe(true);
  });

  it('names the field it cannot read', () => {
    expect(() => compileFilter({ ...EMPTY_FILTER, selector: 'line in ()' })).toThrow(FilterError);
    try {
      compileFilter({ ...EMPTY_FILTER, release: 'two' });
      expect.unreachable();
    } catch (err) {
      expect((err as FilterError).field).toBe('release');
      expect((err as FilterError).message).toBe('Release: "two" is not a release number');
    }
  });

  it('sorts by each column both ways, ties by id', () => {
    const sample = all.slice(0, 300);
    for (const key of ['id', 'site', 'status', 'lastSeen', 'runtime', 'releases'] as SortKey[]) {
      const up = filterAndSort(sample, () => true, { key, descending: false });
      const down = filterAndSort(sample, () => true, { key, descending: true });
      expect(up).toHaveLength(300);
      expect(new Set(up.map((g) => g.id)).size).toBe(300);
      if (key === 'id') expect(down.map((g) => g.id)).toEqual(up.map((g) => g.id).reverse());
    }
    const bySeen = filterAndSort(sample, () => true, { key: 'lastSeen', descending: true });
    expect(bySeen[0]?.lastSeenMs).toBe(Math.max(...sample.map((g) => g.lastSeenMs ?? -1)));
    const bySite = filterAndSort(sample, () => true, { key: 'site', descending: false });
    const first = bySite.filter((g) => g.site === 'plant-0').map((g) => g.id);
    expect(first).toEqual([...first].sort());
  });

  it('agrees with a plain filter on any filter and sort (property)', () => {
    const sample = all.slice(0, 400);
    const filterArb: fc.Arbitrary<GatewayFilter> = fc.record({
      selector: fc.constantFrom('', 'line=press', 'line!=paint', 'canary', '!canary', 'site in (plant-0,plant-3)'),
      site: fc.constantFrom('', 'plant-0', 'plant-2', 'nowhere'),
      status: fc.constantFrom('', ...GATEWAY_STATUSES),
      model: fc.constantFrom('', 'motor', 'camera'),
      release: fc.constantFrom('', '1', '2', '3'),
    });
    fc.assert(
      fc.property(filterArb, fc.constantFrom<SortKey>('id', 'site', 'status', 'lastSeen'), fc.boolean(), (f, key, descending) => {
        const got = filterAndSort(sample, compileFilter(f), { key, descending });
        const want = sample.filter((g) => {
          const l = g.labels;
          const sel =
            f.selector === '' ||
            (f.selector === 'line=press' && l['line'] === 'press') ||
            (f.selector === 'line!=paint' && l['line'] !== 'paint') ||
            (f.selector === 'canary' && 'canary' in l) ||
            (f.selector === '!canary' && !('canary' in l)) ||
            (f.selector === 'site in (plant-0,plant-3)' && ['plant-0', 'plant-3'].includes(l['site'] as string));
          const rel = f.release === '' ? null : Number(f.release);
          const model =
            f.model === ''
              ? rel === null || Object.values(g.releases).some((r) => r.active?.release === rel)
              : g.releases[f.model]?.active != null && (rel === null || g.releases[f.model]?.active?.release === rel);
          return sel && (f.site === '' || g.site === f.site) && (f.status === '' || g.status === f.status) && model;
        });
        expect(new Set(got.map((g) => g.id))).toEqual(new Set(want.map((g) => g.id)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('GatewayIndex', () => {
  it('counts per status and per site, and applies live batches by id', () => {
    const index = new GatewayIndex();
    index.reset([gateway('b', { site: 's1', status: 'online' }), gateway('a', { site: 's1', status: 'offline' }), gateway('c', { status: 'degraded' })]);
    expect(index.list().map((g) => g.id)).toEqual(['a', 'b', 'c']);
    expect(index.counts()).toEqual({ total: 3, online: 1, offline: 1, degraded: 1, 'never-seen': 0, revoked: 0 });
    const v = index.version;
    index.apply([gateway('a', { site: 's1', status: 'online' }), gateway('d', { site: 's0', status: 'never-seen' })]);
    expect(index.version).toBeGreaterThan(v);
    expect(index.counts()).toEqual({ total: 4, online: 2, offline: 0, degraded: 1, 'never-seen': 1, revoked: 0 });
    expect(index.sites().map((s) => [s.site, s.counts.total, s.counts.online])).toEqual([
      ['s0', 1, 0],
      ['s1', 2, 2],
      ['', 1, 0],
    ]);
    expect(index.get('a')?.status).toBe('online');
  });
});
