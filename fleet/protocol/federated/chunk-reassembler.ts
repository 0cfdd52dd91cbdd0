import { isGatewayId } from '../topics.js';
import { chunkError, decodeChunk, sha256, type Chunk } from './chunks.js';
import { FederatedError } from './errors.js';
import { DEFAULT_UPDATE_LIMITS } from './tensor.js';

export interface ReassemblerOptions {
  /** Milliseconds, from a clock that does not jump (the fleet passes a monotonic one; tests a fake). */
  readonly now: () => number;
  /** Updates being assembled at once, over all senders. */
  readonly maxUpdates?: number;
  /** Per sender, so that one gateway cannot take every slot. */
  readonly maxUpdatesPerSender?: number;
  /** Bytes reserved by updates being assembled (each reserves its whole size at its first chunk). */
  readonly maxTotalBytes?: number;
  readonly maxUpdateBytes?: number;
  /** An update that made no progress (no new chunk) for this long is dropped. */
  readonly ttlMs?: number;
  /** Recently completed updates remembered, so that a redelivered chunk of one is a duplicate, not a new update. */
  readonly maxCompletedRemembered?: number;
}

const DEFAULTS = {
  maxUpdates: 256,
  maxUpdatesPerSender: 2,
  maxTotalBytes: 64 * 1024 * 1024,
  maxUpdateBytes: DEFAULT_UPDATE_LIMITS.maxMessageBytes,
  ttlMs: 10 * 60 * 1000,
  maxCompletedRemembered: 4096,
};

export type AcceptResult =
  | { readonly status: 'partial'; readonly sender: string; readonly updateId: string; readonly received: number; readonly count: number }
  /** The chunk was held already, or its update was completed recently (QoS 1 redelivers). */
  | { readonly status: 'duplicate'; readonly sender: string; readonly updateId: string }
  | { readonly status: 'complete'; readonly sender: string; readonly updateId: string; readonly sha256: string; readonly bytes: Uint8Array };

export type MissingReport =
  /** Nothing of it is held (never seen, dropped, or expired): the sender sends every chunk. */
  | { readonly state: 'unknown' }
  | { readonly state: 'complete' }
  | { readonly state: 'assembling'; readonly count: number; readonly missing: readonly number[] };

export interface DroppedUpdate {
  readonly sender: string;
  readonly updateId: string;
  readonly received: number;
  readonly count: number;
}

interface Assembly {
  readonly sender: string;
  readonly updateId: string;
  readonly sha: string;
  readonly totalBytes: number;
  readonly chunkBytes: number;
  readonly count: number;
  readonly buffer: Uint8Array;
  /** 1 where chunk i is held. */
  readonly held: Uint8Array;
  received: number;
  lastProgressMs: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Puts chunked updates back together on the fleet side: chunks in any order, duplicates
 * ignored, missing indices reported for a resume after a reconnect, every resource bounded
 * (updates at once, per sender, reserved bytes, a TTL), and the whole checked against the
 * SHA-256 the chunks carry before it is handed on.
 *
 * An update is (sender, update id, SHA-256): the sender comes from the MQTT topic (the broker's
 * ACL makes it the publisher's own id), so one gateway's chunks never touch another's.
 */
export class ChunkReassembler {
  private readonly o: Required<ReassemblerOptions>;
  private readonly assemblies = new Map<string, Assembly>();
  /** Completed keys -> when, oldest first (a Map keeps insertion order). */
  private readonly completed = new Map<string, number>();
  private reservedBytes = 0;

  constructor(options: ReassemblerOptions) {
    this.o = { ...DEFAULTS, ...options };
    for (const k of ['maxUpdates', 'maxUpdatesPerSender', 'maxTotalBytes', 'maxUpdateBytes', 'ttlMs', 'maxCompletedRemembered'] as const) {
      const v = this.o[k];
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ChunkReassembler: ${k} must be an integer >= 1, got ${v}`);
    }
  }

  /** Updates being assembled and the bytes they reserve. */
  get stats(): { readonly updates: number; readonly reservedBytes: number } {
    return { updates: this.assemblies.size, reservedBytes: this.reservedBytes };
  }

  /**
   * Takes one chunk message from `sender`. Throws E_FEDERATED_CHUNK (malformed, or at odds
   * with what was received of the same update), E_FEDERATED_CAPACITY (a new update over a
   * bound; nothing kept) or E_FEDERATED_CHECKSUM (complete but not matching its digest; the
   * update is dropped and must be sent again).
   */
  accept(sender: string, bytes: Uint8Array): AcceptResult {
    if (typeof sender !== 'string' || !isGatewayId(sender)) throw chunkError('sender', `expected a gateway id, got ${JSON.stringify(sender)}`);
    const chunk = decodeChunk(bytes, this.o.maxUpdateBytes);
    this.sweep();
    const sha = hex(chunk.sha256);
    const key = `${sender}/${chunk.updateId}/${sha}`;
    const { updateId } = chunk;
    if (this.completed.has(key)) return { status: 'duplicate', sender, updateId };
    const a = this.assemblies.get(key) ?? this.begin(key, sender, sha, chunk);
    if (a.totalBytes !== chunk.totalBytes || a.chunkBytes !== chunk.chunkBytes || a.count !== chunk.count) {
      throw chunkError('chunk', `update "${updateId}" from ${sender} is ${a.totalBytes} bytes in ${a.count} chunks of ${a.chunkBytes}, this chunk says ${chunk.totalBytes} in ${chunk.count} of ${chunk.chunkBytes} (a sender keeps its chunking for an update)`);
    }
    const offset = chunk.index * a.chunkBytes;
    if (a.held[chunk.index] === 1) {
      const same = Buffer.compare(Buffer.from(a.buffer.buffer, a.buffer.byteOffset + offset, chunk.data.length), Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.length)) === 0;
      if (!same) throw chunkError('chunk.d', `chunk ${chunk.index} of "${updateId}" from ${sender} differs from the copy received before`);
      return { status: 'duplicate', sender, updateId };
    }
    a.buffer.set(chunk.data, offset);
    a.held[chunk.index] = 1;
    a.received += 1;
    a.lastProgressMs = this.o.now();
    if (a.received < a.count) return { status: 'partial', sender, updateId, received: a.received, count: a.count };
    this.remove(key, a);
    if (hex(sha256(a.buffer)) !== sha) {
      throw new FederatedError('E_FEDERATED_CHECKSUM', 'chunk.sha', `update "${updateId}" from ${sender}: the ${a.totalBytes} bytes do not hash to the SHA-256 its chunks carry; dropped, to be sent again`);
    }
    this.remember(key);
    return { status: 'complete', sender, updateId, sha256: sha, bytes: a.buffer };
  }

  /** Which chunks of an update are still missing: what a resuming sender sends again. */
  missing(sender: string, updateId: string, sha256Hex: string): MissingReport {
    this.sweep();
    const key = `${sender}/${updateId}/${sha256Hex.toLowerCase()}`;
    if (this.completed.has(key)) return { state: 'complete' };
    const a = this.assemblies.get(key);
    if (a === undefined) return { state: 'unknown' };
    const missing: number[] = [];
    a.held.forEach((h, i) => {
      if (h === 0) missing.push(i);
    });
    return { state: 'assembling', count: a.count, missing };
  }

  /** Drops updates past their TTL (also done on every accept and missing); returns them. */
  sweep(): DroppedUpdate[] {
    const now = this.o.now();
    const dropped: DroppedUpdate[] = [];
    for (const [key, a] of this.assemblies) {
      if (now - a.lastProgressMs > this.o.ttlMs) {
        this.remove(key, a);
        dropped.push({ sender: a.sender, updateId: a.updateId, received: a.received, count: a.count });
      }
    }
    for (const [key, at] of this.completed) {
      if (now - at <= this.o.ttlMs) break;
      this.completed.delete(key);
    }
    return dropped;
  }

  private begin(key: string, sender: string, sha: string, c: Chunk): Assembly {
    if (this.assemblies.size >= this.o.maxUpdates) throw this.full(`${this.o.maxUpdates} updates are being assembled`);
    let ofSender = 0;
    for (const a of this.assemblies.values()) if (a.sender === sender) ofSender += 1;
    if (ofSender >= this.o.maxUpdatesPerSender) throw this.full(`${sender} has ${ofSender} updates being assembled, at most ${this.o.maxUpdatesPerSender}`);
    if (this.reservedBytes + c.totalBytes > this.o.maxTotalBytes) throw this.full(`${this.reservedBytes} bytes reserved, ${c.totalBytes} more would pass ${this.o.maxTotalBytes}`);
    const a: Assembly = { sender, updateId: c.updateId, sha, totalBytes: c.totalBytes, chunkBytes: c.chunkBytes, count: c.count, buffer: new Uint8Array(c.totalBytes), held: new Uint8Array(c.count), received: 0, lastProgressMs: this.o.now() };
    this.assemblies.set(key, a);
    this.reservedBytes += c.totalBytes;
    return a;
  }

  private full(why: string): FederatedError {
    return new FederatedError('E_FEDERATED_CAPACITY', 'reassembler', `${why}; the update was not started, send it again later`);
  }

  private remove(key: string, a: Assembly): void {
    if (this.assemblies.delete(key)) this.reservedBytes -= a.totalBytes;
  }

  private remember(key: string): void {
    this.completed.set(key, this.o.now());
    if (this.completed.size > this.o.maxCompletedRemembered) this.completed.delete(this.completed.keys().next().value as string);
  }
}
