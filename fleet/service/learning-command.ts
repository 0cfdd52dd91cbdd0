import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { runningFleetApi, type ApiCall } from './fleet-access.js';
import { parseRolloutSelector, parseWave } from './rollout-command.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

export interface LearningCommandOptions {
  readonly data: string;
  readonly tokenFile?: string;
  readonly json: boolean;
}

export interface LearningCreateOptions extends LearningCommandOptions {
  /** The task definition, a JSON or YAML file (fleet/federated/README.md, "The task"). */
  readonly task: string;
  readonly rounds?: string;
  readonly intervalS?: string;
  readonly initialRelease?: string;
  readonly rolloutSelector: string;
  readonly rolloutWave: string[];
}

interface Task {
  id: string;
  state: string;
  reason: string | null;
  definition: { model: string; strategy: { type: string }; minClients: number; deadlineMs: number };
  schedule: { rounds: number | null; roundIntervalMs: number; rollout: unknown };
  globalModel: { name: string; release: number; version: string };
  nextRound: number;
  roundsClosed: number;
}

interface Round {
  round: number;
  outcome: string;
  sampled: number;
  participants: number;
  meanValidationLoss: number | null;
  epsilonSpent: number | null;
  released: { release: number } | null;
  releaseError: string | null;
  record: { rejections: Record<string, number>; outcome: { type: string; reason?: string; detail?: string } } | null;
}

async function api(o: LearningCommandOptions): Promise<ApiCall> {
  const dir = resolve(o.data);
  const call = await runningFleetApi(dir, o.tokenFile);
  if (call === undefined) throw new Error(`the fleet in ${dir} is not running: learning rounds are run by the running fleet (start it with edgewise fleet --data ${o.data})`);
  return call;
}

function fail(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  process.stderr.write(`edgewise fleet learning: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

const whole = (v: string | undefined, flag: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
};

/** One line per task, then (for status) one per round, newest first: what an operator looks at. */
function taskLine(t: Task): string {
  const rounds = t.schedule.rounds === null ? 'until stopped' : `${t.roundsClosed} of ${t.schedule.rounds} rounds`;
  return `task ${t.id}: ${t.state}${t.reason === null ? '' : ` (${t.reason})`}, model ${t.definition.model} from release ${t.globalModel.release}, ${t.definition.strategy.type}, ${rounds}, quorum ${t.definition.minClients}, deadline ${Math.round(t.definition.deadlineMs / 1000)} s${t.schedule.rollout === null ? '' : ', each model rolled out'}`;
}

function roundLine(r: Round): string {
  const rejected = Object.entries(r.record?.rejections ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  const outcome = r.outcome === 'no-model' ? `no model (${r.record?.outcome.reason ?? '?'})` : r.outcome;
  const release = r.released !== null ? `, released ${r.released.release}` : r.releaseError !== null ? `, not released: ${r.releaseError}` : '';
  return `  round ${r.round}: ${outcome}, ${r.participants} of ${r.sampled} drawn answered${r.meanValidationLoss === null ? '' : `, local validation loss ${r.meanValidationLoss.toPrecision(4)}`}${rejected.length === 0 ? '' : `, rejected: ${rejected.join(', ')}`}${r.epsilonSpent === null ? '' : `, epsilon ${r.epsilonSpent.toPrecision(3)}`}${release}`;
}

async function printStatus(call: ApiCall, id: string, asJson: boolean): Promise<void> {
  const task = await call<Task>('GET', `/v1/learning/tasks/${encodeURIComponent(id)}`);
  const { items } = await call<{ items: Round[] }>('GET', `/v1/learning/tasks/${encodeURIComponent(id)}/rounds?limit=20`);
  if (asJson) process.stdout.write(`${JSON.stringify({ task, rounds: items }, null, 2)}\n`);
  else process.stdout.write(`${[taskLine(task), ...items.map(roundLine)].join('\n')}\n`);
}

/** `edgewise fleet learning create --task FILE`: starts a federated task on the running fleet. */
export async function runLearningCreate(o: LearningCreateOptions): Promise<number> {
  try {
    const text = await readFile(o.task, 'utf8').catch((err: unknown) => {
      throw new UsageError(`--task ${o.task}: ${(err as Error).message}`);
    });
    let task: unknown;
    try {
      task = parse(text);
    } catch (err) {
      throw new UsageError(`--task ${o.task}: not JSON or YAML: ${(err as Error).message}`);
    }
    if (typeof task !== 'object' || task === null || Array.isArray(task)) throw new UsageError(`--task ${o.task}: expected a task definition (an object with id, model, strategy, ...)`);
    const rounds = whole(o.rounds, '--rounds', 1);
    const interval = o.intervalS === undefined ? undefined : Number(o.intervalS);
    if (interval !== undefined && !(interval >= 0)) throw new UsageError(`--interval-s: expected seconds >= 0, got ${JSON.stringify(o.intervalS)}`);
    const initialRelease = whole(o.initialRelease, '--initial-release', 1);
    const body = {
      task,
      ...(rounds === undefined ? {} : { rounds }),
      ...(interval === undefined ? {} : { roundIntervalMs: Math.round(interval * 1000) }),
      ...(initialRelease === undefined ? {} : { initialRelease }),
      ...(o.rolloutWave.length === 0 ? {} : { rollout: { selector: parseRolloutSelector(o.rolloutSelector), waves: o.rolloutWave.map(parseWave) } }),
    };
    const call = await api(o);
    const created = await call<Task>('POST', '/v1/learning/tasks', body);
    await printStatus(call, created.id, o.json);
    return EXIT_OK;
  } catch (err) {
    return fail(err);
  }
}

/** status and stop of one task; `list` without an id. */
export async function runLearningAction(action: 'status' | 'stop' | 'list', id: string | undefined, o: LearningCommandOptions): Promise<number> {
  try {
    const call = await api(o);
    if (action === 'list') {
      const { items } = await call<{ items: Task[] }>('GET', '/v1/learning/tasks');
      if (o.json) process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      else process.stdout.write(items.length === 0 ? 'no learning tasks\n' : `${items.map(taskLine).join('\n')}\n`);
      return EXIT_OK;
    }
    if (id === undefined) throw new UsageError(`${action} needs a task id (edgewise fleet learning list shows them)`);
    if (action === 'stop') await call<Task>('POST', `/v1/learning/tasks/${encodeURIComponent(id)}/stop`, {});
    await printStatus(call, id, o.json);
    return EXIT_OK;
  } catch (err) {
    return fail(err);
  }
}
