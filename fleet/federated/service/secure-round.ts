import { encodeSecAggMessage, type FleetSecAggMessage, type GatewaySecAggMessage } from '../../protocol/federated/secagg-message.js';
import { INT8_LEVELS, planRound, SecAggServer, SecureAggregationError, type RoundParams, type RoundPlan, type SecAggReason } from '../../protocol/secure-aggregation/index.js';
import { learningTopics } from '../../protocol/topics.js';
import type { FleetMetrics } from '../../metrics.js';
import type { ClosedBy, NoModelReason } from '../round/record.js';
import type { SecureRoundSummary, SecureSumOutcome } from '../round/secure-sum.js';
import type { ServiceClock } from './service-clock.js';
import { SECURE_STEP_SHARES, type SecureStep } from './secure-plan.js';
import type { LearningTransport, ServiceLog } from './task-runner.js';

export interface SecureRoundOptions {
  readonly task: string;
  readonly round: number;
  readonly params: RoundParams;
  /** The shared int8 scale the announcement carries. */
  readonly scale: number;
  readonly openedAtMs: number;
  readonly deadlineAtMs: number;
  readonly transport: LearningTransport;
  readonly clock: ServiceClock;
  readonly metrics: FleetMetrics;
  readonly log: ServiceLog;
  /** Called once, with the sum or why there is none; the task runner closes the round with it. */
  readonly onDone: (outcome: SecureSumOutcome) => void;
  /** A fault of ours (not of a gateway's message) in a queued step: the runner stops the task with it. */
  readonly onError: (err: unknown) => void;
}

/** Which message each step collects. */
const COLLECTS: Record<SecureStep, GatewaySecAggMessage['step']> = {
  advertising: 'advertise-keys',
  sharing: 'share-keys',
  masking: 'masked-input',
  unmasking: 'unmasking-response',
};
const NEXT: Record<SecureStep, SecureStep | null> = { advertising: 'sharing', sharing: 'masking', masking: 'unmasking', unmasking: null };

/**
 * The fleet's side of one secure round over MQTT: sends each drawn gateway the round's
 * parameters, then runs the protocol's server (SecAggServer) step by step. Each step collects
 * one message from every gateway still in the round and ends when all have answered or at its
 * deadline (a share of the round: secure-plan.ts); the server's answer (key roster, share
 * deliveries, unmasking requests) goes to each gateway on its learning-secagg-relay topic.
 * The last step ends with `finish()`: the survivors' sum, handed to the runner.
 *
 * A gateway answers each step once: its first message of the step is its answer, whatever
 * the verdict, and anything after is refused as `duplicate` (as a plain round takes one update).
 * Every refusal is counted by the protocol's reason for the record, never logged with content:
 * the server holds no individual input, and nothing here does either.
 */
export class SecureRound {
  private readonly plan: RoundPlan;
  private readonly server: SecAggServer;
  private step: SecureStep | 'done' = 'advertising';
  /** Who this step waits for, and who answered it. */
  private expected: ReadonlySet<string>;
  private readonly answered = new Set<string>();
  /** Of those, whose message the server took. */
  private acceptedInStep = 0;
  private readonly refusals: Partial<Record<SecAggReason, number>> = {};
  private counts = { advertised: 0, dealt: 0, masked: 0, responded: 0 };
  private byDeadline = false;
  private cancelTimer: (() => void) | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: SecureRoundOptions) {
    this.plan = planRound(o.params);
    this.server = new SecAggServer(this.plan);
    this.expected = new Set(this.plan.clients);
  }

  /** Sends each drawn gateway the round's parameters and starts the first step's clock. */
  async start(): Promise<void> {
    for (const to of this.plan.clients) await this.send(to, { task: this.o.task, round: this.o.round, step: 'round-params', body: { ...this.o.params, to } });
    this.arm();
  }

  /** Stops the timers (the task stopped, or the fleet shuts down): the round is not closed here. */
  close(): void {
    this.step = 'done';
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /** One message from `sender` (the topic's gateway), already decoded. Never throws: a bad one is counted. */
  accept(sender: string, m: GatewaySecAggMessage): void {
    const step = this.step;
    const refuse = (reason: SecAggReason, detail: string): void => this.refuse(sender, m.step, reason, detail);
    if (m.round !== this.o.round) return refuse('wrong-round', `${m.step} for round ${m.round}, the open round is ${this.o.round}`);
    if ('from' in m.body && m.body.from !== sender) return refuse('inconsistent', `${m.step} says it is from ${m.body.from} but came on ${sender}'s topic`);
    if (step === 'done' || COLLECTS[step] !== m.step) return refuse('wrong-phase', `${m.step} came while the round ${step === 'done' ? 'is over' : `collects ${COLLECTS[step]}`}`);
    if (!this.expected.has(sender)) return refuse('unknown-client', `${sender} is not among the gateways this step waits for`);
    if (this.answered.has(sender)) return refuse('duplicate', `${sender} answered ${m.step} already`);
    this.answered.add(sender);
    try {
      switch (m.step) {
        case 'advertise-keys':
          this.server.receiveAdvertisement(m.body);
          break;
        case 'share-keys':
          this.server.receiveShareKeys(m.body);
          break;
        case 'masked-input':
          this.server.receiveMaskedInput(m.body);
          break;
        case 'unmasking-response':
          this.server.receiveUnmaskingResponse(m.body);
          break;
      }
      this.acceptedInStep += 1;
      this.o.metrics.learningSecAgg.inc({ step: m.step, outcome: 'accepted', reason: '' });
    } catch (err) {
      if (!(err instanceof SecureAggregationError)) throw err;
      refuse(err.reason, err.message);
    }
    if ([...this.expected].every((g) => this.answered.has(g))) this.endStep(false);
  }

  private refuse(sender: string, step: string, reason: SecAggReason, detail: string): void {
    this.refusals[reason] = (this.refusals[reason] ?? 0) + 1;
    this.o.metrics.learningSecAgg.inc({ step, outcome: 'rejected', reason });
    this.o.log.warn({ component: 'federated', event: 'learning.secagg_refused', task: this.o.task, round: this.o.round, gatewayId: sender, step, reason, detail }, 'secure-aggregation message refused');
  }

  private stepDeadline(step: SecureStep): number {
    return this.o.openedAtMs + Math.floor((this.o.deadlineAtMs - this.o.openedAtMs) * SECURE_STEP_SHARES[step]);
  }

  private arm(): void {
    this.cancelTimer?.();
    const step = this.step;
    if (step === 'done') return;
    const at = this.stepDeadline(step);
    this.cancelTimer = this.o.clock.after(at - this.o.clock.now(), () => {
      this.cancelTimer = null;
      if (this.step !== step) return;
      // A timer may fire a little before the clock reads the deadline: look again then.
      if (this.o.clock.now() < at) this.arm();
      else this.endStep(true);
    });
  }

  /** Ends the collecting step (synchronously, so no message slips between steps) and queues what it sends. */
  private endStep(byDeadline: boolean): void {
    const step = this.step;
    if (step === 'done') return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (byDeadline) this.byDeadline = true;
    let out: { to: string; m: FleetSecAggMessage }[];
    const head = { task: this.o.task, round: this.o.round };
    try {
      switch (step) {
        case 'advertising': {
          const roster = this.server.closeAdvertising();
          this.counts.advertised = roster.clients.length;
          const m: FleetSecAggMessage = { ...head, step: 'key-roster', body: roster };
          out = roster.clients.map((c) => ({ to: c.id, m }));
          this.expected = new Set(roster.clients.map((c) => c.id));
          break;
        }
        case 'sharing': {
          const deliveries = this.server.closeSharing();
          this.counts.dealt = deliveries.length;
          out = deliveries.map((d) => ({ to: d.to, m: { ...head, step: 'share-delivery', body: d } }));
          this.expected = new Set(deliveries.map((d) => d.to));
          break;
        }
        case 'masking': {
          const requests = this.server.closeMasking();
          this.counts.masked = requests.length;
          out = requests.map((r) => ({ to: r.to, m: { ...head, step: 'unmasking-request', body: r } }));
          this.expected = new Set(requests.map((r) => r.to));
          break;
        }
        case 'unmasking':
          this.counts.responded = this.acceptedInStep;
          this.step = 'done';
          this.queue(() => this.finish());
          return;
      }
    } catch (err) {
      if (!(err instanceof SecureAggregationError)) throw err;
      // Fewer than t gateways left: the protocol stops rather than reveal a sum of too few.
      this.step = 'done';
      this.done({ ok: false, reason: 'below-quorum', detail: err.message, survivors: [], closedBy: 'quorum-unreachable', closedAtMs: this.o.clock.now(), summary: this.summary([], 0) });
      return;
    }
    this.answered.clear();
    this.acceptedInStep = 0;
    this.step = NEXT[step] as SecureStep;
    this.arm();
    const toSend = out;
    this.queue(async () => {
      for (const { to, m } of toSend) await this.send(to, m);
    });
  }

  /** Runs `step` after what is queued, in order; a fault goes to the runner, never unhandled. */
  private queue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => this.o.onError(err));
  }

  private async finish(): Promise<void> {
    const closedBy: ClosedBy = this.byDeadline ? 'deadline' : 'all-answered';
    const closedAtMs = this.o.clock.now();
    try {
      const result = await this.server.finish();
      this.o.log.info({ component: 'federated', event: 'learning.secagg_unmasked', task: this.o.task, round: this.o.round, survivors: result.survivors.length, dropped: result.dropped.length, rejectedShares: result.rejectedShares.length }, 'secure round: the survivors\' sum is unmasked');
      this.done({ ok: true, sum: result.sum, survivors: result.survivors, closedBy, closedAtMs, summary: this.summary(result.dropped, result.rejectedShares.length) });
    } catch (err) {
      if (!(err instanceof SecureAggregationError)) throw err;
      const reason: NoModelReason = err.reason === 'too-few-clients' ? 'below-quorum' : 'aggregation-failed';
      this.done({ ok: false, reason, detail: err.message, survivors: [], closedBy, closedAtMs, summary: this.summary([], 0) });
    }
  }

  private done(outcome: SecureSumOutcome): void {
    this.o.onDone(outcome);
  }

  private summary(dropped: readonly string[], rejectedShares: number): SecureRoundSummary {
    return {
      scale: this.o.scale,
      levels: INT8_LEVELS,
      threshold: this.plan.threshold,
      graph: this.plan.graph.type,
      ...this.counts,
      dropped: [...dropped],
      weighting: 'mean-over-survivors',
      refusals: { ...this.refusals },
      rejectedShares,
    };
  }

  private async send(to: string, m: FleetSecAggMessage): Promise<void> {
    try {
      await this.o.transport.publish(learningTopics.secAggRelay(to), encodeSecAggMessage(m), { retain: false });
      this.o.metrics.messagesOut.inc({ kind: 'learning-secagg-relay' });
    } catch (err) {
      // The gateway misses the step and drops out; the protocol recovers from that.
      this.o.log.warn({ component: 'federated', event: 'learning.secagg_send_failed', task: this.o.task, round: this.o.round, gatewayId: to, step: m.step, reason: (err as Error).message }, 'secure-aggregation message not sent');
    }
  }
}
