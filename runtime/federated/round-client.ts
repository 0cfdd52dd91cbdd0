import { createHash } from 'node:crypto';
import { decodeRoundAnnouncement, type RoundAnnouncementMessage } from '../../fleet/protocol/federated/announcement.js';
import { decodeChunkAck } from '../../fleet/protocol/federated/chunk-ack.js';
import { splitUpdate } from '../../fleet/protocol/federated/chunks.js';
import { decodeRoundInvitation, type RoundInvitationMessage } from '../../fleet/protocol/federated/invitation.js';
import { decodeFleetSecAggMessage, type FleetSecAggMessage } from '../../fleet/protocol/federated/secagg-message.js';
import { cryptoRandomSource, type RandomSource } from '../../fleet/protocol/federated/random-source.js';
import { encodeUpdate } from '../../fleet/protocol/federated/update-encoding.js';
import { LEARNING_ANNOUNCEMENT_FILTER, learningTopics, parseLearningAnnouncementTopic } from '../../fleet/protocol/topics.js';
import type { ComponentEvents } from '../health/events.js';
import { ChunkUpload, type UploadChannel } from './chunk-upload.js';
import type { LearnerRegistry, LocalTrainingResult } from './learner.js';
import { SecAggInbox } from './secagg-inbox.js';
import { takePartSecurely } from './secure-participant.js';
import { UpdateCompressor } from './update-compressor.js';

/** What the round client needs of the uplink. */
export interface LearningChannel extends UploadChannel {
  subscribe(topic: string, handler: (payload: Uint8Array, topic: string) => void): void;
}

export interface RoundClientOptions {
  readonly gatewayId: string;
  readonly channel: LearningChannel;
  readonly learners: LearnerRegistry;
  /** A signed target's verified bytes through the gateway's TUF client (UpdateService.fetchTarget). */
  readonly fetchModel: (target: string, maxBytes: number) => Promise<Uint8Array>;
  readonly events: ComponentEvents;
  /** Largest MQTT payload per update chunk (learning.maxChunkBytes). */
  readonly maxChunkBytes: number;
  /** A global model larger than this is not fetched. */
  readonly maxModelBytes?: number;
  /** Stochastic rounding's coins (tests seed it). */
  readonly random?: RandomSource;
  /** Wall clock, ms since the epoch: the deadline is on the fleet's clock. */
  readonly now?: () => number;
}

export interface LearningStats {
  readonly roundsJoined: number;
  readonly updatesSent: number;
  readonly updatesAcknowledged: number;
  readonly bytesSent: number;
  readonly training: boolean;
  /** The last round this gateway trained in: its local validation loss, samples and training time. */
  readonly lastRound: { readonly task: string; readonly round: number; readonly validationLoss: number | null; readonly samples: number; readonly trainMs: number } | null;
  readonly failures: Readonly<Record<string, number>>;
  /** The update being sent or last sent: its chunks, and what the fleet's last ack of it said. */
  readonly upload: { readonly id: string; readonly chunks: number; readonly chunksSent: number; readonly ack: 'complete' | 'missing' | 'unknown' | null; readonly missing: number } | null;
}

/** Tasks followed at most (announcements and invitations kept, one each per task). */
const MAX_TASKS = 64;
/** (task, round, nonce) answered, remembered so a redelivered invitation is not trained twice. */
const MAX_ANSWERED = 256;
const DEFAULT_MAX_MODEL_BYTES = 64 * 1024 * 1024;

interface ActiveRound {
  readonly task: string;
  readonly round: number;
  readonly abort: AbortController;
  upload: ChunkUpload | undefined;
  /** A secure round's relayed messages. */
  inbox: SecAggInbox | undefined;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'E_LEARNING';
}

/**
 * The gateway's side of federated rounds (PROTOCOL.md "Federated rounds"): follows every task's
 * retained announcement and its own invitations and chunk acks; when invited to a task's
 * announced round whose model a stage learns (LocalLearner), fetches the global model through
 * TUF and checks its hash, trains in the background, compresses the delta (error feedback,
 * clipping, int8 or top-k), and uploads the update in chunks, resuming after a reconnect from
 * the fleet's ack. One round at a time; every message is decoded at the edge and a bad one is
 * an event and nothing else.
 */
export class RoundClient {
  private readonly announcements = new Map<string, RoundAnnouncementMessage>();
  private readonly invitations = new Map<string, RoundInvitationMessage>();
  private readonly answered = new Set<string>();
  /** Secure rounds: the round parameters that came before the round started here (one per task, the latest). */
  private readonly pendingParams = new Map<string, FleetSecAggMessage>();
  private readonly compressor: UpdateCompressor;
  private readonly random: RandomSource;
  private readonly now: () => number;
  private active: ActiveRound | undefined;
  /** The last upload, kept for the fleet's late acks. */
  private lastUpload: ChunkUpload | undefined;
  private job: Promise<void> | undefined;
  private stopped = false;
  private roundsJoined = 0;
  private updatesSent = 0;
  private updatesAcknowledged = 0;
  private bytesSent = 0;
  private lastRound: LearningStats['lastRound'] = null;
  private readonly failures: Record<string, number> = {};

  constructor(private readonly o: RoundClientOptions) {
    this.random = o.random ?? cryptoRandomSource();
    this.compressor = new UpdateCompressor(this.random);
    this.now = o.now ?? Date.now;
  }

  start(): void {
    const ch = this.o.channel;
    const gw = this.o.gatewayId;
    ch.subscribe(LEARNING_ANNOUNCEMENT_FILTER, (payload, topic) => this.onAnnouncement(topic, payload));
    ch.subscribe(learningTopics.invitation(gw), (payload) => this.onInvitation(payload));
    ch.subscribe(learningTopics.chunkAck(gw), (payload) => this.onAck(payload));
    ch.subscribe(learningTopics.secAggRelay(gw), (payload) => this.onRelay(payload));
    this.o.events.info('learning.started', { models: this.o.learners.models() });
  }

  stats(): LearningStats {
    return {
      roundsJoined: this.roundsJoined,
      updatesSent: this.updatesSent,
      updatesAcknowledged: this.updatesAcknowledged,
      bytesSent: this.bytesSent,
      training: this.active !== undefined,
      lastRound: this.lastRound,
      failures: { ...this.failures },
      upload: this.lastUpload === undefined ? null : this.lastUpload.describe(),
    };
  }

  private rejected(topic: string, err: unknown): void {
    this.o.events.warn('learning.message_rejected', { code: codeOf(err), topic, reason: (err as Error).message });
  }

  private onAnnouncement(topic: string, payload: Uint8Array): void {
    let task: string;
    let a: RoundAnnouncementMessage;
    try {
      task = parseLearningAnnouncementTopic(topic);
      if (payload.byteLength === 0) {
        // The fleet cleared the task: no open round.
        this.announcements.delete(task);
        if (this.active?.task === task) this.active.abort.abort(Object.assign(new Error(`the fleet closed task ${task}`), { code: 'E_LEARNING_ROUND_CLOSED' }));
        return;
      }
      a = decodeRoundAnnouncement(payload);
      if (a.task !== task) throw Object.assign(new Error(`round announcement of task ${a.task} on the topic of task ${task}`), { code: 'E_PAYLOAD_INVALID' });
    } catch (err) {
      this.rejected(topic, err);
      return;
    }
    if (this.o.learners.learnerFor(a.model.name) === undefined) {
      this.o.events.debug('learning.announcement_ignored', { task, round: a.round, model: a.model.name, reason: 'no stage learns this model' });
      return;
    }
    if (!this.announcements.has(task) && this.announcements.size >= MAX_TASKS) {
      this.o.events.warn('learning.message_rejected', { code: 'E_LEARNING_CAPACITY', topic, reason: `already following ${MAX_TASKS} tasks` });
      return;
    }
    this.announcements.set(task, a);
    const active = this.active;
    if (active?.task === task && active.round < a.round) active.abort.abort(Object.assign(new Error(`round ${active.round} was superseded by round ${a.round}`), { code: 'E_LEARNING_ROUND_CLOSED' }));
    this.tryStart();
  }

  private onInvitation(payload: Uint8Array): void {
    let inv: RoundInvitationMessage;
    try {
      inv = decodeRoundInvitation(payload, this.o.gatewayId);
    } catch (err) {
      this.rejected(learningTopics.invitation(this.o.gatewayId), err);
      return;
    }
    if (this.answered.has(`${inv.task}/${inv.round}/${inv.nonce}`)) return; // QoS 1 delivered it again
    this.invitations.delete(inv.task);
    if (this.invitations.size >= MAX_TASKS) this.invitations.delete(this.invitations.keys().next().value as string);
    this.invitations.set(inv.task, inv);
    this.tryStart();
  }

  private onAck(payload: Uint8Array): void {
    let ack;
    try {
      ack = decodeChunkAck(payload);
    } catch (err) {
      this.rejected(learningTopics.chunkAck(this.o.gatewayId), err);
      return;
    }
    const upload = this.active?.upload ?? this.lastUpload;
    const wasAcknowledged = upload?.acknowledged ?? false;
    if (upload === undefined || !upload.onAck(ack)) {
      this.o.events.debug('learning.ack_ignored', { id: ack.id, reason: 'not the update being sent' });
      return;
    }
    if (upload.acknowledged && !wasAcknowledged) {
      this.updatesAcknowledged += 1;
      this.o.events.info('learning.update_acknowledged', { id: upload.id });
    }
  }

  /** A secure round's message from the fleet: to the running round's inbox, or (round parameters) kept until the round starts. */
  private onRelay(payload: Uint8Array): void {
    let m: FleetSecAggMessage;
    try {
      m = decodeFleetSecAggMessage(payload);
      if (m.step === 'round-params' && m.body.to !== this.o.gatewayId) throw Object.assign(new Error(`round parameters addressed to ${m.body.to}`), { code: 'E_FEDERATED_SECAGG' });
    } catch (err) {
      this.rejected(learningTopics.secAggRelay(this.o.gatewayId), err);
      return;
    }
    if (this.active?.inbox?.push(m) === true) return;
    if (m.step === 'round-params') {
      this.pendingParams.delete(m.task);
      if (this.pendingParams.size >= MAX_TASKS) this.pendingParams.delete(this.pendingParams.keys().next().value as string);
      this.pendingParams.set(m.task, m);
      return;
    }
    this.o.events.debug('learning.secagg_ignored', { task: m.task, round: m.round, step: m.step, reason: 'not the secure round running here' });
  }

  /** Starts the round of an invitation whose announcement is here, unless a round is running. */
  private tryStart(): void {
    if (this.active !== undefined || this.stopped) return;
    for (const [task, inv] of this.invitations) {
      const a = this.announcements.get(task);
      if (a === undefined || a.round < inv.round) continue; // its announcement may still come
      this.invitations.delete(task);
      if (a.round > inv.round) {
        this.o.events.info('learning.invitation_stale', { task, round: inv.round, announced: a.round });
        continue;
      }
      this.remember(`${task}/${inv.round}/${inv.nonce}`);
      this.run(a);
      return;
    }
  }

  private remember(key: string): void {
    this.answered.add(key);
    if (this.answered.size > MAX_ANSWERED) this.answered.delete(this.answered.values().next().value as string);
  }

  private run(a: RoundAnnouncementMessage): void {
    const active: ActiveRound = { task: a.task, round: a.round, abort: new AbortController(), upload: undefined, inbox: undefined };
    this.active = active;
    const signal = active.abort.signal;
    const late = Object.assign(new Error(`the round's deadline passed (${new Date(a.deadlineAtMs).toISOString()})`), { code: 'E_LEARNING_DEADLINE' });
    const timer = setTimeout(() => active.abort.abort(late), Math.max(0, a.deadlineAtMs - this.now()));
    this.job = (async () => {
      this.roundsJoined += 1;
      const fields = { task: a.task, round: a.round, model: a.model.name, release: a.model.release };
      this.o.events.info('learning.round_joined', fields);
      try {
        if (this.now() >= a.deadlineAtMs) throw late;
        if (!a.secureAggregation && a.quantisation.type === 'int8' && a.quantisation.scale !== null) throw Object.assign(new Error('the round fixes a shared int8 scale without secure aggregation; this gateway sends per-tensor scales then'), { code: 'E_LEARNING_UNSUPPORTED' });
        const learner = this.o.learners.learnerFor(a.model.name);
        if (learner === undefined) throw Object.assign(new Error(`no stage learns ${a.model.name} any more`), { code: 'E_LEARNING_NO_LEARNER' });
        const train = async (): Promise<LocalTrainingResult> => {
          const model = await abortable(this.o.fetchModel(a.model.fetch.target, this.o.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES), signal);
          const sha = createHash('sha256').update(model).digest('hex');
          if (sha !== a.model.sha256) {
            throw Object.assign(new Error(`the global model ${a.model.fetch.target} has SHA-256 ${sha}; the announcement says ${a.model.sha256}: not training on it`), { code: 'E_LEARNING_MODEL_HASH' });
          }
          const t0 = performance.now();
          const trained = await learner.train({ globalModel: model, localEpochs: a.localEpochs, learningRate: a.learningRate, proximalMu: a.proximalMu, signal });
          const trainMs = Math.round(performance.now() - t0);
          signal.throwIfAborted();
          this.lastRound = { task: a.task, round: a.round, validationLoss: trained.validationLoss, samples: trained.samples, trainMs };
          this.o.events.info('learning.trained', { ...fields, samples: trained.samples, validationLoss: trained.validationLoss, trainMs });
          return trained;
        };
        if (a.secureAggregation) {
          await this.runSecure(a, active, train, fields);
          return;
        }
        const result = await train();
        const { tensors, residualReset } = this.compressor.compress(a, result.tensors);
        if (residualReset) this.o.events.info('learning.residual_reset', { task: a.task, reason: 'the model has another layout' });
        // The calibration moments go only with a plain update: a secure round (runSecure) sends
        // nothing per gateway in the clear, and they would be a per-gateway statistic.
        const calibration = result.calibration === undefined ? {} : { calibration: result.calibration };
        const update = encodeUpdate({ round: a.round, task: a.task, client: this.o.gatewayId, samples: result.samples, validationLoss: result.validationLoss, tensors, ...calibration });
        const id = `${a.task}.${a.round}`;
        const chunks = splitUpdate(update, { updateId: id, maxChunkBytes: this.o.maxChunkBytes });
        const upload = new ChunkUpload(id, createHash('sha256').update(update).digest('hex'), chunks, learningTopics.update(this.o.gatewayId), this.o.channel);
        active.upload = upload;
        this.lastUpload = upload;
        try {
          await upload.run(signal);
        } finally {
          this.bytesSent += upload.bytesSent;
        }
        this.updatesSent += 1;
        this.o.events.info('learning.update_sent', { ...fields, id, updateBytes: update.byteLength, chunks: chunks.length, bytesSent: upload.bytesSent, resumes: upload.resumes, samples: result.samples, validationLoss: result.validationLoss });
      } catch (err) {
        const cause = signal.aborted ? (signal.reason as Error) : err;
        const code = codeOf(cause);
        this.failures[code] = (this.failures[code] ?? 0) + 1;
        this.o.events.warn('learning.failed', { ...fields, code, reason: (cause as Error).message });
      } finally {
        clearTimeout(timer);
        this.active = undefined;
        this.job = undefined;
        this.tryStart();
      }
    })();
  }

  /**
   * A secure round: the protocol (secure-participant.ts) runs while the model trains; a training
   * failure aborts it (the gateway drops out of the round, which the fleet recovers from).
   */
  private async runSecure(a: RoundAnnouncementMessage, active: ActiveRound, train: () => Promise<LocalTrainingResult>, fields: Record<string, unknown>): Promise<void> {
    const inbox = new SecAggInbox(a.task, a.round);
    active.inbox = inbox;
    const pending = this.pendingParams.get(a.task);
    if (pending !== undefined && inbox.push(pending)) this.pendingParams.delete(a.task);
    const training = train();
    training.catch((err: unknown) => active.abort.abort(err));
    let bytesSent = 0;
    const { maskedBytes } = await takePartSecurely(a, training, {
      gatewayId: this.o.gatewayId,
      channel: this.o.channel,
      inbox,
      random: this.random,
      signal: active.abort.signal,
      onSent: (step, bytes) => {
        bytesSent += bytes;
        this.bytesSent += bytes;
        if (step === 'masked-input') this.updatesSent += 1;
      },
    });
    this.o.events.info('learning.update_sent', { ...fields, secure: true, maskedBytes, bytesSent });
  }

  /** Aborts the round in progress (its training and upload) and waits for it to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.active?.abort.abort(Object.assign(new Error('the gateway is stopping'), { code: 'E_LEARNING_STOPPED' }));
    await this.job;
  }
}

/** `p`, or a rejection with the signal's reason when it aborts first (the fetch itself runs on in the updater's chain). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
