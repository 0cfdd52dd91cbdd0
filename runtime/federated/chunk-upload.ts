import type { ChunkAckMessage } from '../../fleet/protocol/federated/chunk-ack.js';

/** What an upload needs of the uplink. */
export interface UploadChannel {
  /** Resolves at the message's PUBACK; rejects while disconnected or when the connection drops first. */
  publishAcked(topic: string, payload: Uint8Array): Promise<void>;
  /** Calls `listener` after every (re)connect; returns the call that removes it. */
  onConnect(listener: () => void): () => void;
  /** Connections made so far (a new one means a resend is worth trying). */
  connects(): number;
}

/** Chunks awaiting their PUBACK at once: enough to fill a link, few enough that a drop costs little. */
const CHUNKS_IN_FLIGHT = 4;
/** How long a resuming upload waits for the fleet's answer to its probe before it sends everything. */
const PROBE_ACK_WAIT_MS = 5000;

/**
 * One update's chunks on their way to the fleet: every chunk published QoS 1, at most
 * CHUNKS_IN_FLIGHT awaiting their PUBACK. When the connection drops, it waits for the next
 * connect, sends the last chunk again as a probe (the fleet acks a chunk it holds already, and
 * the last chunk of a pass: PROTOCOL.md, "Chunk acknowledgement"), waits a moment for that ack,
 * and then sends what the fleet's last ack of this encoding lists as missing (every chunk when
 * no ack came or the fleet knows nothing of it; nothing when it is complete).
 * Resolves when every chunk of a sending pass was PUBACKed or the fleet acked the whole;
 * rejects when `signal` aborts (the round's deadline, the gateway's stop).
 */
export class ChunkUpload {
  private lastAck: ChunkAckMessage | undefined;
  private completeAck: (() => void) | undefined;
  /** Acks of this encoding received, and who waits for the next one. */
  private acks = 0;
  private ackWaiter: (() => void) | undefined;
  /** Payload bytes PUBACKed (resends included). */
  bytesSent = 0;
  chunksSent = 0;
  /** Sending passes after the first (one per reconnect that interrupted the upload). */
  resumes = 0;

  constructor(
    readonly id: string,
    /** Lower-case hex SHA-256 of the update, as chunk acks name it. */
    readonly sha: string,
    private readonly chunks: readonly Uint8Array[],
    private readonly topic: string,
    private readonly channel: UploadChannel,
  ) {}

  get chunkCount(): number {
    return this.chunks.length;
  }

  /** The fleet's ack of this encoding (others are not ours: another id, or an encoding made before a restart). */
  onAck(ack: ChunkAckMessage): boolean {
    if (ack.id !== this.id || ack.sha !== this.sha) return false;
    this.lastAck = ack;
    this.acks += 1;
    this.ackWaiter?.();
    if (ack.status === 'complete') this.completeAck?.();
    return true;
  }

  describe(): { id: string; chunks: number; chunksSent: number; ack: ChunkAckMessage['status'] | null; missing: number } {
    return { id: this.id, chunks: this.chunks.length, chunksSent: this.chunksSent, ack: this.lastAck?.status ?? null, missing: this.lastAck?.missing.length ?? 0 };
  }

  get acknowledged(): boolean {
    return this.lastAck?.status === 'complete';
  }

  /** What to send after an interruption: as the fleet's last ack says. */
  private resendSet(): number[] {
    const ack = this.lastAck;
    if (ack === undefined || ack.status === 'unknown') return this.chunks.map((_, i) => i);
    if (ack.status === 'complete') return [];
    return ack.missing.filter((i) => i < this.chunks.length);
  }

  async run(signal: AbortSignal): Promise<void> {
    let resuming = false;
    for (;;) {
      signal.throwIfAborted();
      if (this.acknowledged) return;
      const connectsBefore = this.channel.connects();
      try {
        // The first pass sends every chunk; a resumed one what the fleet says it misses.
        const indices = resuming ? await this.probe(signal) : this.chunks.map((_, i) => i);
        await this.sendPass(indices, signal);
        return;
      } catch (err) {
        signal.throwIfAborted();
        if ((err as { code?: string }).code !== 'E_UPLINK_OFFLINE') throw err;
      }
      await this.nextConnect(connectsBefore, signal);
      resuming = true;
      this.resumes += 1;
    }
  }

  /**
   * Sends the last chunk again, waits up to PROBE_ACK_WAIT_MS for the fleet's ack, and returns
   * what to send then (resendSet). Rejects with E_UPLINK_OFFLINE when the connection dropped
   * again. (A fleet that acks every chunk has answered already; one that never acks leaves the
   * wait to time out, and everything is sent.)
   */
  private async probe(signal: AbortSignal): Promise<number[]> {
    if (this.acknowledged) return [];
    const before = this.acks;
    const last = this.chunks.length - 1;
    await this.channel.publishAcked(this.topic, this.chunks[last] as Uint8Array);
    this.bytesSent += (this.chunks[last] as Uint8Array).byteLength;
    this.chunksSent += 1;
    if (this.acks <= before) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.ackWaiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, PROBE_ACK_WAIT_MS);
        this.ackWaiter = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    signal.throwIfAborted();
    return this.resendSet();
  }

  private async sendPass(indices: readonly number[], signal: AbortSignal): Promise<void> {
    const queue = [...indices];
    let failed = false;
    const worker = async (): Promise<void> => {
      for (let i = queue.shift(); i !== undefined && !failed; i = queue.shift()) {
        signal.throwIfAborted();
        if (this.acknowledged) return;
        const chunk = this.chunks[i] as Uint8Array;
        try {
          await this.channel.publishAcked(this.topic, chunk);
        } catch (err) {
          failed = true;
          throw err;
        }
        this.bytesSent += chunk.byteLength;
        this.chunksSent += 1;
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, queue.length) }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
  }

  /** Resolves once a connection newer than `after` is up, or the fleet acked the whole; rejects on abort. */
  private nextConnect(after: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stop();
        signal.removeEventListener('abort', onAbort);
        this.completeAck = undefined;
        resolve();
      };
      const onAbort = (): void => {
        stop();
        this.completeAck = undefined;
        reject(signal.reason as Error);
      };
      const stop = this.channel.onConnect(() => {
        if (this.channel.connects() > after) done();
      });
      this.completeAck = done;
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      else if (this.channel.connects() > after || this.acknowledged) done();
    });
  }
}
