import { resolve } from 'node:path';
import { runningFleetApi, type ApiCall } from './fleet-access.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

export interface RolloutCommandOptions {
  readonly data: string;
  readonly tokenFile?: string;
  readonly json: boolean;
}

export interface RolloutCreateOptions extends RolloutCommandOptions {
  readonly target: string;
  readonly selector: string;
  readonly wave: string[];
  readonly name?: string;
  readonly maxFailure?: string;
  readonly maxRollback?: string;
  readonly maxTimeout?: string;
  readonly rate?: string;
  readonly window: string[];
  readonly timeoutMin?: string;
  readonly onGateFailure?: string;
  readonly shadow?: string;
  readonly shadowMaxS?: string;
  readonly minAgreement?: string;
  readonly minCorrelation?: string;
  readonly minClassAgreement?: string;
  readonly maxP99Ms?: string;
  readonly maxShadowFail?: string;
  readonly maxEvaluationDrop?: string;
}

interface Tally {
  total: number;
  notified: number;
  active: number;
  failed: number;
  rolledBack: number;
  timedOut: number;
  offline: number;
  pending: number;
  shadowing: number;
  shadowed: number;
  reverting: number;
  reverted: number;
}
interface Status {
  rollout: { id: string; name: string; target: string; state: string; reason: string | null; currentWave: number; phase: string; quality: unknown; waves: unknown[] };
  waves: Tally[];
  events: { ts: number; kind: string; detail: Record<string, unknown> }[];
}

/** `5` a count, `10%` a share, anything else a label selector. */
export function parseWave(text: string): Record<string, unknown> {
  if (/^\d+$/.test(text)) return { kind: 'count', count: Number(text) };
  const pct = /^(\d+(\.\d+)?)%$/.exec(text);
  if (pct !== null) return { kind: 'share', share: Number(pct[1]) / 100 };
  if (text.includes('=') || text.startsWith('!') || / in /.test(text)) return { kind: 'labels', selector: text };
  throw new UsageError(`--wave ${JSON.stringify(text)}: expected a count (5), a share (10%) or a label selector (site=plant-2)`);
}

/** `all`, `ids:a,b,c`, or a label selector. */
export function parseRolloutSelector(text: string): Record<string, unknown> {
  if (text === 'all') return { kind: 'all' };
  if (text.startsWith('ids:')) return { kind: 'ids', ids: text.slice(4).split(',').filter((s) => s !== '') };
  return { kind: 'labels', selector: text };
}

/** `SELECTOR@HH:MM-HH:MM@TIMEZONE`, e.g. `site=plant-2@22:00-05:00@Europe/Berlin`. */
export function parseWindow(text: string): Record<string, unknown> {
  const m = /^(.+)@(\d\d:\d\d)-(\d\d:\d\d)@(.+)$/.exec(text);
  if (m === null) throw new UsageError(`--window ${JSON.stringify(text)}: expected SELECTOR@HH:MM-HH:MM@TIMEZONE, like site=plant-2@22:00-05:00@Europe/Berlin`);
  return { selector: m[1], from: m[2], to: m[3], timeZone: m[4] };
}

async function api(o: RolloutCommandOptions): Promise<ApiCall> {
  const dir = resolve(o.data);
  const call = await runningFleetApi(dir, o.tokenFile);
  if (call === undefined) throw new Error(`the fleet in ${dir} is not running: rollouts are driven by the running fleet (start it with edgewise fleet --data ${o.data})`);
  return call;
}

function print(s: Status, asJson: boolean): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  const r = s.rollout;
  const phase = r.quality === null ? '' : ` (${r.phase === 'shadow' ? 'shadowing the release' : 'activating it'})`;
  const lines = [`rollout ${r.id} "${r.name}": ${r.state}${r.reason === null ? '' : ` (${r.reason})`}, wave ${r.currentWave + 1} of ${r.waves.length}${phase}, release ${r.target}`];
  s.waves.forEach((w, i) => {
    const shadow = `${r.quality === null ? '' : `${w.shadowing} shadowing, ${w.shadowed} shadowed, `}${w.reverting + w.reverted === 0 ? '' : `${w.reverting} switching back, ${w.reverted} switched back, `}`;
    lines.push(`  wave ${i + 1}: ${w.total} gateways: ${w.active} active, ${w.failed} failed, ${w.rolledBack} rolled back, ${w.timedOut} timed out, ${w.offline} offline, ${shadow}${w.notified - w.active - w.failed - w.rolledBack - w.timedOut} installing, ${w.pending} waiting`);
  });
  const gate = [...s.events].reverse().find((e) => e.kind === 'gate-failed');
  const rolledBack = [...s.events].reverse().find((e) => e.kind === 'rolled-back');
  if (rolledBack !== undefined && r.reason === 'rolled-back') {
    const d = rolledBack.detail as { reverted: number; failed: number; stillActiveOffline: number; offline: string[] };
    lines.push(`  rolled back: ${d.reverted} gateways switched back to their previous release, ${d.failed} could not${d.stillActiveOffline > 0 ? `, ${d.stillActiveOffline} offline still run it: ${d.offline.join(', ')}` : ''}`);
  }
  if (gate !== undefined && (r.reason === 'gate-failed' || r.reason === 'rolled-back')) {
    type Gate = { gate: string; count: number; share: number; limit: number; pass: boolean; detail?: { shadowed: number; failing: { gw: string; why: string[] }[] } };
    for (const g of (gate.detail['gates'] as Gate[] | undefined) ?? []) {
      if (g.pass) continue;
      if (g.gate === 'reached') lines.push('  gate failed: no gateway of the wave could be told (all offline); resume to go on without evidence');
      else if (g.gate === 'quality') {
        lines.push(`  gate failed: quality in shadow: ${g.count} of ${g.detail?.shadowed ?? '?'} gateways (${(g.share * 100).toFixed(1)}%) fell short, the limit is ${(g.limit * 100).toFixed(1)}%; the release was activated nowhere in this wave`);
        for (const f of g.detail?.failing ?? []) lines.push(`    ${f.gw}: ${f.why.join('; ')}`);
      } else lines.push(`  gate failed: ${g.gate} ${g.count} (${(g.share * 100).toFixed(1)}%) above the limit of ${(g.limit * 100).toFixed(1)}%`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function fail(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  process.stderr.write(`edgewise fleet rollout: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

const share = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (!(n >= 0 && n <= 1)) throw new UsageError(`${flag}: expected a share (0.05 or 5%), got ${JSON.stringify(v)}`);
  return n;
};

export async function runRolloutCreate(o: RolloutCreateOptions): Promise<number> {
  try {
    if (o.wave.length === 0) throw new UsageError('--wave: give at least one, e.g. --wave 5 --wave 10% --wave 100%');
    const gates = Object.fromEntries(
      Object.entries({ maxFailureShare: share(o.maxFailure, '--max-failure'), maxRollbackShare: share(o.maxRollback, '--max-rollback'), maxTimeoutShare: share(o.maxTimeout, '--max-timeout') }).filter(([, v]) => v !== undefined),
    );
    const num = (v: string | undefined, flag: string, off = false): number | null | undefined => {
      if (v === undefined) return undefined;
      if (off && v === 'off') return null;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new UsageError(`${flag}: expected a number${off ? ' or off' : ''}, got ${JSON.stringify(v)}`);
      return n;
    };
    const qualityFlags = {
      minAgreement: num(o.minAgreement, '--min-agreement'),
      minScoreCorrelation: num(o.minCorrelation, '--min-correlation', true),
      minClassAgreement: num(o.minClassAgreement, '--min-class-agreement', true),
      maxLatencyP99Ms: num(o.maxP99Ms, '--max-p99-ms'),
      maxFailShare: share(o.maxShadowFail, '--max-shadow-fail'),
      maxEvaluationDrop: num(o.maxEvaluationDrop, '--max-evaluation-drop'),
      maxMs: o.shadowMaxS === undefined ? undefined : Math.round((num(o.shadowMaxS, '--shadow-max-s') as number) * 1000),
    };
    const quality = Object.fromEntries(Object.entries({ inferences: num(o.shadow, '--shadow'), ...qualityFlags }).filter(([, v]) => v !== undefined));
    if (o.shadow === undefined && Object.values(qualityFlags).some((v) => v !== undefined)) throw new UsageError('--shadow N: quality gates are measured in shadow; say how many inferences each gateway runs the candidate for');
    if (o.onGateFailure !== undefined && o.onGateFailure !== 'pause' && o.onGateFailure !== 'rollback') throw new UsageError(`--on-gate-failure: expected pause or rollback, got ${JSON.stringify(o.onGateFailure)}`);
    const body = {
      target: o.target,
      ...(o.onGateFailure === undefined ? {} : { onGateFailure: o.onGateFailure }),
      ...(o.shadow === undefined ? {} : { quality }),
      selector: parseRolloutSelector(o.selector),
      waves: o.wave.map(parseWave),
      gates,
      ...(o.name === undefined ? {} : { name: o.name }),
      ...(o.rate === undefined ? {} : { ratePerMinute: Number(o.rate) }),
      ...(o.window.length === 0 ? {} : { windows: o.window.map(parseWindow) }),
      ...(o.timeoutMin === undefined ? {} : { gatewayTimeoutMs: Math.round(Number(o.timeoutMin) * 60_000) }),
    };
    print(await (await api(o))<Status>('POST', '/v1/rollouts', body), o.json);
    return EXIT_OK;
  } catch (err) {
    return fail(err);
  }
}

/** status, pause, resume, abort of one rollout; `list` without an id. */
export async function runRolloutAction(action: 'status' | 'pause' | 'resume' | 'abort' | 'list', id: string | undefined, o: RolloutCommandOptions): Promise<number> {
  try {
    const call = await api(o);
    if (action === 'list') {
      const { items } = await call<{ items: Status['rollout'][] }>('GET', '/v1/rollouts');
      if (o.json) process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      else process.stdout.write(items.length === 0 ? 'no rollouts\n' : `${items.map((r) => `${r.id}  ${r.state.padEnd(9)}  wave ${r.currentWave + 1}/${r.waves.length}  ${r.target}  "${r.name}"`).join('\n')}\n`);
      return EXIT_OK;
    }
    if (id === undefined) throw new UsageError(`${action} needs a rollout id (edgewise fleet rollout list shows them)`);
    print(action === 'status' ? await call<Status>('GET', `/v1/rollouts/${encodeURIComponent(id)}`) : await call<Status>('POST', `/v1/rollouts/${encodeURIComponent(id)}/${action}`), o.json);
    return EXIT_OK;
  } catch (err) {
    return fail(err);
  }
}
