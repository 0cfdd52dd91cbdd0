import { FederatedError } from '../../protocol/federated/errors.js';
import type { TensorLayout } from '../../protocol/federated/tensor.js';
import { decodeUpdate, type UpdateMessage } from '../../protocol/federated/update-encoding.js';
import { PrivacyBudget, type SpentRounds } from '../privacy/privacy-budget.js';
import type { UniformSource } from '../privacy/uniform-source.js';
import { roundError } from './errors.js';
import { LateBuffer } from './late-buffer.js';
import type { GlobalModel, RoundClose } from './record.js';
import { emptyRejectionCounts, REJECTION_REASONS, rejected, type RejectionCounts, type UpdateVerdict } from './rejection.js';
import type { Roster } from './roster.js';
import { openRound, type OpenRoundResult } from './open-round.js';
import type { FederatedRound } from './round.js';
import type { SecureSumOutcome } from './secure-sum.js';
import type { FederatedTask } from './task.js';
import { checkUpdateContent } from './update-check.js';
import { checkOrigin } from './update-origin.js';

export interface TaskRoundsOptions {
  /** A checked task (parseFederatedTask). */
  readonly task: FederatedTask;
  readonly now: () => number;
  readonly isActiveGateway: (gatewayId: string) => boolean;
  /** The task's stored privacy history (`privacyHistory` after each round), to rebuild its budget after a restart. */
  readonly privacyHistory?: readonly SpentRounds[];
  /** The last round number the task opened before (stored), so that numbers keep growing across restarts; 0 for a new task. */
  readonly lastRound?: number;
}

export interface OpenTaskRound {
  readonly round: number;
  readonly globalModel: GlobalModel;
  readonly eligibleGateways: readonly string[];
  /** `cryptoUniformSource()` in a real round (sampling.ts says why); seeded in tests. */
  readonly random: UniformSource;
}

/**
 * The rounds of one task, one after another: opens each (round.ts), routes every update to the
 * round it names, and keeps what spans rounds: the privacy budget, the late buffer, and the
 * rosters of the last few closed rounds, so that an update for one of them is told apart:
 * - for the open round, before it is due: the round checks and takes it;
 * - for the open round once it is due, or for a recently closed round, from a gateway drawn
 *   there that had not answered: LATE, and the task's policy drops it (`late-dropped`) or checks
 *   and buffers it for the next round that makes a model (`buffered`);
 * - from a gateway that already answered that round: `duplicate` (a replay);
 * - for a round older than the remembered ones: `stale-round`; not yet opened: `future-round`.
 * Rejections are counted in the record of the round that closes next (between rounds they wait
 * for the next round to open). Pure: the clock is injected, nothing is sent or stored here.
 */
export class FederatedTaskRounds {
  readonly task: FederatedTask;
  private readonly now: () => number;
  private readonly isActiveGateway: (gatewayId: string) => boolean;
  private readonly budget: PrivacyBudget | null;
  private readonly buffer: LateBuffer | null;
  /** Closed rounds whose late updates are still told apart: the previous one (drop), or maxStaleness of them (buffer). */
  private readonly window: number;
  private readonly history: Roster[] = [];
  private current: FederatedRound | null = null;
  private lastRoundNumber: number;
  private layout: readonly TensorLayout[] | null = null;
  /** Counted while no round is open; handed to the next round. */
  private pending: RejectionCounts = emptyRejectionCounts();
  private pendingBuffered = 0;

  constructor(o: TaskRoundsOptions) {
    this.task = o.task;
    this.now = o.now;
    this.isActiveGateway = o.isActiveGateway;
    this.lastRoundNumber = o.lastRound ?? 0;
    if (!Number.isSafeInteger(this.lastRoundNumber) || this.lastRoundNumber < 0) throw roundError('lastRound', `expected an integer >= 0, got ${this.lastRoundNumber}`);
    const p = o.task.privacy;
    this.budget = p === null ? null : new PrivacyBudget({ epsilon: p.targetEpsilon, delta: p.delta }, { spent: o.privacyHistory ?? [] });
    const late = o.task.lateUpdates;
    this.buffer = late.type === 'buffer' ? new LateBuffer(late.maxBuffered, late.maxStaleness, late.stalenessExponent) : null;
    this.window = late.type === 'buffer' ? late.maxStaleness : 1;
  }

  /** The open round, or null between rounds. */
  get openRound(): FederatedRound | null {
    return this.current;
  }

  get lastRound(): number {
    return this.lastRoundNumber;
  }

  /** What to store with the task after each round, to rebuild the budget (empty without privacy). */
  get privacyHistory(): SpentRounds[] {
    return this.budget?.history ?? [];
  }

  get bufferedLateUpdates(): number {
    return this.buffer?.size ?? 0;
  }

  /**
   * Opens the next round. Refused (nothing drawn, the round number not used) when a private
   * task's budget cannot pay for it. Throws E_FEDERATED_ROUND while a round is open or when
   * the number does not grow.
   */
  open(p: OpenTaskRound): OpenRoundResult {
    if (this.current !== null) throw roundError('round', `round ${this.current.number} of task "${this.task.id}" is still open: close it first`);
    if (!Number.isSafeInteger(p.round) || p.round <= this.lastRoundNumber) throw roundError('round', `round numbers grow: expected more than ${this.lastRoundNumber}, got ${p.round}`);
    const result = openRound({ ...p, task: this.task, now: this.now, isActiveGateway: this.isActiveGateway, ...(this.budget === null ? {} : { privacyBudget: this.budget }) });
    if (result.status !== 'opened') return result;
    const { round } = result;
    if (this.layout !== null && !sameLayout(this.layout, round.layout)) {
      // A new architecture: buffered deltas of the old one cannot be applied to it.
      this.buffer?.clear();
    }
    this.layout = round.layout;
    this.lastRoundNumber = p.round;
    this.current = round;
    for (const reason of REJECTION_REASONS) if (this.pending[reason] > 0) round.countRejection(reason, this.pending[reason]);
    for (let i = 0; i < this.pendingBuffered; i += 1) round.countLateBuffered();
    this.pending = emptyRejectionCounts();
    this.pendingBuffered = 0;
    return result;
  }

  /** Takes one decoded update from `sender` (the gateway the topic names). */
  accept(sender: string, message: UpdateMessage): UpdateVerdict {
    const round = this.current;
    if (round !== null && message.round === round.number && round.dueReason() === null) return round.accept(sender, message);
    return this.count(this.route(sender, message));
  }

  /** Takes one encoded update (the reassembled chunks): bytes that do not decode are `malformed`. */
  acceptEncoded(sender: string, bytes: Uint8Array): UpdateVerdict {
    let message: UpdateMessage;
    try {
      message = decodeUpdate(bytes);
    } catch (err) {
      if (err instanceof FederatedError) return this.count(rejected('malformed', err.message));
      throw err;
    }
    return this.accept(sender, message);
  }

  /**
   * Closes the open round if it is due (deadline passed, every drawn gateway answered, or the
   * quorum out of reach) and returns its record and new model; null while it waits or when no
   * round is open. The service calls it at the deadline and after each accepted update.
   */
  closeIfDue(): RoundClose | null {
    const round = this.current;
    // A secure round is closed by its protocol's driver (closeSecure), never by plain updates or the clock alone.
    if (round === null || this.task.secureAggregation) return null;
    const closed = round.closeIfDue(this.buffer);
    if (closed === null) return null;
    return this.closedRound(round, closed);
  }

  /** Closes the open secure round with the protocol's result (FederatedRound.closeSecure). */
  closeSecure(outcome: SecureSumOutcome): RoundClose {
    const round = this.current;
    if (round === null) throw roundError('round', `task "${this.task.id}" has no open round`);
    return this.closedRound(round, round.closeSecure(outcome));
  }

  private closedRound(round: FederatedRound, closed: RoundClose): RoundClose {
    this.history.push(round.roster);
    if (this.history.length > this.window) this.history.shift();
    this.current = null;
    return closed;
  }

  private route(sender: string, message: UpdateMessage): UpdateVerdict {
    const origin = checkOrigin(sender, message, this.task.id, this.isActiveGateway);
    if (origin !== null) return origin;
    if (message.round > this.lastRoundNumber) return rejected('future-round', `round ${message.round} is not open yet (the last opened is ${this.lastRoundNumber})`);
    const roster = this.current?.number === message.round ? this.current.roster : this.history.find((r) => r.round === message.round);
    if (roster === undefined) return rejected('stale-round', `round ${message.round} is too old (late updates are taken for ${this.window} round${this.window === 1 ? '' : 's'} after their own)`);
    if (!roster.has(sender)) return rejected('not-sampled', `"${sender}" was not drawn into round ${message.round}`);
    if (roster.hasAnswered(sender)) return rejected('duplicate', `"${sender}" answered round ${message.round} already`);
    roster.markAnswered(sender);
    return this.late(message);
  }

  /** A late update from a drawn gateway that had not answered: the task's late policy decides. */
  private late(message: UpdateMessage): UpdateVerdict {
    if (this.buffer === null || this.layout === null) return rejected('late-dropped', `round ${message.round} closed before the update came; the task drops late updates`);
    const check = checkUpdateContent(message, this.layout, this.task.clipNorm);
    if (!check.ok) return rejected(check.reason, check.detail);
    if (!this.buffer.add(check.update)) return rejected('late-buffer-full', `${this.buffer.capacity} late updates are buffered already`);
    if (this.current !== null) this.current.countLateBuffered();
    else this.pendingBuffered += 1;
    return { status: 'buffered', round: message.round };
  }

  private count(verdict: UpdateVerdict): UpdateVerdict {
    if (verdict.status !== 'rejected') return verdict;
    if (this.current !== null) this.current.countRejection(verdict.reason);
    else this.pending[verdict.reason] += 1;
    return verdict;
  }
}

function sameLayout(a: readonly TensorLayout[], b: readonly TensorLayout[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.shape.length === b[i]?.shape.length && t.shape.every((d, k) => d === b[i]?.shape[k]));
}
