import { encodeRoundAnnouncement, type GlobalModelRef } from '../../protocol/federated/announcement.js';
import { encodeRoundInvitation } from '../../protocol/federated/invitation.js';
import type { GatewaySecAggMessage } from '../../protocol/federated/secagg-message.js';
import type { UpdateMessage } from '../../protocol/federated/update-encoding.js';
import { learningTopics } from '../../protocol/topics.js';
import type { FleetMetrics } from '../../metrics.js';
import type { Selector } from '../../registry/labels.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import type { GlobalModel, RoundClose } from '../round/record.js';
import type { UpdateVerdict } from '../round/rejection.js';
import { FederatedTaskRounds } from '../round/task-rounds.js';
import { announcementMessage } from './announcement-message.js';
import type { FederatedStore, LearningTask } from './federated-store.js';
import { globalModelOf, nextModelFile, type GlobalModelPublisher, type ModelReleases } from './global-model.js';
import type { ServiceClock } from './service-clock.js';
import { secureRoundParams } from './secure-plan.js';
import { SecureRound } from './secure-round.js';
import type { FederatedRound } from '../round/round.js';
import type { RoundAnnouncement } from '../round/announcement.js';

/** Publishes the fleet's learning messages, QoS 1 (the embedded broker, or the external broker's client). */
export interface LearningTransport {
  publish(topic: string, payload: Uint8Array, options: { readonly retain: boolean }): Promise<void>;
}

export interface ServiceLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** A round made a model and it was released: the hook where starting a rollout of it will go. */
export type ModelReleasedHook = (r: { readonly task: string; readonly round: number; readonly release: GlobalModelRef }) => void | Promise<void>;

export interface TaskRunnerDeps {
  readonly store: FederatedStore;
  /** Every gateway that is not revoked, with its labels (the registry's query). */
  readonly gateways: () => Promise<readonly { readonly id: string; readonly labels: Readonly<Record<string, string>> }[]>;
  readonly matches: (selector: Selector, labels: Readonly<Record<string, string>>) => boolean;
  readonly releases: ModelReleases;
  readonly publisher: GlobalModelPublisher;
  readonly transport: LearningTransport;
  readonly clock: ServiceClock;
  readonly random: () => UniformSource;
  readonly nonce: () => string;
  /** 32 random bytes: the SecAgg+ graph seed of a large secure round. */
  readonly seed: () => Uint8Array;
  readonly metrics: FleetMetrics;
  readonly log: ServiceLog;
  readonly onModelReleased?: ModelReleasedHook;
  /** The runner ended by itself (finished, or stopped on an error): the service forgets it. */
  readonly onEnded: (taskId: string) => void;
}

interface Global {
  readonly ref: GlobalModelRef;
  readonly onnx: Uint8Array;
  readonly model: GlobalModel;
}

/**
 * Runs one active task's rounds over MQTT: opens a round (the eligible gateways from the
 * registry, the global model from the repository), publishes the retained announcement and
 * an invitation to each drawn gateway, takes updates, closes the round at the deadline or as
 * soon as it is due, stores the record, releases the new model, and opens the next round
 * after the task's interval until its rounds are done or its privacy budget is spent.
 *
 * The round logic (FederatedTaskRounds) is synchronous and in memory; every step that waits
 * (database, repository, broker) runs on one chain per task, in order, so a close never
 * overtakes the open it follows.
 */
export class TaskRunner {
  readonly id: string;
  private rounds: FederatedTaskRounds;
  private global: Global | null = null;
  /** Gateways known and not revoked when the round opened, less those revoked since. */
  private readonly active = new Set<string>();
  private cancelTimer: (() => void) | null = null;
  /** The open round's secure-aggregation protocol, when the task is secure. */
  private secure: SecureRound | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private roundsClosed: number;
  private nextRound: number;

  constructor(
    private task: LearningTask,
    private readonly selector: Selector,
    private readonly d: TaskRunnerDeps,
  ) {
    this.id = task.id;
    this.roundsClosed = task.roundsClosed;
    this.nextRound = task.nextRound;
    this.rounds = new FederatedTaskRounds({
      task: task.definition,
      now: d.clock.now,
      isActiveGateway: (id) => this.active.has(id),
      privacyHistory: task.privacyHistory,
      lastRound: task.nextRound - 1,
    });
  }

  /** Opens the first round (now). */
  start(): void {
    this.enqueue(() => this.open());
  }

  /** The registry revoked a gateway: its updates are refused from now on (`unknown-or-revoked-gateway`). */
  revoked(gatewayId: string): void {
    this.active.delete(gatewayId);
  }

  /** Takes one decoded update from `sender` (the topic's gateway) and closes the round if that made it due. */
  accept(sender: string, message: UpdateMessage): UpdateVerdict {
    const verdict = this.rounds.accept(sender, message);
    this.check();
    return verdict;
  }

  /** One secure-aggregation message from `sender` (the topic's gateway), for the open secure round. */
  acceptSecAgg(sender: string, message: GatewaySecAggMessage): void {
    if (this.secure === null) {
      this.d.metrics.learningSecAgg.inc({ step: message.step, outcome: 'rejected', reason: 'wrong-round' });
      this.d.log.warn({ component: 'federated', event: 'learning.secagg_refused', task: this.id, round: message.round, gatewayId: sender, step: message.step, reason: 'wrong-round', detail: 'no secure round of this task is collecting' }, 'secure-aggregation message refused');
      return;
    }
    this.secure.accept(sender, message);
  }

  /** The open round's number, or null between rounds. */
  get openRound(): number | null {
    return this.rounds.openRound?.number ?? null;
  }

  /**
   * Stops the task's rounds: no timer fires again; an open round is abandoned in the store and
   * the announcement is cleared (empty retained message: "no open round"). The task's state is
   * the caller's (stopped by an operator) or set here (finished).
   */
  async stop(): Promise<void> {
    this.halt();
    await this.enqueue(async () => {
      await this.d.store.abandonRound(this.id, this.d.clock.now());
      await this.clearAnnouncement();
    });
  }

  /** Stops timers without touching the store (the fleet shuts down: an open round is abandoned at the next start). */
  async close(): Promise<void> {
    this.halt();
    await this.chain;
  }

  private halt(): void {
    this.stopped = true;
    this.secure?.close();
    this.secure = null;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step).catch((err: unknown) => this.failed(err));
    this.chain = run;
    return run;
  }

  /** A step failed (the database or repository away, a model that does not fit): the task stops with the reason. */
  private async failed(err: unknown): Promise<void> {
    const reason = `round service: ${(err as Error).message}`;
    this.d.log.warn({ component: 'federated', event: 'learning.task_failed', task: this.id, code: (err as { code?: string }).code ?? 'E_FEDERATED', reason }, 'federated task stopped on an error');
    this.halt();
    this.d.onEnded(this.id);
    await this.d.store.transition(this.id, ['active'], 'stopped', reason, this.d.clock.now()).catch(() => undefined);
    await this.d.store.abandonRound(this.id, this.d.clock.now()).catch(() => undefined);
  }

  private async finish(reason: string): Promise<void> {
    this.halt();
    this.d.onEnded(this.id);
    await this.d.store.transition(this.id, ['active'], 'finished', reason, this.d.clock.now());
    await this.clearAnnouncement();
    this.d.log.info({ component: 'federated', event: 'learning.task_finished', task: this.id, reason }, 'federated task finished');
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { rounds } = this.task.schedule;
    if (rounds !== null && this.roundsClosed >= rounds) return this.finish(`${rounds} round${rounds === 1 ? '' : 's'} done`);
    const global = await this.loadGlobal();
    const all = await this.d.gateways();
    this.active.clear();
    for (const g of all) this.active.add(g.id);
    const eligible = all.filter((g) => this.d.matches(this.selector, g.labels)).map((g) => g.id);
    if (this.stopped) return;
    const number = this.nextRound;
    const opened = this.rounds.open({ round: number, globalModel: global.model, eligibleGateways: eligible, random: this.d.random() });
    if (opened.status === 'refused') return this.finish(opened.detail);
    this.nextRound = number + 1;
    const { announcement, invitations, round } = opened;
    await this.d.store.openRound({ task: this.id, round: number, openedMs: round.openedAtMs, deadlineMs: round.deadlineAtMs, globalModel: global.ref, sampled: invitations.length });
    await this.d.transport.publish(learningTopics.announcement(this.id), encodeRoundAnnouncement(announcementMessage(announcement, global.ref)), { retain: true });
    this.d.metrics.messagesOut.inc({ kind: 'learning-announcement' });
    for (const inv of invitations) {
      await this.d.transport.publish(learningTopics.invitation(inv.gateway), encodeRoundInvitation({ ...inv, nonce: this.d.nonce() }), { retain: false });
      this.d.metrics.messagesOut.inc({ kind: 'learning-invitation' });
    }
    this.d.log.info({ component: 'federated', event: 'learning.round_opened', task: this.id, round: number, eligible: eligible.length, sampled: invitations.length }, 'federated round opened');
    if (this.task.definition.secureAggregation) return this.openSecure(round, announcement, invitations.map((i) => i.gateway), global);
    this.armDeadline(round.deadlineAtMs);
    // A sample smaller than the quorum is due at once.
    this.check();
  }

  /**
   * A secure round: the protocol's steps run over MQTT (secure-round.ts) and close the round
   * with the survivors' sum. Fewer drawn gateways than the protocol or the quorum needs closes
   * it at once without a model.
   */
  private async openSecure(round: FederatedRound, a: RoundAnnouncement, sampled: readonly string[], global: Global): Promise<void> {
    const minClients = this.task.definition.minClients;
    if (sampled.length < Math.max(2, minClients)) {
      const detail = `${sampled.length} gateway${sampled.length === 1 ? '' : 's'} drawn; secure aggregation needs at least ${Math.max(2, minClients)} (2, and minClients ${minClients})`;
      const scale = a.sharedScale ?? 0;
      const summary = { scale, levels: 127, threshold: 0, graph: 'complete' as const, advertised: 0, dealt: 0, masked: 0, responded: 0, dropped: [], weighting: 'mean-over-survivors' as const, refusals: {}, rejectedShares: 0 };
      const c = this.rounds.closeSecure({ ok: false, reason: 'below-quorum', detail, survivors: [], closedBy: 'quorum-unreachable', closedAtMs: this.d.clock.now(), summary });
      return this.closed(c);
    }
    const vectorLength = global.model.parameters.reduce((n, t) => n + t.values.length, 0);
    const params = secureRoundParams({ task: this.id, round: round.number, sampled, minClients, vectorLength, seed: this.d.seed });
    const secure: SecureRound = new SecureRound({
      task: this.id,
      round: round.number,
      params,
      scale: a.sharedScale as number,
      openedAtMs: round.openedAtMs,
      deadlineAtMs: round.deadlineAtMs,
      transport: this.d.transport,
      clock: this.d.clock,
      metrics: this.d.metrics,
      log: this.d.log,
      onDone: (outcome) => {
        if (this.secure !== secure || this.stopped) return;
        this.secure = null;
        const c = this.rounds.closeSecure(outcome);
        void this.enqueue(() => this.closed(c));
      },
      onError: (err) => {
        if (this.secure !== secure) return;
        void this.enqueue(() => Promise.reject(err as Error));
      },
    });
    this.secure = secure;
    await secure.start();
  }

  private armDeadline(deadlineAtMs: number): void {
    this.cancelTimer?.();
    this.cancelTimer = this.d.clock.after(deadlineAtMs - this.d.clock.now(), () => {
      this.cancelTimer = null;
      // A timer may fire a little before the clock reads the deadline: look again then.
      if (!this.check() && !this.stopped && this.rounds.openRound !== null) this.armDeadline(deadlineAtMs);
    });
  }

  /** Closes the open round if it is due; true when it closed. */
  private check(): boolean {
    if (this.stopped) return false;
    const closed = this.rounds.closeIfDue();
    if (closed === null) return false;
    this.cancelTimer?.();
    this.cancelTimer = null;
    void this.enqueue(() => this.closed(closed));
    return true;
  }

  private async closed(c: RoundClose): Promise<void> {
    const { record } = c;
    let released: GlobalModelRef | null = null;
    let releaseError: string | null = null;
    let next: Global | null = null;
    if (c.model !== null && this.global !== null) {
      const calibration = record.calibration === null ? null : { ...record.calibration, measuredOnRelease: record.globalModelVersion };
      const onnx = nextModelFile(this.global.onnx, c.model.parameters, this.id, record.round, calibration);
      try {
        released = await this.d.publisher.publish({ task: this.id, round: record.round, model: this.task.definition.model, bytes: onnx });
        next = { ref: released, onnx, model: { version: released.release, parameters: c.model.parameters } };
      } catch (err) {
        releaseError = (err as Error).message;
        this.d.log.warn({ component: 'federated', event: 'learning.release_failed', task: this.id, round: record.round, code: (err as { code?: string }).code ?? 'E_RELEASE', reason: releaseError }, 'new global model not released; the next round starts from the previous one');
      }
    }
    await this.d.store.closeRound({ closedMs: record.closedAtMs, record, released, releaseError, privacyHistory: this.rounds.privacyHistory });
    this.roundsClosed += 1;
    this.d.metrics.learningRounds.inc({ outcome: record.outcome.type === 'model' ? 'model' : record.outcome.reason });
    if (record.privacy !== null) this.d.metrics.learningEpsilon.set({ task: this.id }, record.privacy.epsilon);
    this.d.log.info({ component: 'federated', event: 'learning.round_closed', task: this.id, round: record.round, closedBy: record.closedBy, participants: record.participants.length, outcome: record.outcome.type, release: released?.release ?? null }, 'federated round closed');
    if (next !== null && released !== null) {
      this.global = next;
      try {
        await this.d.onModelReleased?.({ task: this.id, round: record.round, release: released });
      } catch (err) {
        this.d.log.warn({ component: 'federated', event: 'learning.release_hook_failed', task: this.id, round: record.round, reason: (err as Error).message }, 'onModelReleased failed');
      }
    }
    if (this.stopped) return;
    const { rounds, roundIntervalMs } = this.task.schedule;
    if (rounds !== null && this.roundsClosed >= rounds) return this.finish(`${rounds} round${rounds === 1 ? '' : 's'} done`);
    // A round without a model (no gateway eligible, say) is not followed at once: the next waits
    // at least a deadline, so a task nobody can answer does not spin rounds as fast as the database allows.
    const pause = record.outcome.type === 'model' ? roundIntervalMs : Math.max(roundIntervalMs, this.task.definition.deadlineMs);
    this.cancelTimer = this.d.clock.after(pause, () => {
      this.cancelTimer = null;
      void this.enqueue(() => this.open());
    });
  }

  /** The global model the next round starts from: in memory after a round released one, else read from the repository. */
  private async loadGlobal(): Promise<Global> {
    if (this.global !== null) return this.global;
    const stored = (await this.d.store.getTask(this.id)) ?? this.task;
    this.task = stored;
    const ref = stored.globalModel;
    const onnx = await this.d.releases.read(ref);
    this.global = { ref, onnx, model: globalModelOf(ref, onnx) };
    return this.global;
  }

  private async clearAnnouncement(): Promise<void> {
    await this.d.transport.publish(learningTopics.announcement(this.id), new Uint8Array(0), { retain: true });
  }
}
