import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../fleet/protocol/federated/random-source.js';
import type { FloatTensor } from '../../fleet/protocol/federated/tensor.js';
import { ensureDelegatedKey, federatedRole } from '../../fleet/repo/delegated-key.js';
import { modelPathPattern, type Delegation } from '../../fleet/repo/delegation.js';
import type { LearningHost, LocalLearner } from '../../runtime/federated/learner.js';
import { PluginRegistry, type StagePlugin } from '../../runtime/pipeline/registry.js';
import { corruptDelta } from '../federated/byzantine.js';
import { groupIds, targetIds } from '../scenario/targets.js';
import type { LearningStep, Scenario } from '../scenario/types.js';
import { learningRoundFromApi, type LearningRoundObservation } from '../score/index.js';

/**
 * The scenario's federated learning round, played on the run's fleet: a task on the managed
 * anomaly model the MCU gateways run, created through the fleet's own API at its time; every
 * MCU gateway trains on the normal windows its stage kept and sends its update over MQTT; the
 * Byzantine ones (in-process gateways only) send a poisoned one; the fleet closes the round
 * with the scenario's rule, and the rounds as the API reports them are the scorecard's
 * observation.
 */

/**
 * How a Byzantine gateway corrupts its honest delta: negated and boosted a hundredfold (the
 * model-replacement push, aimed against what its data says). It leaves the gateway through its
 * real encoder, which clips it to the task's clipNorm like every update: the fleet accepts it as
 * well-formed, and only the robust rule can keep it from steering the model.
 */
export const BYZANTINE_ATTACK = 'sign-flip, boosted x100';

/** Local training per round: two epochs at this rate over the kept windows (3 to 90 ms per gateway in the tiny run). */
export const LEARNING_EPOCHS = 2;
export const LEARNING_RATE = 0.003;
/** Normal windows each learning stage keeps (the gateway's `learning.reservoirWindows`; the fleet model's 16 x 3 values, float64: 192 KiB per stream). */
export const LEARNING_RESERVOIR_WINDOWS = 512;
/** The L2 bound of one update (the task's clipNorm): far above an honest delta on this model (about 0.2 in the tiny run), so honest updates pass unclipped. */
export const LEARNING_CLIP_NORM = 10;
/** Longest a round waits for its updates; a shorter one when the run ends sooner (see `roundDeadlineMs`). */
export const MAX_ROUND_DEADLINE_MS = 30_000;
/** A round's deadline is at least this long (fetch the model, train, upload). */
export const MIN_ROUND_DEADLINE_MS = 8_000;
/** Time kept free at the run's end after the last round's deadline (closing, storing, releasing). */
const END_MARGIN_MS = 3_000;

/** The task id of a scenario's learning round (a valid learning task id: letters, digits, `.`, `_`, `-`). */
export function learningTaskId(scenarioName: string): string {
  return `sim-${scenarioName}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
}

/**
 * Each round's deadline: the time from the learning step to the run's end (less a margin)
 * shared by its rounds, at most MAX_ROUND_DEADLINE_MS, at least MIN_ROUND_DEADLINE_MS. A round
 * closes sooner when every invited gateway has answered. default.yaml: learning at 55 s of 90 s,
 * one round: 30 s (closes by 85 s at the latest).
 */
export function roundDeadlineMs(step: LearningStep, durationMs: number): number {
  const share = Math.floor((durationMs - step.atMs - END_MARGIN_MS) / step.rounds);
  return Math.max(MIN_ROUND_DEADLINE_MS, Math.min(MAX_ROUND_DEADLINE_MS, share));
}

/**
 * The scenario's rule as the fleet's task takes it, with a quorum that keeps the honest gateways
 * a majority of any round that makes a model: 2f + 1 updates for f Byzantine (at most the
 * learners); multi-Krum needs n > 2f + 2 (2f + 3, with f of at least 1); the trimmed mean trims
 * f per side at that quorum.
 */
export function taskStrategy(strategy: string, byzantine: number, learners: number): { strategy: { type: string; options?: Record<string, number> }; minClients: number } {
  const f = byzantine;
  if (strategy === 'multi-krum') {
    const k = Math.max(1, f);
    return { strategy: { type: strategy, options: { byzantineClients: k } }, minClients: 2 * k + 3 };
  }
  const minClients = Math.max(1, Math.min(learners, 2 * f + 1));
  if (strategy === 'trimmed-mean') {
    // floor(trimShare x minClients) >= max(f, 1): the fleet refuses a share that trims nothing at quorum.
    const trimShare = Math.min(0.49, (Math.max(f, 1) + 0.5) / Math.max(minClients, 3));
    return { strategy: { type: strategy, options: { trimShare: Math.round(trimShare * 1000) / 1000 } }, minClients: Math.max(minClients, 3) };
  }
  return { strategy: { type: strategy }, minClients };
}

/**
 * A Byzantine gateway's plug-ins: the same as `base`, but every stage that registers a learner
 * gets a LearningHost that wraps it, so each delta the stage trains comes back corrupted
 * (BYZANTINE_ATTACK). The gateway is otherwise untouched: real data, real training, the real
 * round client, encoder and uplink. Only for gateways in this process (a process gateway builds
 * its own registry). `poisoned` counts the deltas corrupted.
 */
export function byzantinePlugins(base: PluginRegistry, seed: number, poisoned: { count: number } = { count: 0 }): PluginRegistry {
  const random = seededRandom(seed);
  const poison = (learner: LocalLearner): LocalLearner => ({
    model: learner.model,
    train: async (request) => {
      const honest = await learner.train(request);
      const tensors: FloatTensor[] = corruptDelta('scale-100', corruptDelta('sign-flip', honest.tensors, random), random);
      poisoned.count += 1;
      return { ...honest, tensors };
    },
  });
  const host = (h: LearningHost): LearningHost => ({ reservoirWindows: h.reservoirWindows, heldOutShare: h.heldOutShare, register: (learner) => h.register(poison(learner)) });
  const out = new PluginRegistry();
  for (const t of base.types('source')) out.register(base.source(t) as NonNullable<ReturnType<PluginRegistry['source']>>);
  for (const t of base.types('stage')) {
    const p = base.stage(t) as StagePlugin;
    out.register({ ...p, create: (config, env) => p.create(config, env.learning === undefined ? env : { ...env, learning: host(env.learning) }) });
  }
  for (const n of base.types('backend')) out.register(base.backend(n) as NonNullable<ReturnType<PluginRegistry['backend']>>);
  return out;
}

/** What the play needs of the run. */
export interface LearningPlayOptions {
  readonly step: LearningStep;
  readonly scenarioName: string;
  /** The managed model the MCU gateways run (the run's repository has its releases). */
  readonly model: string;
  /** The gateways that learn (every gateway with an MCU) and the Byzantine ones among them. */
  readonly learners: readonly string[];
  readonly byzantine: readonly string[];
  /** The groups of the learners (the task's selector). */
  readonly learnerGroups: readonly string[];
  /** The fleet's data directory (its operator token, its delegated keys) and its local API URL. */
  readonly fleetDataDir: string;
  readonly apiUrl: string;
  readonly durationMs: number;
  /** The run's repository: given, the task's role is delegated the model so the fleet releases each round's model. */
  readonly repo?: { delegate(d: Delegation): Promise<void> } | null;
  /** Deltas each Byzantine gateway poisoned, said at the end. */
  readonly poisoned?: ReadonlyMap<string, { readonly count: number }>;
  readonly say: (line: string) => void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One scenario's learning: `start(runStartMs)` schedules the task at its time and follows its
 * rounds (a progress line as the task starts and as each round closes); `finish()` waits for the
 * last round (at most until its deadline and a little) and returns the rounds as observed.
 */
export class LearningPlay {
  readonly taskId: string;
  readonly deadlineMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly closed = new Map<number, LearningRoundObservation>();
  private createdAtMs: number | null = null;
  private error: string | null = null;
  private stopped = false;

  constructor(private readonly o: LearningPlayOptions) {
    this.taskId = learningTaskId(o.scenarioName);
    this.deadlineMs = roundDeadlineMs(o.step, o.durationMs);
  }

  /** The task definition POST /v1/learning/tasks takes. */
  taskBody(): Record<string, unknown> {
    const { strategy, minClients } = taskStrategy(this.o.step.strategy, this.o.byzantine.length, this.o.learners.length);
    return {
      task: {
        id: this.taskId,
        model: this.o.model,
        // The learners: the groups with an MCU (every gateway is labelled with its group).
        gatewaySelector: `group in (${this.o.learnerGroups.join(',')})`,
        strategy,
        localEpochs: LEARNING_EPOCHS,
        learningRate: LEARNING_RATE,
        clipNorm: LEARNING_CLIP_NORM,
        minClients,
        samplingShare: 1,
        deadlineMs: this.deadlineMs,
      },
      rounds: this.o.step.rounds,
    };
  }

  start(runStartMs: number): void {
    const delay = Math.max(0, runStartMs + this.o.step.atMs - Date.now());
    this.timer = setTimeout(() => {
      this.running = this.play(runStartMs).catch((err: unknown) => {
        // After stop() the fleet may be going away under a request: nothing to report then.
        if (this.stopped) return;
        this.error = (err as Error).message;
        this.o.say(`learning: ${this.error}`);
      });
    }, delay);
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const token = (await readFile(join(this.o.fleetDataDir, 'operator-token'), 'utf8')).trim();
    const res = await fetch(`${this.o.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  private async play(runStartMs: number): Promise<void> {
    const at = (): string => `${((Date.now() - runStartMs) / 1000).toFixed(1)} s`;
    if (this.o.repo != null) {
      // The operator's step: the task's role may sign releases of the model (the fleet keeps its key).
      const key = await ensureDelegatedKey(join(this.o.fleetDataDir, 'federated', this.taskId), federatedRole(this.taskId));
      await this.o.repo.delegate({ role: key.role, keys: [key.publicKey], paths: [modelPathPattern(this.o.model)] });
    }
    const body = this.taskBody();
    const created = await this.call('POST', '/v1/learning/tasks', body);
    if (created.status !== 201) throw new Error(`the fleet refused the learning task: ${JSON.stringify(created.body).slice(0, 300)}`);
    this.createdAtMs = Date.now();
    const t = body['task'] as { strategy: { type: string }; minClients: number };
    if (t.minClients > this.o.learners.length) this.o.say(`learning: the ${t.strategy.type} rule needs at least ${t.minClients} updates per round and only ${this.o.learners.length} gateways learn: no round can make a model`);
    this.o.say(`${at()}: learning task ${this.taskId} on ${this.o.model}: ${this.o.step.rounds} round(s) of ${this.o.learners.length} gateways (${this.o.learners.join(', ')}), ${t.strategy.type}, quorum ${t.minClients}, deadline ${this.deadlineMs / 1000} s${this.o.byzantine.length === 0 ? '' : `; Byzantine: ${this.o.byzantine.join(', ')} (${BYZANTINE_ATTACK})`}`);
    // Follow the rounds until the last one closed.
    while (!this.stopped && this.closed.size < this.o.step.rounds) {
      const list = await this.call('GET', `/v1/learning/tasks/${this.taskId}/rounds?limit=100`);
      const items = isObject(list.body) && Array.isArray(list.body['items']) ? (list.body['items'] as unknown[]) : [];
      for (const [i, item] of items.entries()) {
        const r = learningRoundFromApi(item, `rounds[${i}]`);
        if (r.outcome === 'open' || this.closed.has(r.round)) continue;
        this.closed.set(r.round, r);
        this.o.say(`${at()}: learning round ${r.round} closed: ${describeRound(r, this.o.learners, this.o.byzantine, item)}`);
      }
      const task = await this.call('GET', `/v1/learning/tasks/${this.taskId}`);
      if (isObject(task.body) && task.body['state'] !== 'active' && this.closed.size >= items.length) break;
      await sleep(250);
    }
  }

  /** Waits for the rounds to close (at most their deadlines from the task's creation and `graceMs`), then returns them as observed. */
  async finish(graceMs = 5_000): Promise<readonly LearningRoundObservation[]> {
    const created = this.createdAtMs;
    if (this.running !== undefined) {
      const limit = (created ?? Date.now()) + this.o.step.rounds * this.deadlineMs + graceMs;
      const timeout = new AbortController();
      await Promise.race([this.running, sleep(Math.max(0, limit - Date.now()), undefined, { signal: timeout.signal }).catch(() => undefined)]);
      timeout.abort();
    }
    this.stop();
    if (this.running === undefined && this.error === null) this.o.say('learning: the run ended before the learning round\'s time');
    else if (this.error === null && this.closed.size < this.o.step.rounds) this.o.say(`learning: ${this.closed.size} of ${this.o.step.rounds} rounds closed by the run's end`);
    for (const [id, p] of this.o.poisoned ?? []) this.o.say(`learning: ${id} (Byzantine) poisoned ${p.count} delta(s) it trained before sending (${BYZANTINE_ATTACK})`);
    return [...this.closed.values()].sort((a, b) => a.round - b.round);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

/** A closed round in one line: outcome, who took part, the rule, the loss, what was refused and what became of the Byzantine updates. */
function describeRound(r: LearningRoundObservation, learners: readonly string[], byzantine: readonly string[], item: unknown): string {
  const record = isObject(item) && isObject(item['record']) ? item['record'] : null;
  const released = isObject(item) && isObject(item['released']) ? ` released as ${String(item['released']['name'])} ${String(item['released']['release'])}` : '';
  const rejected = Object.entries(r.rejected).filter(([, n]) => n > 0);
  const parts = [
    `${r.outcome}${released} from ${r.participants} updates (${(r.participantIds ?? []).join(', ')})`,
    r.rule ?? 'rule unknown',
    r.meanValidationLoss === null ? 'no local validation loss' : `mean local validation loss ${r.meanValidationLoss.toPrecision(3)}`,
    rejected.length === 0 ? 'none rejected' : `rejected ${rejected.map(([k, n]) => `${n} ${k}`).join(', ')}`,
  ];
  if (record !== null && typeof record['closedBy'] === 'string') parts.push(`closed by ${record['closedBy']}`);
  // A learner runs the fleet model only once a rollout put it there, and learns only from windows it scored.
  const silent = learners.filter((id) => !(r.participantIds ?? []).includes(id));
  if (silent.length > 0) parts.push(`no update taken from ${silent.join(', ')}`);
  // How far the model moved (L2 norm of the applied delta) against how far one update may pull it (the clip norm).
  const outcome = record !== null && isObject(record['outcome']) ? record['outcome'] : null;
  if (outcome !== null && typeof outcome['deltaNorm'] === 'number') parts.push(`model moved ${outcome['deltaNorm'].toPrecision(3)} (one update may move it ${LEARNING_CLIP_NORM})`);
  if (record !== null && typeof record['clipped'] === 'number' && record['clipped'] > 0) parts.push(`${record['clipped']} clipped by the fleet`);
  for (const id of byzantine) {
    const fate = r.participantIds === null ? 'unknown' : !r.participantIds.includes(id) ? 'excluded' : r.selectedIds !== null ? (r.selectedIds.includes(id) ? 'chosen by Krum' : 'not chosen by Krum') : r.rule === 'median' || r.rule === 'trimmed-mean' ? `outvoted by the ${r.rule}` : `averaged in by ${r.rule ?? 'the rule'}`;
    parts.push(`${id} (Byzantine): ${fate}`);
  }
  return parts.join('; ');
}

/** Who takes part in a scenario's learning round: every gateway with an MCU; the Byzantine ones that can be made so (in-process). */
export interface LearningCast {
  readonly step: LearningStep;
  readonly learners: ReadonlySet<string>;
  readonly learnerGroups: readonly string[];
  /** Byzantine gateways in this process: their plug-ins poison their deltas (`byzantinePlugins`). */
  readonly byzantine: ReadonlySet<string>;
  /** Byzantine gateways of mode `process`: they cannot be made to send a poisoned update, and train honestly (said at the start). */
  readonly honestAfterAll: readonly string[];
  /** Deltas each Byzantine gateway poisoned (its `byzantinePlugins` counter). */
  readonly poisoned: ReadonlyMap<string, { count: number }>;
}

export function learningCast(scenario: Pick<Scenario, 'gateways' | 'learning'>): LearningCast | null {
  const step = scenario.learning;
  if (step === null) return null;
  const groups = scenario.gateways.filter((g) => g.mcu !== null);
  const mode = new Map(groups.flatMap((g) => groupIds(g).map((id) => [id, g.mode] as const)));
  const named = targetIds(scenario, step.byzantine);
  const inProcess = named.filter((id) => mode.get(id) === 'in-process');
  return {
    step,
    learners: new Set(mode.keys()),
    learnerGroups: groups.map((g) => g.group),
    byzantine: new Set(inProcess),
    honestAfterAll: named.filter((id) => mode.get(id) !== 'in-process'),
    poisoned: new Map(inProcess.map((id) => [id, { count: 0 }])),
  };
}
