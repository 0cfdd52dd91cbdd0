import { isAbsolute, resolve } from 'node:path';
import { describeValue } from '../../fleet/protocol/schema-problems.js';
import { LABEL_KEY_PATTERN } from '../../fleet/registry/labels.js';
import { SCENARIO_DEFAULTS } from './defaults.js';
import { Problems, isMapping, type Problem } from './problems.js';
import { checkFaults, checkLearning, checkRollouts } from './rules.js';
import { MAX_GATEWAYS, fleetSchema, gatewayGroupSchema, gatewaysSchema, rootSchema } from './schema.js';
import type { GatewayGroup, Scenario } from './types.js';
import { parseDuration, parseSize } from './units.js';

/**
 * A scenario's rules, part by part, collecting every problem (one never hides another): the
 * schemas, the units, then the rules between parts (targets name gateways that exist and can
 * take the fault, times inside the run). Defaults are filled here, in one place.
 */

/** The gateway store's smallest budget (runtime/config/schema.ts, store.maxSizeBytes). */
const MIN_BUDGET_BYTES = 65_536;

export interface Validation {
  readonly problems: readonly Problem[];
  /** The scenario, when there are no problems. */
  readonly scenario?: Scenario;
}

export function validateScenario(root: unknown, baseDir: string): Validation {
  const p = new Problems();
  if (!isMapping(root)) {
    p.add([], 'a mapping with name, duration and gateways', root === null || root === undefined ? 'nothing (the file is empty)' : describeValue(root));
    return { problems: p.list };
  }
  p.schema(rootSchema, root, []);
  const resolvePath = (x: string): string => (isAbsolute(x) ? x : resolve(baseDir, x));
  const durationMs = p.unit(parseDuration, root['duration'], ['duration']);
  if (durationMs === 0) p.add(['duration'], 'a time longer than 0s', describeValue(root['duration']));
  const fleet = root['fleet'] ?? {};
  const fleetOk = p.schema(fleetSchema, fleet, ['fleet']);
  const { groups, ok: groupsOk } = validateGroups(root['gateways'], p);
  const ctx = { p, durationMs: durationMs === 0 ? undefined : durationMs, groups };
  const faults = checkFaults(root['faults'] ?? [], ctx);
  const rollouts = checkRollouts(root['rollouts'] ?? [], ctx);
  const learning = root['learning'] === undefined ? null : checkLearning(root['learning'], ctx);
  if (p.list.length > 0 || !fleetOk || durationMs === undefined || groups === undefined || !groupsOk || faults === undefined || rollouts === undefined || learning === undefined) {
    return { problems: p.list };
  }
  const f = fleet as { dataDir?: string; db?: string; httpPort?: number };
  const scenario: Scenario = {
    name: root['name'] as string,
    description: (root['description'] as string | undefined) ?? '',
    seed: (root['seed'] as number | undefined) ?? SCENARIO_DEFAULTS.seed,
    durationMs,
    fleet: { dataDir: f.dataDir === undefined ? null : resolvePath(f.dataDir), db: f.db ?? null, httpPort: f.httpPort ?? SCENARIO_DEFAULTS.httpPort },
    gateways: groups,
    faults,
    rollouts,
    learning,
    reportDir: typeof root['reportDir'] === 'string' ? resolvePath(root['reportDir']) : null,
  };
  return { problems: [], scenario };
}

interface GroupSection {
  group: string;
  count?: number;
  site?: string;
  labels?: Record<string, string>;
  mode?: GatewayGroup['mode'];
  mcu?: { rateHz?: number };
  camera?: { fps?: number; width?: number; height?: number; defectShare?: number };
  synthetic?: { rateHz?: number; channels?: number };
  budget?: string;
}

/** The keys of a group entry that have the right type (the rest left out, so defaults apply). */
function salvage(raw: Record<string, unknown>): GroupSection | undefined {
  if (typeof raw['group'] !== 'string') return undefined;
  const count = raw['count'];
  const mode = raw['mode'];
  const obj = (v: unknown): Record<string, never> | undefined => (isMapping(v) ? (v as Record<string, never>) : undefined);
  return {
    group: raw['group'],
    ...(Number.isInteger(count) && (count as number) >= 1 && (count as number) <= MAX_GATEWAYS ? { count: count as number } : {}),
    ...(typeof raw['site'] === 'string' ? { site: raw['site'] } : {}),
    ...(isMapping(raw['labels']) ? { labels: raw['labels'] as Record<string, string> } : {}),
    ...(mode === 'process' || mode === 'in-process' ? { mode } : {}),
    ...(obj(raw['mcu']) !== undefined ? { mcu: obj(raw['mcu']) } : {}),
    ...(obj(raw['camera']) !== undefined ? { camera: obj(raw['camera']) } : {}),
    ...(obj(raw['synthetic']) !== undefined ? { synthetic: obj(raw['synthetic']) } : {}),
    ...(typeof raw['budget'] === 'string' ? { budget: raw['budget'] } : {}),
  };
}

const labelKey = new RegExp(LABEL_KEY_PATTERN);
/** Labels the simulator sets itself (targets.ts, fleetLabels). */
const RESERVED_LABELS = ['site', 'group'];

/**
 * The gateway groups with defaults filled, whenever the list has its schema's shape (so the
 * rules between parts still find the groups when one has, say, a bad budget); `ok` false when
 * any has a problem.
 */
function validateGroups(value: unknown, p: Problems): { groups?: GatewayGroup[]; ok: boolean } {
  if (value === undefined) return { ok: false }; // `gateways` missing: the root schema said so.
  if (!p.schema(gatewaysSchema, value, ['gateways'])) return { ok: false };
  const out: GatewayGroup[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  let total = 0;
  (value as Record<string, unknown>[]).forEach((raw, i) => {
    const path = ['gateways', i];
    if (!p.schema(gatewayGroupSchema, raw, path)) ok = false;
    // A group with a problem still counts for the other rules (a fault naming it, a kill needing its mode), as far as its keys are readable.
    const g = salvage(raw);
    if (g === undefined) return;
    const first = seen.get(g.group);
    if (first !== undefined) {
      p.add([...path, 'group'], `a group name no other group has (gateways[${first}] has it; gateway ids must be unique)`, describeValue(g.group));
      ok = false;
    } else seen.set(g.group, i);
    for (const key of Object.keys(g.labels ?? {})) {
      if (!labelKey.test(key)) p.add([...path, 'labels', key], 'a label key of 1-63 letters, digits, ".", "_", "-" or "/", starting with a letter or digit', describeValue(key));
      else if (RESERVED_LABELS.includes(key)) p.add([...path, 'labels', key], `a label other than ${RESERVED_LABELS.join(' and ')} (the simulator sets those from the group's site and name)`, describeValue(key));
      else continue;
      ok = false;
    }
    if (g.mcu === undefined && g.camera === undefined && g.synthetic === undefined) {
      p.add(path, 'at least one device: mcu, camera or synthetic (a gateway with none produces nothing)', 'none');
      ok = false;
    }
    const budget = g.budget === undefined ? SCENARIO_DEFAULTS.budgetBytes : p.unit(parseSize, g.budget, [...path, 'budget']);
    if (budget !== undefined && budget < MIN_BUDGET_BYTES) {
      p.add([...path, 'budget'], 'a size of at least 64KiB (the gateway store\'s smallest budget)', describeValue(g.budget));
      ok = false;
    }
    total += g.count ?? 1;
    if (budget === undefined || budget < MIN_BUDGET_BYTES) ok = false;
    const d = SCENARIO_DEFAULTS;
    out.push({
      group: g.group,
      count: g.count ?? 1,
      site: g.site ?? d.site,
      labels: { ...(g.labels ?? {}) },
      mode: g.mode ?? d.mode,
      mcu: g.mcu === undefined ? null : { rateHz: g.mcu.rateHz ?? d.mcuRateHz },
      camera: g.camera === undefined ? null : { fps: g.camera.fps ?? d.camera.fps, width: g.camera.width ?? d.camera.width, height: g.camera.height ?? d.camera.height, defectShare: g.camera.defectShare ?? d.camera.defectShare },
      synthetic: g.synthetic === undefined ? null : { rateHz: g.synthetic.rateHz ?? d.synthetic.rateHz, channels: g.synthetic.channels ?? d.synthetic.channels },
      storeBudgetBytes: budget ?? d.budgetBytes,
    });
  });
  if (total > MAX_GATEWAYS) {
    p.add(['gateways'], `at most ${MAX_GATEWAYS} gateways in all`, `${total}`);
    ok = false;
  }
  return { groups: out, ok };
}
