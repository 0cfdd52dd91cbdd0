import type { TensorLayout } from '../../protocol/federated/tensor.js';
import type { UpdateMessage } from '../../protocol/federated/update-encoding.js';
import type { PrivacyBudget } from '../privacy/privacy-budget.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import type { ConfiguredStrategy } from '../strategies/registry.js';
import { aggregateRound } from './aggregate-round.js';
import { roundError } from './errors.js';
import type { LateBuffer } from './late-buffer.js';
import type { OpenRoundParams } from './open-round.js';
import { pooledCalibration, validationLossSummary, type ClosedBy, type GlobalModel, type NoModelReason, type RoundClose, type RoundRecord } from './record.js';
import { aggregateSecureSum, type SecureSumOutcome } from './secure-sum.js';
import { emptyRejectionCounts, rejected, type RejectionCounts, type RejectionReason, type UpdateVerdict } from './rejection.js';
import type { Roster } from './roster.js';
import { taskAggregation, type FederatedTask } from './task.js';
import { checkUpdateContent, type CheckedUpdate } from './update-check.js';
import { checkOrigin } from './update-origin.js';

/**
 * One round of a task, from open to close, as a state machine over an injected clock: it takes
 * updates for its number, rejects and counts what fails a check, and is due to close when the
 * deadline passes, when every drawn gateway has answered, or when too few are left to reach
 * the quorum. It never waits past the deadline: an update that comes after is late, whoever
 * sent it. Closing aggregates (aggregate-round.ts) and returns the record.
 *
 * Alone, a round drops late updates (`late-dropped`); `FederatedTaskRounds` routes them to the
 * task's late policy and handles updates for other rounds.
 */
export class FederatedRound {
  readonly task: FederatedTask;
  readonly number: number;
  readonly globalModel: GlobalModel;
  readonly layout: readonly TensorLayout[];
  readonly openedAtMs: number;
  readonly deadlineAtMs: number;
  readonly eligible: number;
  readonly roster: Roster;
  private readonly now: () => number;
  private readonly isActiveGateway: (gatewayId: string) => boolean;
  private readonly random: UniformSource;
  private readonly budget: PrivacyBudget | null;
  private readonly aggregation: ConfiguredStrategy;
  private readonly accepted = new Map<string, CheckedUpdate>();
  private readonly rejections: RejectionCounts = emptyRejectionCounts();
  /** Drawn gateways that answered before the round was due, and when the last of them did. */
  private answeredInTime = 0;
  private settledAtMs: number;
  private lateBuffered = 0;
  private closed = false;

  constructor(p: OpenRoundParams, layout: readonly TensorLayout[], eligible: number, roster: Roster, budget: PrivacyBudget | null) {
    this.task = p.task;
    this.number = p.round;
    this.globalModel = p.globalModel;
    this.layout = layout;
    this.eligible = eligible;
    this.roster = roster;
    this.now = p.now;
    this.isActiveGateway = p.isActiveGateway;
    this.random = p.random;
    this.budget = budget;
    this.aggregation = taskAggregation(p.task);
    this.openedAtMs = p.now();
    if (!Number.isFinite(this.openedAtMs)) throw roundError('now', `the clock returned ${this.openedAtMs}`);
    this.deadlineAtMs = this.openedAtMs + p.task.deadlineMs;
    this.settledAtMs = this.openedAtMs;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Why the round is due to close now, or null while it still waits. */
  dueReason(): ClosedBy | null {
    const waiting = this.roster.sampled.size - this.answeredInTime;
    if (this.accepted.size + waiting < this.task.minClients) return 'quorum-unreachable';
    if (waiting === 0) return 'all-answered';
    if (this.now() >= this.deadlineAtMs) return 'deadline';
    return null;
  }

  /**
   * Takes one decoded update. `sender` is the gateway the MQTT topic names. Every refusal is
   * counted under its reason; the verdict says which.
   */
  accept(sender: string, message: UpdateMessage): UpdateVerdict {
    if (this.closed) throw roundError('round', `round ${this.number} of task "${this.task.id}" is closed`);
    const origin = checkOrigin(sender, message, this.task.id, this.isActiveGateway);
    if (origin !== null) return this.count(origin);
    if (this.task.secureAggregation) return this.count(rejected('malformed', `task "${this.task.id}" runs secure aggregation: a plain update is refused (its masked input goes on learning-secagg)`));
    if (message.round > this.number) return this.count(rejected('future-round', `round ${message.round}, the open round is ${this.number}`));
    if (message.round < this.number) return this.count(rejected('stale-round', `round ${message.round}, the open round is ${this.number}`));
    const membership = this.checkMembership(sender);
    if (membership !== null) return this.count(membership);
    if (this.dueReason() !== null) {
      this.roster.markAnswered(sender);
      return this.count(rejected('late-dropped', `round ${this.number} closed at ${this.closedAtMs(this.dueReason() as ClosedBy)}`));
    }
    return this.take(sender, message);
  }

  /** Not drawn, or answered already: null when the gateway may answer this round. */
  checkMembership(sender: string): UpdateVerdict | null {
    if (!this.roster.has(sender)) return rejected('not-sampled', `"${sender}" was not drawn into round ${this.number}`);
    if (this.roster.hasAnswered(sender)) return rejected('duplicate', `"${sender}" answered round ${this.number} already`);
    return null;
  }

  /** Counts a refusal decided outside the round (an update for another round, or one that failed to decode). */
  countRejection(reason: RejectionReason, times = 1): void {
    this.rejections[reason] += times;
  }

  /** Counts a late update kept by the task's buffer since the previous close. */
  countLateBuffered(): void {
    this.lateBuffered += 1;
  }

  /** The accepted updates, by gateway. */
  get acceptedCount(): number {
    return this.accepted.size;
  }

  /**
   * Closes the round if it is due: aggregates (with the buffered late updates of earlier rounds,
   * when the task buffers them) and returns the record; null while it still waits.
   */
  closeIfDue(lateBuffer: LateBuffer | null = null): RoundClose | null {
    if (this.closed) return null;
    const closedBy = this.dueReason();
    if (closedBy === null) return null;
    this.closed = true;
    const closedAtMs = this.closedAtMs(closedBy);
    const fresh = [...this.accepted.values()].sort((a, b) => (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
    const expired = lateBuffer?.expire(this.number) ?? 0;
    const base = {
      task: this.task.id,
      round: this.number,
      globalModelVersion: this.globalModel.version,
      openedAtMs: this.openedAtMs,
      closedAtMs,
      durationMs: closedAtMs - this.openedAtMs,
      closedBy,
      eligible: this.eligible,
      sampled: this.roster.sampled.size,
      participants: fresh.map((u) => u.gateway),
      rejections: { ...this.rejections },
      validationLoss: validationLossSummary(fresh),
      // Under differential privacy no un-noised statistic of the updates may leave the fleet,
      // and this one would, inside the released model: a private task pools none.
      calibration: this.task.privacy === null ? pooledCalibration(fresh) : null,
    };
    const strategy = { type: this.task.strategy.type, options: this.task.strategy.options };
    const combination = this.task.privacy === null ? ('rule' as const) : ('dp-noised-sum' as const);
    if (fresh.length < this.task.minClients) {
      const detail = `${fresh.length} good update${fresh.length === 1 ? '' : 's'} of ${this.roster.sampled.size} drawn gateway${this.roster.sampled.size === 1 ? '' : 's'}, minClients is ${this.task.minClients}`;
      const record: RoundRecord = { ...base, clipped: 0, late: { buffered: this.lateBuffered, applied: [], expired }, strategy: { ...strategy, combination, selected: null }, privacy: null, outcome: { type: 'no-model', reason: 'below-quorum', detail } };
      return { record, model: null };
    }
    const stale = lateBuffer?.dueFor(this.number) ?? [];
    const result = aggregateRound({ task: this.task, aggregation: this.aggregation, globalModel: this.globalModel, fresh, stale, privacy: this.budget === null ? null : { budget: this.budget, random: this.random } });
    if (!result.ok) {
      const record: RoundRecord = { ...base, clipped: result.clipped, late: { buffered: this.lateBuffered, applied: [], expired }, strategy: { ...strategy, combination: result.combination, selected: null }, privacy: null, outcome: { type: 'no-model', reason: result.reason, detail: result.detail } };
      return { record, model: null };
    }
    lateBuffer?.commit(this.number);
    const applied = stale.map((s) => ({ gateway: s.update.gateway, round: s.update.round, staleness: s.staleness, weight: s.weight }));
    const record: RoundRecord = {
      ...base,
      clipped: result.clipped,
      late: { buffered: this.lateBuffered, applied, expired },
      strategy: { ...strategy, combination: result.combination, selected: result.selected },
      privacy: result.privacy,
      outcome: { type: 'model', deltaNorm: result.deltaNorm },
    };
    return { record, model: { basedOnVersion: this.globalModel.version, parameters: result.parameters } };
  }

  /**
   * Closes a secure round with what the secure-aggregation protocol gave (the round service
   * drives its steps): the unmasked sum of the survivors' quantised deltas, or why there is
   * none. The record lists the survivors as participants; it holds no update (the fleet never
   * had one) and no validation loss (gateways do not send it in a secure round).
   */
  closeSecure(outcome: SecureSumOutcome): RoundClose {
    if (this.closed) throw roundError('round', `round ${this.number} of task "${this.task.id}" is closed`);
    if (!this.task.secureAggregation) throw roundError('round', `task "${this.task.id}" does not run secure aggregation`);
    this.closed = true;
    const base = {
      task: this.task.id,
      round: this.number,
      globalModelVersion: this.globalModel.version,
      openedAtMs: this.openedAtMs,
      closedAtMs: outcome.closedAtMs,
      durationMs: outcome.closedAtMs - this.openedAtMs,
      closedBy: outcome.closedBy,
      eligible: this.eligible,
      sampled: this.roster.sampled.size,
      participants: [...outcome.survivors].sort(),
      rejections: { ...this.rejections },
      validationLoss: validationLossSummary([]),
      calibration: null,
      clipped: 0,
      late: { buffered: 0, applied: [], expired: 0 },
      privacy: null,
      secureAggregation: outcome.summary,
    };
    const strategy = { type: this.task.strategy.type, options: this.task.strategy.options, combination: 'rule' as const, selected: null };
    const fail = (reason: NoModelReason, detail: string): RoundClose => ({ record: { ...base, strategy, outcome: { type: 'no-model', reason, detail } }, model: null });
    if (!outcome.ok) return fail(outcome.reason, outcome.detail);
    if (outcome.survivors.length < this.task.minClients) return fail('below-quorum', `${outcome.survivors.length} masked inputs in the sum, minClients is ${this.task.minClients}`);
    const result = aggregateSecureSum({ globalModel: this.globalModel, sum: outcome.sum, survivors: outcome.survivors.length, scale: outcome.summary.scale });
    if (!result.ok) return fail(result.reason, result.detail);
    return { record: { ...base, strategy, outcome: { type: 'model', deltaNorm: result.deltaNorm } }, model: { basedOnVersion: this.globalModel.version, parameters: result.parameters } };
  }

  private take(sender: string, message: UpdateMessage): UpdateVerdict {
    this.roster.markAnswered(sender);
    this.answeredInTime += 1;
    this.settledAtMs = this.now();
    const check = checkUpdateContent(message, this.layout, this.task.clipNorm);
    if (!check.ok) return this.count(rejected(check.reason, check.detail));
    this.accepted.set(sender, check.update);
    return { status: 'accepted', round: this.number };
  }

  private count(verdict: UpdateVerdict): UpdateVerdict {
    if (verdict.status === 'rejected') this.rejections[verdict.reason] += 1;
    return verdict;
  }

  private closedAtMs(closedBy: ClosedBy): number {
    return closedBy === 'deadline' ? this.deadlineAtMs : this.settledAtMs;
  }
}
