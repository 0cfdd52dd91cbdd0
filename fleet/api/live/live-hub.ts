import type { ServerResponse } from 'node:http';
import type { ChangeFeed, FleetChange } from '../../events/change-feed.js';
import type { EventStore } from '../../events/event-store.js';
import type { FleetMetrics } from '../../metrics.js';
import type { GatewayStore } from '../../registry/gateway-store.js';
import { RolloutEventTail } from '../../rollouts/event-tail.js';
import type { RolloutStore } from '../../rollouts/rollout-store.js';
import { SSE_HEADERS, SseWriter, sseComment, sseEvent } from '../sse.js';

export interface LiveOptions {
  /** Streams open at once at most; more get 503 E_TOO_MANY_STREAMS. */
  readonly maxStreams?: number;
  /** Changes are sent in batches this far apart at most (gateways coalesced per batch). */
  readonly batchIntervalMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly keepAliveMs?: number;
  /** Per client: frames and bytes waiting for a slow reader at most, before it gets `resync`. */
  readonly maxQueuedFrames?: number;
  readonly maxQueuedBytes?: number;
  /** Changes noted between two batches at most; past them every client gets `resync`. */
  readonly maxPendingGateways?: number;
  readonly maxPendingEvents?: number;
  readonly maxPendingLearning?: number;
}

export const LIVE_DEFAULTS = {
  maxStreams: 64,
  batchIntervalMs: 1000,
  keepAliveMs: 15_000,
  maxQueuedFrames: 1000,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxPendingGateways: 10_000,
  maxPendingEvents: 2000,
  maxPendingLearning: 1000,
} as const satisfies Required<LiveOptions>;

/** Gateway summaries read per query. */
const SUMMARY_CHUNK = 1000;
/** Rollout decisions read per batch (more wait for the next). */
const ROLLOUT_READ = 500;

export interface LiveSources {
  readonly changes: ChangeFeed;
  readonly gateways: GatewayStore;
  readonly events: EventStore;
  readonly rollouts: RolloutStore;
  readonly metrics: FleetMetrics;
  readonly log: { warn(fields: Record<string, unknown>, message: string): void };
}

const resyncFrame = (reason: string): string => sseEvent('resync', { reason });
const OVERFLOW_REASON = 'this client read too slowly and missed changes; refetch';

/**
 * The fan-out behind `GET /v1/live`. It notes what the change feed says (keys only, bounded),
 * and once per batch interval reads what changed from the database once for every client:
 * gateway summaries (each gateway once per batch, however often it changed), the alerts and
 * events committed, learning news, and the rollout decisions committed since the last batch
 * (read by seq, as every instance sees them). Each frame is serialised once and handed to
 * every client's bounded writer. Nothing runs while no client is connected.
 */
export class LiveHub {
  private readonly o: Required<LiveOptions>;
  private readonly clients = new Set<SseWriter>();
  /** Slots taken by streams still opening (counted against maxStreams). */
  private opening = 0;
  private pendingGateways = new Set<string>();
  private pendingEvents = new Map<string, { gatewayId: string; recordId: string }>();
  private pendingLearning = new Map<string, { taskId: string; round: number | null }>();
  /** Set when more changed than is tracked (or a batch could not be read): every client refetches. */
  private lostTrack: string | null = null;
  private tail: RolloutEventTail | undefined;
  private starting: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private closed = false;
  /** Bumped by each stop: a start still reading when it came leaves no timer behind. */
  private generation = 0;

  constructor(
    private readonly s: LiveSources,
    options: LiveOptions = {},
  ) {
    this.o = { ...LIVE_DEFAULTS, ...options };
  }

  get maxStreams(): number {
    return this.o.maxStreams;
  }

  /** Takes a slot for a stream about to open; false when every slot is taken. */
  reserve(): boolean {
    if (this.closed || this.clients.size + this.opening >= this.o.maxStreams) return false;
    this.opening += 1;
    return true;
  }

  /** Gives back a slot `reserve` took for a stream that did not open. */
  release(): void {
    this.opening = Math.max(0, this.opening - 1);
    if (this.clients.size + this.opening === 0) this.stop();
  }

  /**
   * Starts watching (the change feed, the rollout decisions' position) if nothing watched:
   * resolved once a change committed from now on will reach the stream.
   */
  ready(): Promise<void> {
    this.starting ??= this.start();
    return this.starting;
  }

  private async start(): Promise<void> {
    const generation = this.generation;
    this.unsubscribe = this.s.changes.subscribe((c) => this.note(c));
    let after: number;
    try {
      after = await this.s.rollouts.lastEventSeq();
    } catch (err) {
      if (generation === this.generation) this.stop();
      throw err;
    }
    if (generation !== this.generation) return;
    this.tail = new RolloutEventTail(this.s.rollouts, after);
    this.batchTimer = setInterval(() => void this.flush(), this.o.batchIntervalMs);
    this.keepAliveTimer = setInterval(() => this.broadcast(sseComment('keep-alive')), this.o.keepAliveMs);
    // The server's sockets keep the process up; these only serve them.
    this.batchTimer.unref();
    this.keepAliveTimer.unref();
  }

  /**
   * Opens a stream on a response the route has hijacked, for a slot `reserve` took after
   * `ready` resolved: the head, then `hello` at once.
   */
  attach(res: ServerResponse): SseWriter {
    this.opening = Math.max(0, this.opening - 1);
    res.writeHead(200, SSE_HEADERS);
    const client = new SseWriter(res, { maxFrames: this.o.maxQueuedFrames, maxBytes: this.o.maxQueuedBytes }, () => resyncFrame(OVERFLOW_REASON), () => this.s.metrics.liveResyncs.inc({ reason: 'overflow' }));
    this.clients.add(client);
    this.s.metrics.liveStreams.set(this.clients.size);
    client.send(sseEvent('hello', { serverTimeMs: Date.now() }));
    return client;
  }

  detach(client: SseWriter): void {
    client.close();
    if (!this.clients.delete(client)) return;
    this.s.metrics.liveStreams.set(this.clients.size);
    if (this.clients.size + this.opening === 0) this.stop();
  }

  /** Called by the change feed: notes the key, nothing more (bounded; past the bounds, resync). */
  private note(c: FleetChange): void {
    if (this.lostTrack !== null) return;
    switch (c.kind) {
      case 'gateway':
        this.pendingGateways.add(c.id);
        if (this.pendingGateways.size > this.o.maxPendingGateways) this.loseTrack(`more than ${this.o.maxPendingGateways} gateways changed within a batch; refetch`);
        break;
      case 'event':
        this.pendingEvents.set(`${c.gatewayId}\u0000${c.recordId}`, { gatewayId: c.gatewayId, recordId: c.recordId });
        if (this.pendingEvents.size > this.o.maxPendingEvents) this.loseTrack(`more than ${this.o.maxPendingEvents} alerts and events within a batch; refetch`);
        break;
      case 'learning':
        this.pendingLearning.set(`${c.taskId}\u0000${c.round ?? ''}`, { taskId: c.taskId, round: c.round });
        if (this.pendingLearning.size > this.o.maxPendingLearning) this.loseTrack('too many learning changes within a batch; refetch');
        break;
    }
  }

  private loseTrack(reason: string): void {
    this.lostTrack = reason;
    this.clearPending();
  }

  private clearPending(): void {
    this.pendingGateways = new Set();
    this.pendingEvents = new Map();
    this.pendingLearning = new Map();
  }

  /**
   * The same string goes to every client: frames waiting in several slow clients' queues are
   * one string in memory, so all queues together hold about one client's bound of frames.
   */
  private broadcast(frame: string): void {
    for (const c of this.clients) c.send(frame);
  }

  /** One batch: read what changed since the last, once, and send it to every client. */
  async flush(): Promise<void> {
    if (this.flushing || this.clients.size === 0) return;
    this.flushing = true;
    // Taken now: changes noted while this batch is read go into the next.
    const gateways = [...this.pendingGateways];
    const events = [...this.pendingEvents.values()];
    const learning = [...this.pendingLearning.values()];
    const lost = this.lostTrack;
    this.clearPending();
    this.lostTrack = null;
    try {
      if (lost !== null) {
        this.s.metrics.liveResyncs.inc({ reason: 'lost-track' });
        this.broadcast(resyncFrame(lost));
      } else {
        await this.sendBatch(gateways, events, learning);
      }
      // Decisions are read by seq whatever happened: a resync does not skip them for later.
      const decisions = (await this.tail?.next(ROLLOUT_READ)) ?? [];
      for (const d of decisions) this.broadcast(sseEvent('rollout', d));
    } catch (err) {
      // The database did not answer: what this batch held is lost, so every client refetches (when it can).
      this.s.log.warn({ component: 'api', event: 'live.batch_failed', code: 'E_DB', reason: (err as Error).message }, 'live stream could not read a batch of changes');
      this.s.metrics.liveResyncs.inc({ reason: 'lost-track' });
      this.broadcast(resyncFrame('the fleet could not read a batch of changes from its database; refetch'));
    } finally {
      this.flushing = false;
    }
  }

  private async sendBatch(gateways: readonly string[], events: readonly { gatewayId: string; recordId: string }[], learning: readonly { taskId: string; round: number | null }[]): Promise<void> {
    if (gateways.length > 0) {
      const items = [];
      for (let i = 0; i < gateways.length; i += SUMMARY_CHUNK) items.push(...(await this.s.gateways.byIds(gateways.slice(i, i + SUMMARY_CHUNK))));
      if (items.length > 0) this.broadcast(sseEvent('gateways', { items }));
    }
    if (events.length > 0) {
      const page = await this.s.events.byKeys(events);
      for (const e of page.items) this.broadcast(sseEvent('event', e));
      if (page.more) {
        this.s.metrics.liveResyncs.inc({ reason: 'lost-track' });
        this.broadcast(resyncFrame('more alert and event data within a batch than a stream carries; refetch'));
      }
    }
    for (const l of learning) this.broadcast(sseEvent('learning', l));
  }

  /** Nobody watches: stop reading and noting. */
  private stop(): void {
    clearInterval(this.batchTimer);
    clearInterval(this.keepAliveTimer);
    this.batchTimer = undefined;
    this.keepAliveTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.tail = undefined;
    this.starting = undefined;
    this.generation += 1;
    this.clearPending();
    this.lostTrack = null;
  }

  /** Ends every stream (the server is closing) and takes no more. */
  close(): void {
    this.closed = true;
    for (const c of [...this.clients]) c.close();
    this.clients.clear();
    this.s.metrics.liveStreams.set(0);
    this.stop();
  }
}
