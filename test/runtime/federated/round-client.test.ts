import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { decodeChunk, decodeUpdate, encodeChunkAck, encodeRoundAnnouncement, encodeRoundInvitation, seededRandom, type RoundAnnouncementMessage } from '../../../fleet/protocol/federated/index.js';
import { learningTopics } from '../../../fleet/protocol/topics.js';
import { LearnerRegistry, type LocalLearner, type LocalTrainingRequest } from '../../../runtime/federated/learner.js';
import { RoundClient, type LearningChannel } from '../../../runtime/federated/round-client.js';
import { EventLog } from '../../../runtime/health/events.js';
import { topicMatches } from '../../../runtime/uplink/topic-filter.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * The round client alone, on an in-memory channel (the broker, TUF and the real learner are in
 * gateway-learning.test.ts): the round's life cycle and the rules on which messages it acts.
 */
const GW = 'gw-1';
const MODEL_BYTES = Uint8Array.of(1, 2, 3, 4);
const SHA = createHash('sha256').update(MODEL_BYTES).digest('hex');

class MemoryChannel implements LearningChannel {
  readonly handlers = new Map<string, (payload: Uint8Array, topic: string) => void>();
  readonly published: Uint8Array[] = [];
  subscribe(topic: string, handler: (payload: Uint8Array, topic: string) => void): void {
    this.handlers.set(topic, handler);
  }
  publishAcked(_topic: string, payload: Uint8Array): Promise<void> {
    this.published.push(payload);
    return Promise.resolve();
  }
  onConnect(): () => void {
    return () => undefined;
  }
  connects(): number {
    return 1;
  }
  deliver(topic: string, payload: Uint8Array): void {
    for (const [filter, h] of this.handlers) if (topicMatches(filter, topic)) h(payload, topic);
  }
}

/** A learner that answers a fixed delta, or (blocking) waits until its signal aborts. */
class FakeLearner implements LocalLearner {
  readonly model = 'motor-ae';
  readonly requests: LocalTrainingRequest[] = [];
  constructor(private readonly blocking = false) {}
  train(req: LocalTrainingRequest): ReturnType<LocalLearner['train']> {
    this.requests.push(req);
    if (this.blocking) return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason as Error)));
    return Promise.resolve({ tensors: [{ name: 'w0', shape: [2, 2], values: Float32Array.of(0.1, -0.2, 0.3, 0) }], samples: 40, validationLoss: 0.5, calibration: { n: 8, sum: -20, sumSq: 52 } });
  }
}

function setup(learner: FakeLearner): { client: RoundClient; channel: MemoryChannel; events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') events.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const learners = new LearnerRegistry(256, 0.2);
  learners.register(learner);
  const channel = new MemoryChannel();
  const client = new RoundClient({ gatewayId: GW, channel, learners, fetchModel: () => Promise.resolve(MODEL_BYTES), events: new EventLog(pino({ level: 'debug' }, sink), new Registry()).for('learning'), maxChunkBytes: 1024, random: seededRandom(1) });
  client.start();
  return { client, channel, events };
}

function announce(channel: MemoryChannel, round: number, over: Partial<RoundAnnouncementMessage> = {}): void {
  const now = Date.now();
  const a: RoundAnnouncementMessage = {
    v: 1,
    task: 't1',
    round,
    model: { name: 'motor-ae', release: 1, version: 'v1', sha256: SHA, fetch: { type: 'tuf', target: 'm/1/model.onnx' } },
    localEpochs: 2,
    learningRate: 0.01,
    clipNorm: 10,
    proximalMu: 0.1,
    quantisation: { type: 'top-k', density: 0.5 },
    secureAggregation: false,
    openedAtMs: now - 1000,
    deadlineAtMs: now + 60_000,
    ...over,
  };
  channel.deliver(learningTopics.announcement(a.task), encodeRoundAnnouncement(a));
}

function invite(channel: MemoryChannel, round: number, nonce = 'ab'.repeat(16), task = 't1'): void {
  channel.deliver(learningTopics.invitation(GW), encodeRoundInvitation({ v: 1, task, round, gateway: GW, nonce }));
}

const named = (events: Record<string, unknown>[], name: string): Record<string, unknown>[] => events.filter((e) => e['event'] === name);

describe('the round client', () => {
  it('trains once per invitation (a redelivered one is ignored), whatever order announcement and invitation come in, with the announced settings', async () => {
    const learner = new FakeLearner();
    const { client, channel, events } = setup(learner);
    invite(channel, 1); // before its announcement: kept until it comes
    announce(channel, 1);
    await waitFor(() => client.stats().updatesSent === 1, 'the update');
    invite(channel, 1); // QoS 1 delivers it again
    expect(learner.requests.map((r) => [r.localEpochs, r.learningRate, r.proximalMu, r.globalModel])).toEqual([[2, 0.01, 0.1, MODEL_BYTES]]);
    const update = decodeUpdate(decodeChunk(channel.published[0] as Uint8Array).data);
    // The learner's calibration moments go along as calib (a v2 update).
    expect(update).toMatchObject({ task: 't1', round: 1, client: GW, samples: 40, validationLoss: 0.5, calibration: { n: 8, sum: -20, sumSq: 52 } });
    // top-k at density 0.5: 2 of the 4 values are sent.
    expect(update.tensors[0]?.q.length).toBe(2);
    expect(named(events, 'learning.round_joined')).toHaveLength(1);
    const sha = createHash('sha256').update(decodeChunk(channel.published[0] as Uint8Array).data).digest('hex');
    channel.deliver(learningTopics.chunkAck(GW), encodeChunkAck({ v: 1, id: 't1.1', sha: '00'.repeat(32), status: 'complete', missing: [] }));
    expect(client.stats().updatesAcknowledged).toBe(0); // an ack of another encoding is not ours
    channel.deliver(learningTopics.chunkAck(GW), encodeChunkAck({ v: 1, id: 't1.1', sha, status: 'complete', missing: [] }));
    expect(client.stats().updatesAcknowledged).toBe(1);
    await client.stop();
  });

  it('gives up at the deadline, when a newer round is announced, and when the task is cleared; one round at a time', async () => {
    const learner = new FakeLearner(true);
    const { client, channel, events } = setup(learner);
    announce(channel, 1, { deadlineAtMs: Date.now() + 300 });
    invite(channel, 1);
    await waitFor(() => named(events, 'learning.failed').length === 1, 'the deadline');
    expect(named(events, 'learning.failed')[0]).toMatchObject({ code: 'E_LEARNING_DEADLINE', round: 1 });

    announce(channel, 2);
    invite(channel, 2);
    await waitFor(() => learner.requests.length === 2, 'round 2 training');
    invite(channel, 2, 'cd'.repeat(16), 't2'); // another task's invitation waits: one round at a time
    announce(channel, 3);
    await waitFor(() => named(events, 'learning.failed').length === 2, 'round 2 superseded');
    expect(named(events, 'learning.failed')[1]).toMatchObject({ code: 'E_LEARNING_ROUND_CLOSED', round: 2 });
    expect(String(named(events, 'learning.failed')[1]?.['reason'])).toContain('superseded by round 3');

    invite(channel, 3);
    await waitFor(() => learner.requests.length === 3, 'round 3 training');
    channel.deliver(learningTopics.announcement('t1'), new Uint8Array(0)); // the fleet ended the task
    await waitFor(() => named(events, 'learning.failed').length === 3, 'round 3 closed');
    expect(named(events, 'learning.failed')[2]).toMatchObject({ code: 'E_LEARNING_ROUND_CLOSED' });
    expect(client.stats()).toMatchObject({ roundsJoined: 3, updatesSent: 0, training: false, failures: { E_LEARNING_DEADLINE: 1, E_LEARNING_ROUND_CLOSED: 2 } });
    expect(channel.published).toEqual([]);
    await client.stop();
  });

  it('in a secure round whose fleet never sends the round parameters, trains but sends nothing and gives up at the deadline', async () => {
    const learner = new FakeLearner();
    const { client, channel, events } = setup(learner);
    announce(channel, 1, { secureAggregation: true, quantisation: { type: 'int8', scale: 0.0078125 }, proximalMu: null, deadlineAtMs: Date.now() + 300 });
    invite(channel, 1);
    channel.deliver(learningTopics.secAggRelay(GW), Uint8Array.of(0xa0));
    await waitFor(() => named(events, 'learning.failed').length === 1, 'the deadline');
    expect(named(events, 'learning.failed')[0]).toMatchObject({ code: 'E_LEARNING_DEADLINE' });
    expect(named(events, 'learning.message_rejected')[0]).toMatchObject({ code: 'E_FEDERATED_SECAGG' });
    expect(learner.requests).toHaveLength(1);
    expect(channel.published).toEqual([]);
    expect(client.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 0, failures: { E_LEARNING_DEADLINE: 1 } });
    await client.stop();
  });

  it('drops stale invitations, ignores models no stage learns, refuses a shared scale without secure aggregation, and reports bad messages by code', async () => {
    const learner = new FakeLearner();
    const { client, channel, events } = setup(learner);

    announce(channel, 5);
    invite(channel, 4, 'ef'.repeat(16));
    expect(named(events, 'learning.invitation_stale')).toEqual([expect.objectContaining({ round: 4, announced: 5 })]);

    announce(channel, 1, { task: 'other', model: { name: 'press-ae', release: 1, version: 'v1', sha256: SHA, fetch: { type: 'tuf', target: 'p/1/model.onnx' } } });
    invite(channel, 1, '12'.repeat(16), 'other');
    expect(named(events, 'learning.announcement_ignored')).toHaveLength(1);

    channel.deliver(learningTopics.announcement('t9'), Uint8Array.from(Buffer.from('{"v":1}')));
    channel.deliver(learningTopics.invitation(GW), Uint8Array.from(Buffer.from('\xff\xfe')));
    channel.deliver(learningTopics.chunkAck(GW), Uint8Array.from(Buffer.from('[]')));
    expect(named(events, 'learning.message_rejected').map((e) => e['code'])).toEqual(['E_PAYLOAD_INVALID', 'E_PAYLOAD_DECODE', 'E_PAYLOAD_INVALID']);
    // A shared scale without secure aggregation: refused before any training too.
    announce(channel, 1, { task: 't3', quantisation: { type: 'int8', scale: 0.0078125 } });
    invite(channel, 1, '34'.repeat(16), 't3');
    await waitFor(() => named(events, 'learning.failed').length === 1, 'the refusal');
    expect(named(events, 'learning.failed')[0]).toMatchObject({ code: 'E_LEARNING_UNSUPPORTED', task: 't3' });
    expect(client.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 0, failures: { E_LEARNING_UNSUPPORTED: 1 } });
    expect(learner.requests).toEqual([]);
    await client.stop();
  });
});
