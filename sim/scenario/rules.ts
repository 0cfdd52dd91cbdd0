import { describeValue } from '../../fleet/protocol/schema-problems.js';
import { LabelError, matches, parseSelector } from '../../fleet/registry/labels.js';
import { AGGREGATION_STRATEGIES } from '../../fleet/federated/strategies/registry.js';
import { WavesTextError, parseWavesText } from '../../fleet/rollouts/waves-text.js';
import type { Path } from '../../runtime/config/yaml-source.js';
import { faultKindSchema, faultSchemas, faultsSchema, learningSchema, rolloutsSchema, type FaultKindName } from './schema.js';
import { fleetLabels, gatewayIndex, resolveTarget, targetIds } from './targets.js';
import type { Fault, GatewayGroup, GatewayTarget, LearningStep, RolloutStep, SensorFaultKind } from './types.js';
import { formatDuration, parseDuration } from './units.js';
import { SCENARIO_DEFAULTS } from './defaults.js';
import type { Problems } from './problems.js';

/**
 * The rules between a scenario's parts: each fault, rollout and learning round happens inside
 * the run, on gateways that exist and can take it (a kill needs a process of its own, a
 * sensor fault or a cable pull needs an MCU), and the ground truth stays readable (two sensor
 * faults never overlap on one gateway).
 */

export interface RuleContext {
  readonly p: Problems;
  /** Undefined when the duration has a problem of its own (times are then not compared with it). */
  readonly durationMs: number | undefined;
  /** Undefined when the gateway list has a problem of its shape (targets are then not resolved). */
  readonly groups: readonly GatewayGroup[] | undefined;
}

/** A time inside the run: `at` before its end, and `at + length` (when it lasts) not after it. */
function timeOf(raw: unknown, path: Path, ctx: RuleContext, lengthKey?: string, length?: number): number | undefined {
  const at = ctx.p.unit(parseDuration, raw, path);
  if (at === undefined || ctx.durationMs === undefined) return at;
  const run = formatDuration(ctx.durationMs);
  if (at >= ctx.durationMs) {
    ctx.p.add(path, `a time before the end of the run (duration ${run})`, describeValue(raw));
    return undefined;
  }
  if (length !== undefined && lengthKey !== undefined && at + length > ctx.durationMs) {
    ctx.p.add([...path.slice(0, -1), lengthKey], `a time that ends by the end of the run (at ${formatDuration(at)} + ${formatDuration(length)} is past duration ${run}; the recovery is part of what is scored)`, formatDuration(length));
    return undefined;
  }
  return at;
}

/** A target resolved against the groups, or undefined (with a problem) when it names what is not there or what cannot take `need`. */
function targetOf(raw: unknown, path: Path, ctx: RuleContext, need?: { readonly what: string; readonly lacking: string; readonly has: (g: GatewayGroup) => boolean }): GatewayTarget | undefined {
  if (ctx.groups === undefined) return undefined;
  const ids = gatewayIndex(ctx.groups);
  const r = resolveTarget(raw, ctx.groups, ids);
  if ('problem' in r) {
    ctx.p.add([...path, ...r.problem.at], r.problem.expected, r.problem.got);
    return undefined;
  }
  if (need !== undefined) {
    const unfit = targetIds({ gateways: ctx.groups }, r.target).filter((id) => !need.has(ids.get(id) as GatewayGroup));
    if (unfit.length > 0) {
      const shown = unfit.length <= 5 ? unfit.join(', ') : `${unfit.slice(0, 5).join(', ')} and ${unfit.length - 5} more`;
      ctx.p.add(path, `gateways ${need.what}`, `${shown}, ${need.lacking}`);
      return undefined;
    }
  }
  return r.target;
}

const hasMcu = { what: 'with an mcu (the fault happens on the simulated MCU and its serial link)', lacking: 'without one', has: (g: GatewayGroup) => g.mcu !== null };
const isProcess = { what: 'of mode `process` (kill -9 needs a process of its own; an in-process gateway shares the simulator\'s)', lacking: 'in-process', has: (g: GatewayGroup) => g.mode === 'process' };

type RawFault = Record<string, unknown> & { kind: FaultKindName };

export function checkFaults(value: unknown, ctx: RuleContext): Fault[] | undefined {
  const { p } = ctx;
  if (!p.schema(faultsSchema, value, ['faults'])) return undefined;
  const out: Fault[] = [];
  let ok = true;
  (value as unknown[]).forEach((raw, i) => {
    const path = ['faults', i];
    if (!p.schema(faultKindSchema, raw, path) || !p.schema(faultSchemas[(raw as RawFault).kind], raw, path)) {
      ok = false;
      return;
    }
    const f = raw as RawFault;
    const length = f.kind === 'kill' ? p.unit(parseDuration, f['restartAfter'], [...path, 'restartAfter']) : p.unit(parseDuration, f['duration'], [...path, 'duration']);
    if (length === 0) p.add([...path, f.kind === 'kill' ? 'restartAfter' : 'duration'], 'a time longer than 0s', '0');
    const atMs = timeOf(f['at'], [...path, 'at'], ctx, f.kind === 'kill' ? 'restartAfter' : 'duration', length);
    const need = f.kind === 'kill' ? isProcess : f.kind === 'sensor' || f.kind === 'cable-pull' ? hasMcu : undefined;
    const gateways = f.kind === 'broker-outage' ? ({ all: true } as const) : targetOf(f['gateways'], [...path, 'gateways'], ctx, need);
    if (atMs === undefined || length === undefined || length === 0 || gateways === undefined) {
      ok = false;
      return;
    }
    out.push(faultOf(f, atMs, length, gateways));
  });
  if (ok && ctx.groups !== undefined) ok = sensorFaultsApart(out, ctx);
  return ok ? out : undefined;
}

function faultOf(f: RawFault, atMs: number, length: number, gateways: GatewayTarget): Fault {
  switch (f.kind) {
    case 'sensor':
      return { kind: 'sensor', fault: f['fault'] as SensorFaultKind, atMs, durationMs: length, gateways };
    case 'broker-outage':
      return { kind: 'broker-outage', atMs, durationMs: length };
    case 'partition':
      return { kind: 'partition', atMs, durationMs: length, gateways };
    case 'kill':
      return { kind: 'kill', atMs, restartAfterMs: length, gateways };
    case 'cable-pull':
      return { kind: 'cable-pull', atMs, durationMs: length, gateways };
  }
}

/** Two sensor faults on one gateway at once would make one alert the answer to two questions: the scorecard could not tell them apart. */
function sensorFaultsApart(faults: readonly Fault[], ctx: RuleContext): boolean {
  const byGateway = new Map<string, { index: number; from: number; to: number }>();
  let ok = true;
  faults.forEach((f, index) => {
    if (f.kind !== 'sensor') return;
    for (const id of targetIds({ gateways: ctx.groups as GatewayGroup[] }, f.gateways)) {
      const earlier = byGateway.get(id);
      if (earlier !== undefined && f.atMs < earlier.to && earlier.from < f.atMs + f.durationMs) {
        ctx.p.add(['faults', index, 'at'], `a sensor fault on ${id} that does not overlap faults[${earlier.index}] (${formatDuration(earlier.from)} to ${formatDuration(earlier.to)})`, formatDuration(f.atMs));
        ok = false;
        return;
      }
      if (earlier === undefined || earlier.to < f.atMs + f.durationMs) byGateway.set(id, { index, from: f.atMs, to: f.atMs + f.durationMs });
    }
  });
  return ok;
}

interface RolloutSection {
  release: 'good' | 'bad';
  at: string;
  waves?: string;
  selector?: string;
}

export function checkRollouts(value: unknown, ctx: RuleContext): RolloutStep[] | undefined {
  const { p } = ctx;
  if (!p.schema(rolloutsSchema, value, ['rollouts'])) return undefined;
  const out: RolloutStep[] = [];
  let ok = true;
  let lastAt = -1;
  (value as RolloutSection[]).forEach((r, i) => {
    const path = ['rollouts', i];
    const atMs = timeOf(r.at, [...path, 'at'], ctx);
    if (atMs !== undefined && atMs <= lastAt) {
      p.add([...path, 'at'], `a time after the rollout before it (${formatDuration(lastAt)}): rollouts are listed in the order they start`, describeValue(r.at));
      ok = false;
    }
    if (atMs !== undefined) lastAt = atMs;
    let waves;
    try {
      waves = parseWavesText(r.waves ?? SCENARIO_DEFAULTS.waves);
    } catch (err) {
      if (!(err instanceof WavesTextError)) throw err;
      p.add([...path, 'waves'], 'waves like "1, 50%, 100%" (a count, a cumulative share or a label selector each)', `${describeValue(r.waves)} (${err.message.replace(/^Waves(, |: )/, '')})`);
    }
    const selector = r.selector === undefined || r.selector.trim() === '' ? null : r.selector.trim();
    if (selector !== null && !selectorFits(selector, [...path, 'selector'], ctx)) ok = false;
    if (atMs === undefined || waves === undefined) {
      ok = false;
      return;
    }
    out.push({ release: r.release, atMs, waves, selector });
  });
  return ok ? out : undefined;
}

/** The selector parses and picks at least one gateway (a rollout to nobody proves nothing). */
function selectorFits(selector: string, path: Path, ctx: RuleContext): boolean {
  let parsed;
  try {
    parsed = parseSelector(selector, 'selector');
  } catch (err) {
    if (!(err instanceof LabelError)) throw err;
    ctx.p.add(path, 'a label selector like site=plant-1,group in (press,paint)', `${describeValue(selector)}: ${err.message.replace(/^selector: /, '')}`);
    return false;
  }
  if (ctx.groups !== undefined && !ctx.groups.some((g) => matches(parsed, fleetLabels(g)))) {
    ctx.p.add(path, 'a selector that picks at least one gateway (labels are each group\'s own plus site and group)', `${describeValue(selector)}, which picks none`);
    return false;
  }
  return true;
}

interface LearningSection {
  at: string;
  rounds?: number;
  byzantine?: unknown;
  strategy?: string;
}

/** The learning round: undefined when it has a problem. Its gateways are those with an MCU (the anomaly model learns from their sensors). */
export function checkLearning(value: unknown, ctx: RuleContext): LearningStep | undefined {
  const { p } = ctx;
  if (!p.schema(learningSchema, value, ['learning'])) return undefined;
  const l = value as LearningSection;
  let ok = true;
  const atMs = timeOf(l.at, ['learning', 'at'], ctx);
  const strategy = l.strategy ?? SCENARIO_DEFAULTS.learningStrategy;
  if (!AGGREGATION_STRATEGIES.has(strategy)) {
    p.add(['learning', 'strategy'], `an aggregation rule of the fleet: one of ${[...AGGREGATION_STRATEGIES.keys()].join(', ')}`, describeValue(strategy));
    ok = false;
  }
  const learnsWith = { what: 'with an mcu (a learning round trains the anomaly model on sensor data; only those take part)', lacking: 'without one', has: (g: GatewayGroup) => g.mcu !== null };
  const byzantine: GatewayTarget | undefined = l.byzantine === undefined ? { ids: [] } : targetOf(l.byzantine, ['learning', 'byzantine'], ctx, learnsWith);
  if (byzantine !== undefined && ctx.groups !== undefined) {
    const bad = targetIds({ gateways: ctx.groups }, byzantine).length;
    const learners = ctx.groups.filter((g) => g.mcu !== null).reduce((n, g) => n + g.count, 0);
    if (learners < 2 * bad + 1) {
      p.add(['learning', 'byzantine'], `fewer than half of the ${learners} gateways with an mcu (a robust rule cannot outvote a majority: ${bad} Byzantine need at least ${2 * bad + 1} gateways with an mcu)`, `${bad}`);
      ok = false;
    }
  }
  if (!ok || atMs === undefined || byzantine === undefined) return undefined;
  return { atMs, rounds: l.rounds ?? SCENARIO_DEFAULTS.learningRounds, byzantine, strategy };
}
