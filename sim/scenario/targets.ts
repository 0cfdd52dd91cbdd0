import type { Labels } from '../../fleet/registry/labels.js';
import { closest } from '../../runtime/config/suggest.js';
import type { GatewayGroup, GatewayTarget, Scenario } from './types.js';

/**
 * Gateway ids and the targets that name them: a group of `count` gateways has ids
 * `<group>-1` .. `<group>-<count>`; a target is every gateway, some ids, or a group's first n.
 */

/** The ids of a group's gateways, in order. */
export function groupIds(g: Pick<GatewayGroup, 'group' | 'count'>): string[] {
  return Array.from({ length: g.count }, (_, i) => `${g.group}-${i + 1}`);
}

/** Every gateway of the scenario with its group, in file order. */
export function gatewayIndex(groups: readonly GatewayGroup[]): Map<string, GatewayGroup> {
  const out = new Map<string, GatewayGroup>();
  for (const g of groups) for (const id of groupIds(g)) if (!out.has(id)) out.set(id, g);
  return out;
}

/** The ids a target names, in scenario order (duplicates in an id list once). */
export function targetIds(scenario: Pick<Scenario, 'gateways'>, target: GatewayTarget): string[] {
  if ('all' in target) return scenario.gateways.flatMap(groupIds);
  if ('ids' in target) return [...new Set(target.ids)];
  const g = scenario.gateways.find((x) => x.group === target.group);
  return g === undefined ? [] : groupIds(g).slice(0, target.count);
}

/** The labels a gateway is provisioned with: the group's own, plus `site` and `group`. */
export function fleetLabels(g: GatewayGroup): Labels {
  return { ...g.labels, site: g.site, group: g.group };
}

/** A target as written (already valid by its schema) -> the target, or the problem with it (expected, got) and where. */
export type TargetResult = { readonly target: GatewayTarget } | { readonly problem: { readonly at: readonly (string | number)[]; readonly expected: string; readonly got: string } };

export function resolveTarget(raw: unknown, groups: readonly GatewayGroup[], ids: ReadonlyMap<string, GatewayGroup>): TargetResult {
  const known = [...ids.keys()];
  const unknownId = (id: string, at: readonly (string | number)[]): TargetResult => {
    const near = closest(id, known);
    const shown = known.length <= 8 ? known.join(', ') : `${known.slice(0, 8).join(', ')}, ...`;
    return { problem: { at, expected: `\`all\` or the id of a gateway (${shown})`, got: `unknown gateway ${JSON.stringify(id)}${near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`}` } };
  };
  if (raw === 'all') return { target: { all: true } };
  if (typeof raw === 'string') return ids.has(raw) ? { target: { ids: [raw] } } : unknownId(raw, []);
  if (Array.isArray(raw)) {
    for (const [i, id] of (raw as string[]).entries()) if (!ids.has(id)) return unknownId(id, [i]);
    return { target: { ids: [...raw] as string[] } };
  }
  const { group, count } = raw as { group: string; count?: number };
  const g = groups.find((x) => x.group === group);
  if (g === undefined) {
    const names = groups.map((x) => x.group);
    const near = closest(group, names);
    return { problem: { at: ['group'], expected: `the name of a gateway group (${names.join(', ')})`, got: `unknown group ${JSON.stringify(group)}${near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`}` } };
  }
  if (count !== undefined && count > g.count) return { problem: { at: ['count'], expected: `at most the group's ${g.count} gateways`, got: String(count) } };
  return { target: { group, count: count ?? g.count } };
}
