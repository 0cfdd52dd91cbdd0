import { randomBytes } from 'node:crypto';
import type { ChangeFeed } from '../../events/change-feed.js';
import type { Queryable } from '../../db/open-database.js';
import type { FleetMetrics } from '../../metrics.js';
import { encodeChunkAck, type ChunkAckMessage } from '../../protocol/federated/chunk-ack.js';
import { ChunkReassembler, type ReassemblerOptions } from '../../protocol/federated/chunk-reassembler.js';
import { decodeChunk } from '../../protocol/federated/chunks.js';
import { FederatedError } from '../../protocol/federated/errors.js';
import { decodeGatewaySecAggMessage, MAX_SECAGG_VECTOR_LENGTH, type GatewaySecAggMessage } from '../../protocol/federated/secagg-message.js';
import { decodeUpdate, type UpdateMessage } from '../../protocol/federated/update-encoding.js';
import { learningTopics } from '../../protocol/topics.js';
import { matches } from '../../registry/labels.js';
import { checkRolloutRequest, type RolloutSpec } from '../../rollouts/rollouts.js';
import type { Registry } from '../../registry/registry.js';
import { InitializerError } from '../../../models/onnx/initializers.js';
import { cryptoUniformSource, type UniformSource } from '../privacy/uniform-source.js';
import { taskError } from '../round/errors.js';
import { parseFederatedTask } from '../round/task.js';
import { FederatedStore, type LearningRound, type LearningTask, type LearningTaskState, type TaskSchedule } from './federated-store.js';
import { globalModelOf, releaseRef, type GlobalModelPublisher, type ModelReleases } from './global-model.js';
import { serviceError } from './service-error.js';
import { systemClock, type ServiceClock } from './service-clock.js';
import { taskSelector } from './task-selector.js';
import { TaskRunner, type LearningTransport, type ModelReleasedHook, type ServiceLog } from './task-runner.js';

export interface FederatedServiceOptions {
  readonly sql: Queryable;
  readonly registry: Registry;
  readonly releases: ModelReleases;
  readonly publisher: GlobalModelPublisher;
  readonly transport: LearningTransport;
  readonly metrics: FleetMetrics;
  readonly clock?: ServiceClock;
  /** The sampling's and the noise's randomness, one source per round: `cryptoUniformSource()` unless a test seeds it. */
  readonly random?: () => UniformSource;
  readonly log?: ServiceLog;
  /** Called after a round's new global model is released: where starting a rollout of it will be wired. */
  readonly onModelReleased?: ModelReleasedHook;
  /** False: tasks are stored and served, but no rounds run here until lead(true) (an external broker: see the README). Default true. */
  readonly runRounds?: boolean;
  /** Bounds of the chunk reassembler (defaults: 256 updates at once, 2 per gateway, 64 MiB, 10 min TTL). */
  readonly reassembler?: Omit<ReassemblerOptions, 'now'>;
  /** Told of each task created, stopped or finished and each round opened or closed (the live stream). */
  readonly changes?: ChangeFeed;
}

/** A new task as the API takes it: the definition round/task.ts parses, the release to start from, and the schedule. */
export interface NewLearningTask {
  readonly task: unknown;
  /** The release of the task's model the first round starts from (default: the newest). */
  readonly initialRelease?: number;
  /** Rounds to run; null or absent: until stopped or the privacy budget is spent. */
  readonly rounds?: number | null;
  /** Pause between a round's close and the next opening (default 0). */
  readonly roundIntervalMs?: number;
  /** Roll each released model out with this plan (checked here; see fleet-service's onModelReleased). */
  readonly rollout?: RolloutSpec;
}

/** What the HTTP API asks of the round service. */
export interface LearningTasks {
  createTask(req: NewLearningTask): Promise<LearningTask>;
  listTasks(f: { state?: LearningTaskState; after?: string; limit: number }): Promise<LearningTask[]>;
  getTask(id: string): Promise<LearningTask>;
  stopTask(id: string): Promise<LearningTask>;
  listRounds(id: string, f: { before?: number; limit: number }): Promise<LearningRound[]>;
  getRound(id: string, round: number): Promise<LearningRound>;
}

/** Tasks running at once: each holds its global model and its open round's updates in memory. */
export const MAX_ACTIVE_TASKS = 64;

const SILENT: ServiceLog = { info: () => undefined, warn: () => undefined };

/**
 * The fleet's federated round service: runs every active task (task-runner.ts), takes the
 * gateways' update chunks from the broker, puts them together (one bounded ChunkReassembler
 * for all tasks), answers with chunk acks so a gateway can resume after a reconnect, and hands
 * each complete update to its task's round. State lives in the fleet database (federated-store.ts).
 *
 * A fleet restart abandons the round that was open (its updates were in memory) and each
 * active task opens a new round. With an external broker several instances share the store and
 * only the leader runs rounds (lead(), refresh()); a change of leader is such a restart.
 */
export class FederatedService implements LearningTasks {
  readonly store: FederatedStore;
  private readonly runners = new Map<string, TaskRunner>();
  private readonly reassembler: ChunkReassembler;
  private readonly clock: ServiceClock;
  private readonly log: ServiceLog;
  private readonly unsubscribe: () => void;
  private closed = false;
  /** Rounds run here (the instance that leads; always, with the embedded broker). */
  private leading: boolean;
  /** The open rounds a previous leader left were abandoned and the active tasks started. */
  private resumed = false;
  /** lead() and refresh(), one at a time. */
  private leadership: Promise<void> = Promise.resolve();
  /**
   * Tasks whose runner ended or was stopped here, while a listing may still show them active:
   * refresh() does not start them again. Pruned by refresh() (at most the active tasks).
   */
  private readonly ended = new Set<string>();

  private constructor(private readonly o: FederatedServiceOptions) {
    this.store = new FederatedStore(o.sql, o.changes);
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? SILENT;
    this.leading = o.runRounds !== false;
    this.reassembler = new ChunkReassembler({ ...o.reassembler, now: this.clock.now });
    this.unsubscribe = o.registry.onRevoked((id) => {
      for (const r of this.runners.values()) r.revoked(id);
    });
  }

  /** Abandons the rounds a previous run left open, and starts every active task. */
  static async start(o: FederatedServiceOptions): Promise<FederatedService> {
    const service = new FederatedService(o);
    if (service.leading) await service.resume();
    return service;
  }

  private async resume(): Promise<void> {
    const abandoned = await this.store.abandonOpenRounds(this.clock.now());
    if (abandoned > 0) {
      this.o.metrics.learningRounds.inc({ outcome: 'abandoned' }, abandoned);
      this.log.info({ component: 'federated', event: 'learning.rounds_abandoned', rounds: abandoned }, 'rounds left open by the previous run abandoned; their tasks open new rounds');
    }
    this.resumed = true;
    for (const t of await this.activeTasks()) this.run(t);
  }

  private async activeTasks(): Promise<LearningTask[]> {
    const all: LearningTask[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.store.listTasks({ state: 'active', limit: 100, ...(after === undefined ? {} : { after }) });
      all.push(...page);
      if (page.length < 100) return all;
      after = page.at(-1)?.id;
    }
  }

  /**
   * Starts (true) or stops (false) running rounds here: with an external broker only the
   * instance holding the lease runs them. Gaining it is a restart of the rounds (the ones a
   * previous leader left open are abandoned, each active task opens a new one); losing it stops
   * the runners' timers and leaves the store as it is, for the next leader. Tasks stay stored
   * and served either way.
   */
  lead(leader: boolean): Promise<void> {
    return this.serially(async () => {
      if (this.closed || leader === this.leading) return;
      this.leading = leader;
      this.resumed = false;
      if (leader) return this.resume();
      const runners = [...this.runners.values()];
      this.runners.clear();
      this.ended.clear();
      await Promise.all(runners.map((r) => r.close()));
    });
  }

  /**
   * On the leader, catches up with what other instances did through their API: starts the
   * active tasks that do not run here (created there) and stops the runners of tasks that are no
   * longer active (stopped there: the open round is abandoned, the announcement cleared).
   */
  refresh(): Promise<void> {
    return this.serially(async () => {
      if (this.closed || !this.leading) return;
      if (!this.resumed) return this.resume();
      const active = await this.activeTasks();
      const ids = new Set(active.map((t) => t.id));
      for (const id of this.ended) if (!ids.has(id)) this.ended.delete(id);
      for (const t of active) if (!this.ended.has(t.id)) this.run(t);
      for (const [id, runner] of this.runners) {
        // Not in the listing: created after it, or stopped. The store says which, now.
        if (ids.has(id) || (await this.store.getTask(id))?.state === 'active' || this.runners.get(id) !== runner) continue;
        this.runners.delete(id);
        await runner.stop();
      }
    });
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const run = this.leadership.then(step).catch((err: unknown) => {
      this.log.warn({ component: 'federated', event: 'learning.leadership_failed', code: (err as { code?: string }).code ?? 'E_DB', reason: (err as Error).message }, 'starting or stopping rounds failed; tried again at the next refresh');
    });
    this.leadership = run;
    return run;
  }

  async createTask(req: NewLearningTask): Promise<LearningTask> {
    const definition = parseFederatedTask(req.task);
    taskSelector(definition.gatewaySelector);
    if (definition.secureAggregation && definition.privacy !== null) {
      throw taskError(
        'privacy',
        'differential privacy is not run with secure aggregation: the fleet cannot clip what it never sees, and rounding to the shared int8 scale can push a clipped update\'s norm past the clip norm the accountant assumes (up to clipNorm x (1 + sqrt(parameters) / 127)); create the task without one of them',
      );
    }
    if (req.rollout !== undefined) checkRolloutRequest(req.rollout);
    const schedule: TaskSchedule = { rounds: req.rounds ?? null, roundIntervalMs: req.roundIntervalMs ?? 0, rollout: req.rollout ?? null };
    if ((await this.store.listTasks({ state: 'active', limit: MAX_ACTIVE_TASKS })).length >= MAX_ACTIVE_TASKS) {
      throw serviceError('E_LEARNING_TASK_STATE', `${MAX_ACTIVE_TASKS} tasks are active already, the most this fleet runs at once; stop one first`);
    }
    const releases = (await this.o.releases.list()).filter((r) => r.model === definition.model);
    const release = req.initialRelease === undefined ? releases[0] : releases.find((r) => r.release === req.initialRelease);
    if (release === undefined) {
      const known = releases.map((r) => r.release).join(', ');
      throw serviceError('E_RELEASE_UNKNOWN', `model ${definition.model} has ${req.initialRelease === undefined ? 'no release' : `no release ${req.initialRelease}`} in the repository${known === '' ? '' : ` (releases: ${known})`}; publish one first`);
    }
    const ref = releaseRef(release);
    try {
      const model = globalModelOf(ref, await this.o.releases.read(ref));
      const parameters = model.parameters.reduce((n, t) => n + t.values.length, 0);
      if (definition.secureAggregation && parameters > MAX_SECAGG_VECTOR_LENGTH) {
        throw taskError('secureAggregation', `${ref.name} release ${ref.release} has ${parameters} parameters; a secure round's masked input (4 bytes each) is one MQTT message of at most ${MAX_SECAGG_VECTOR_LENGTH} words: train it without secure aggregation`);
      }
    } catch (err) {
      if (err instanceof InitializerError) throw serviceError('E_RELEASE_UNKNOWN', `${ref.name} release ${ref.release} cannot be trained: ${err.message}`);
      throw err;
    }
    if (!(await this.store.insertTask({ id: definition.id, definition, schedule, globalModel: ref, nowMs: this.clock.now() }))) {
      throw serviceError('E_LEARNING_TASK_EXISTS', `task ${definition.id} exists already; choose another id`);
    }
    const todo = await this.o.publisher.prepare?.(definition.id, definition.model);
    if (todo !== undefined && todo !== null) this.o.log?.warn({ component: 'federated', event: 'learning.not_delegated', task: definition.id, code: 'E_RELEASE_UNSIGNED' }, todo);
    const task = await this.getTask(definition.id);
    this.run(task);
    return task;
  }

  listTasks(f: { state?: LearningTaskState; after?: string; limit: number }): Promise<LearningTask[]> {
    return this.store.listTasks(f);
  }

  async getTask(id: string): Promise<LearningTask> {
    const t = await this.store.getTask(id);
    if (t === undefined) throw serviceError('E_LEARNING_TASK_UNKNOWN', `task ${id} does not exist; GET /v1/learning/tasks lists them`);
    return t;
  }

  /** Stops an active task: its open round is abandoned and its announcement cleared. */
  async stopTask(id: string): Promise<LearningTask> {
    const t = await this.getTask(id);
    if (!(await this.store.transition(id, ['active'], 'stopped', 'stopped by an operator', this.clock.now()))) {
      throw serviceError('E_LEARNING_TASK_STATE', `task ${id} is ${t.state}${t.reason === null ? '' : ` (${t.reason})`}; only an active task can be stopped`);
    }
    const runner = this.runners.get(id);
    this.runners.delete(id);
    // A refresh() that listed it before the transition must not start it again.
    if (this.leading) this.ended.add(id);
    await runner?.stop();
    return this.getTask(id);
  }

  async listRounds(id: string, f: { before?: number; limit: number }): Promise<LearningRound[]> {
    await this.getTask(id);
    return this.store.listRounds(id, f);
  }

  async getRound(id: string, n: number): Promise<LearningRound> {
    const r = await this.store.getRound(id, n);
    if (r === undefined) {
      await this.getTask(id);
      throw serviceError('E_LEARNING_TASK_UNKNOWN', `task ${id} has no round ${n}; GET /v1/learning/tasks/${id}/rounds lists them`);
    }
    return r;
  }

  /** The open round of a running task (null between rounds or when it does not run here). */
  openRound(id: string): number | null {
    return this.runners.get(id)?.openRound ?? null;
  }

  /**
   * One `learning-update` chunk from `gatewayId` (the topic's gateway, made authentic by the
   * broker's ACL). Never throws: a bad chunk or update is counted and dropped, and the service
   * keeps serving. Acks (on the gateway's learning-ack topic) go out when the update is
   * complete, when a chunk came again (a resend: the gateway learns what is still missing),
   * when the last chunk of a pass arrived with others missing, and when the whole failed its
   * checksum (`unknown`: send everything again).
   */
  async acceptChunk(gatewayId: string, payload: Uint8Array): Promise<void> {
    if (this.closed) return;
    try {
      await this.chunk(gatewayId, payload);
    } catch (err) {
      // A fault of ours, not of the gateway's bytes: logged, and the gateway's publish still acknowledged (it would only send the same again).
      this.log.warn({ component: 'federated', event: 'learning.chunk_failed', gatewayId, code: (err as { code?: string }).code ?? 'E_FEDERATED', reason: (err as Error).message }, 'update chunk could not be handled');
    }
  }

  private async chunk(gatewayId: string, payload: Uint8Array): Promise<void> {
    let id: string;
    let sha: string;
    let last: boolean;
    try {
      const chunk = decodeChunk(payload);
      id = chunk.updateId;
      sha = Buffer.from(chunk.sha256).toString('hex');
      last = chunk.index === chunk.count - 1;
    } catch {
      this.o.metrics.learningChunks.inc({ result: 'malformed' });
      return;
    }
    let bytes: Uint8Array | null = null;
    try {
      const result = this.reassembler.accept(gatewayId, payload);
      this.o.metrics.learningChunks.inc({ result: result.status });
      if (result.status === 'complete') bytes = result.bytes;
      if (result.status !== 'partial' || last) await this.ack(gatewayId, id, sha);
    } catch (err) {
      if (!(err instanceof FederatedError)) throw err;
      const result = err.code === 'E_FEDERATED_CAPACITY' ? 'capacity' : err.code === 'E_FEDERATED_CHECKSUM' ? 'checksum' : 'malformed';
      this.o.metrics.learningChunks.inc({ result });
      this.log.warn({ component: 'federated', event: 'learning.chunk_refused', gatewayId, code: err.code, reason: err.message }, 'update chunk refused');
      if (result === 'checksum') await this.ack(gatewayId, id, sha);
      return;
    }
    if (bytes !== null) this.update(gatewayId, bytes);
  }

  /**
   * One secure-aggregation message on `edgewise/v1/gw/{gatewayId}/learning-secagg` (the topic's
   * gateway, made authentic by the broker's ACL), for its task's open secure round. Never
   * throws: a message that does not decode, or one for a task not running here, is counted and
   * logged (step, reason; never its content) and dropped.
   */
  async acceptSecAgg(gatewayId: string, payload: Uint8Array): Promise<void> {
    if (this.closed) return;
    let message: GatewaySecAggMessage;
    try {
      message = decodeGatewaySecAggMessage(payload);
    } catch (err) {
      this.o.metrics.learningSecAgg.inc({ step: '', outcome: 'rejected', reason: 'malformed' });
      this.log.warn({ component: 'federated', event: 'learning.secagg_refused', gatewayId, reason: 'malformed', code: (err as { code?: string }).code ?? 'E_FEDERATED_SECAGG', detail: (err as Error).message }, 'secure-aggregation message refused');
      return;
    }
    const runner = this.runners.get(message.task);
    if (runner === undefined) {
      this.o.metrics.learningSecAgg.inc({ step: message.step, outcome: 'rejected', reason: 'unknown-task' });
      this.log.warn({ component: 'federated', event: 'learning.secagg_refused', gatewayId, task: message.task, step: message.step, reason: 'unknown-task' }, 'secure-aggregation message for a task that is not running');
      return;
    }
    try {
      runner.acceptSecAgg(gatewayId, message);
    } catch (err) {
      // A fault of ours, not of the gateway's message: logged, and the service keeps serving.
      this.log.warn({ component: 'federated', event: 'learning.secagg_failed', gatewayId, task: message.task, step: message.step, code: (err as { code?: string }).code ?? 'E_FEDERATED', reason: (err as Error).message }, 'secure-aggregation message could not be handled');
    }
  }

  /** Stops every task's timers (their state stays: the next start continues them). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((r) => r.close()));
  }

  private update(gatewayId: string, bytes: Uint8Array): void {
    let message: UpdateMessage;
    try {
      message = decodeUpdate(bytes);
    } catch (err) {
      // Without a decoded message there is no task to count it against: the metric and the log say it.
      this.o.metrics.learningUpdates.inc({ outcome: 'rejected', reason: 'malformed' });
      this.log.warn({ component: 'federated', event: 'learning.update_rejected', gatewayId, reason: 'malformed', detail: (err as Error).message }, 'federated update refused');
      return;
    }
    const runner = this.runners.get(message.task);
    if (runner === undefined) {
      this.o.metrics.learningUpdates.inc({ outcome: 'rejected', reason: 'unknown-task' });
      this.log.warn({ component: 'federated', event: 'learning.update_rejected', gatewayId, task: message.task, reason: 'unknown-task' }, 'federated update for a task that is not running');
      return;
    }
    const verdict = runner.accept(gatewayId, message);
    if (verdict.status === 'rejected') {
      this.o.metrics.learningUpdates.inc({ outcome: 'rejected', reason: verdict.reason });
      this.log.warn({ component: 'federated', event: 'learning.update_rejected', gatewayId, task: message.task, round: message.round, reason: verdict.reason, detail: verdict.detail }, 'federated update refused');
    } else {
      this.o.metrics.learningUpdates.inc({ outcome: verdict.status, reason: '' });
    }
  }

  private async ack(gatewayId: string, id: string, sha: string): Promise<void> {
    const m = this.reassembler.missing(gatewayId, id, sha);
    const ack: ChunkAckMessage =
      m.state === 'assembling' && m.missing.length > 0 ? { v: 1, id, sha, status: 'missing', missing: m.missing } : { v: 1, id, sha, status: m.state === 'complete' ? 'complete' : 'unknown', missing: [] };
    try {
      await this.o.transport.publish(learningTopics.chunkAck(gatewayId), encodeChunkAck(ack), { retain: false });
      this.o.metrics.messagesOut.inc({ kind: 'learning-ack' });
    } catch (err) {
      this.log.warn({ component: 'federated', event: 'learning.ack_failed', gatewayId, reason: (err as Error).message }, 'chunk ack not sent');
    }
  }

  private run(task: LearningTask): void {
    if (this.closed || this.runners.has(task.id) || !this.leading) return;
    const runner = new TaskRunner(task, taskSelector(task.definition.gatewaySelector), {
      store: this.store,
      gateways: () => this.o.registry.store.allActive(),
      matches,
      releases: this.o.releases,
      publisher: this.o.publisher,
      transport: this.o.transport,
      clock: this.clock,
      random: this.o.random ?? cryptoUniformSource,
      nonce: () => randomBytes(16).toString('hex'),
      seed: () => new Uint8Array(randomBytes(32)),
      metrics: this.o.metrics,
      log: this.log,
      ...(this.o.onModelReleased === undefined ? {} : { onModelReleased: this.o.onModelReleased }),
      onEnded: (id) => {
        if (this.runners.get(id) !== runner) return;
        this.runners.delete(id);
        this.ended.add(id);
      },
    });
    this.runners.set(task.id, runner);
    runner.start();
  }
}
