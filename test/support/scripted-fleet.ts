import type { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { ChunkReassembler, decodeChunk, decodeUpdate, encodeChunkAck, encodeRoundAnnouncement, encodeRoundInvitation, type RoundAnnouncementMessage, type UpdateMessage } from '../../fleet/protocol/federated/index.js';
import { LEARNING_UPDATE_FILTER, learningTopics, parseLearningUpdateTopic } from '../../fleet/protocol/topics.js';

/** One chunk the fleet received: from whom, which index of which update. */
export interface SeenChunk {
  readonly sender: string;
  readonly updateId: string;
  readonly index: number;
  readonly count: number;
}

/**
 * The fleet's side of a federated round, scripted with the protocol's codecs on an embedded
 * broker (in-process subscription): retained announcement, invitations, every update chunk
 * reassembled with ChunkReassembler and acked when the round service acks, the complete updates decoded.
 */
export class ScriptedFleet {
  readonly chunks: SeenChunk[] = [];
  readonly updates: UpdateMessage[] = [];
  readonly errors: string[] = [];
  readonly acks: { readonly sender: string; readonly status: string; readonly missing: readonly number[] }[] = [];
  private readonly reassembler = new ChunkReassembler({ now: () => performance.now() });
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly broker: EmbeddedBroker) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.broker.subscribe(LEARNING_UPDATE_FILTER, (topic, payload) => {
      try {
        const sender = parseLearningUpdateTopic(topic);
        const chunk = decodeChunk(payload);
        this.chunks.push({ sender, updateId: chunk.updateId, index: chunk.index, count: chunk.count });
        const sha = Buffer.from(chunk.sha256).toString('hex');
        const result = this.reassembler.accept(sender, payload);
        if (result.status === 'complete') this.updates.push(decodeUpdate(result.bytes));
        // As the round service acks (PROTOCOL.md, "Chunk acknowledgement"): a complete update, a
        // chunk that came again, the last chunk while others are missing; not every chunk.
        if (result.status === 'partial' && chunk.index !== chunk.count - 1) return;
        const m = this.reassembler.missing(sender, chunk.updateId, sha);
        const ack = m.state === 'assembling' ? { status: 'missing' as const, missing: m.missing } : { status: m.state, missing: [] };
        this.acks.push({ sender, status: ack.status, missing: ack.missing });
        void this.broker.publish(learningTopics.chunkAck(sender), Buffer.from(encodeChunkAck({ v: 1, id: chunk.updateId, sha, ...ack })), { qos: 1 });
      } catch (err) {
        this.errors.push((err as Error).message);
      }
    });
  }

  announce(a: RoundAnnouncementMessage): Promise<void> {
    return this.broker.publish(learningTopics.announcement(a.task), Buffer.from(encodeRoundAnnouncement(a)), { qos: 1, retain: true });
  }

  /** Publishes an invitation on `onTopicOf`'s invitation topic (the addressee by default). */
  invite(task: string, round: number, gateway: string, onTopicOf = gateway): Promise<void> {
    const nonce = Buffer.from(Array.from({ length: 16 }, (_, i) => (round * 31 + i * 7) & 0xff)).toString('hex');
    return this.broker.publish(learningTopics.invitation(onTopicOf), Buffer.from(encodeRoundInvitation({ v: 1, task, round, gateway, nonce })), { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
