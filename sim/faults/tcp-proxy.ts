import { connect, createServer, type Server, type Socket } from 'node:net';
import { FaultToolError } from './errors.js';
import type { FaultEventKind, FaultLog } from './fault-log.js';

/**
 * How a cut looks to the two ends.
 * - `reset`: every connection is torn down with a TCP RST and new ones are reset at once.
 *   mqtt.js sees `ECONNRESET` and reconnects with its backoff within a second or so: a broker
 *   that crashed, or a firewall that rejects.
 * - `blackhole`: connections stay open and nothing gets through either way, new ones included
 *   (held, not answered). Neither end is told: mqtt.js notices only when its keepalive PINGREQ
 *   goes unanswered (1.5 x keepalive), and a CONNECT waits for its connect timeout. This is
 *   what a pulled uplink, a dead switch or a partition looks like.
 *
 * A blackhole holds bytes rather than dropping them: TCP never delivers a stream with a hole
 * (it retransmits until the path heals or it gives up), so dropping bytes inside a connection
 * would hand MQTT a corrupt stream after the restore, which no network does. Holding (the
 * proxy stops reading; kernel buffers and then the sender's own buffer take the rest) is what
 * a healed partition does: connections that both ends kept open carry on intact; those that
 * an end gave up on are closed when the proxy reads again.
 */
export type CutMode = 'reset' | 'blackhole';

export interface TcpProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Name in the fault log (`target`): the gateway whose link this is, say. */
  readonly name: string;
  readonly log?: FaultLog;
  /** Connections held at once (open, or waiting in a blackhole); more are refused. Default 256. */
  readonly maxConnections?: number;
  /** Bytes the proxy queues towards one side before it stops reading the other (per direction). Default 64 KiB. */
  readonly highWaterMarkBytes?: number;
}

export interface TcpProxyCounters {
  /** Connections accepted and forwarded to the target. */
  connections: number;
  /** Connections reset because the proxy was cut (reset mode), or because the target refused. */
  resets: number;
  /** Connections held in a blackhole when they arrived. */
  heldNew: number;
  bytesToTarget: number;
  bytesFromTarget: number;
  cuts: number;
  /** Connections one end closed during a blackhole, the other end told only at the restore. */
  heldCloses: number;
  /** The most bytes ever queued by the proxy towards one side (at most about highWaterMarkBytes plus one read). */
  maxQueuedBytes: number;
}

/** One client connection and its connection to the target. */
interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Connected to the target and its data handlers attached: only then may the sockets flow (a flowing socket without them would lose bytes). */
  forwarding: boolean;
  /** One end closed during a blackhole: the other end hears of it only at the restore (nothing crosses a partition). */
  closedInBlackhole: boolean;
}

/**
 * A TCP proxy between a gateway and its broker, on 127.0.0.1 port 0, that the simulator cuts
 * and restores (network partition, broker outage). Each direction is forwarded with
 * backpressure: when one side cannot take more, the other is no longer read, so the proxy
 * holds at most one high-water mark of bytes per direction.
 */
export class TcpProxy {
  readonly counters: TcpProxyCounters = { connections: 0, resets: 0, heldNew: 0, bytesToTarget: 0, bytesFromTarget: 0, cuts: 0, heldCloses: 0, maxQueuedBytes: 0 };
  private readonly pairs = new Set<Pair>();
  private cutMode: CutMode | null = null;
  private cutKind: FaultEventKind = 'partition';
  private cutAtMs = 0;
  private boundPort = 0;
  private readonly highWaterMark: number;

  private constructor(
    private readonly server: Server,
    private readonly options: TcpProxyOptions,
  ) {
    this.highWaterMark = options.highWaterMarkBytes ?? 64 * 1024;
  }

  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ pauseOnConnect: true });
    const proxy = new TcpProxy(server, options);
    server.maxConnections = options.maxConnections ?? 256;
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new FaultToolError('E_PROXY_LISTEN', `proxy ${options.name}: cannot listen on 127.0.0.1: ${err.message}`, { cause: err })));
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr !== 'object') throw new FaultToolError('E_PROXY_LISTEN', `proxy ${options.name}: no TCP address`);
    proxy.boundPort = addr.port;
    return proxy;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `mqtt://127.0.0.1:PORT`: what the gateway's uplink.url points at instead of the broker. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.boundPort}`;
  }

  get isCut(): boolean {
    return this.cutMode !== null;
  }

  get mode(): CutMode | null {
    return this.cutMode;
  }

  /**
   * Bytes the proxy has read and not passed on, each way: during a blackhole, what it holds
   * (up to a socket's read buffer each; the rest waits in the kernel and in the sender).
   */
  held(): { readonly toTarget: number; readonly fromTarget: number } {
    let toTarget = 0;
    let fromTarget = 0;
    for (const pair of this.pairs) {
      toTarget += pair.client.readableLength;
      fromTarget += pair.upstream?.readableLength ?? 0;
    }
    return { toTarget, fromTarget };
  }

  /** Connections open now (forwarded or held). */
  get openConnections(): number {
    return this.pairs.size;
  }

  /**
   * Cuts the link. `kind` is what the fault log calls it (`partition` for one gateway's link,
   * `broker-outage` when every proxy is cut at once).
   */
  cut(mode: CutMode, kind: FaultEventKind = 'partition'): void {
    if (this.cutMode !== null) return;
    this.cutMode = mode;
    this.cutKind = kind;
    this.cutAtMs = performance.now();
    this.counters.cuts += 1;
    this.options.log?.record(kind, this.options.name, 'start', { mode, connections: this.pairs.size });
    for (const pair of [...this.pairs]) {
      if (mode === 'reset') this.reset(pair);
      else {
        pair.client.pause();
        pair.upstream?.pause();
      }
    }
  }

  /** Lets traffic through again: held connections carry on, held new ones reach the target now. */
  restore(): void {
    const mode = this.cutMode;
    if (mode === null) return;
    this.cutMode = null;
    this.options.log?.record(this.cutKind, this.options.name, 'end', { mode, cutForMs: Math.round(performance.now() - this.cutAtMs), connections: this.pairs.size });
    for (const pair of [...this.pairs]) {
      if (pair.closedInBlackhole) this.destroy(pair);
      else if (pair.upstream === undefined) this.connectUpstream(pair);
      else if (pair.forwarding) {
        pair.client.resume();
        pair.upstream.resume();
      } // else still connecting: its connect handler lets it flow
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.destroy(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined, forwarding: false, closedInBlackhole: false };
    this.pairs.add(pair);
    client.on('error', () => undefined); // the close that follows tears the pair down
    client.once('close', () => this.sideClosed(pair));
    if (this.cutMode === 'reset') {
      this.reset(pair);
      return;
    }
    if (this.cutMode === 'blackhole') {
      this.counters.heldNew += 1; // paused on connect: not read until restore
      return;
    }
    this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = connect({ host: this.options.targetHost, port: this.options.targetPort });
    pair.upstream = upstream;
    upstream.pause();
    upstream.on('error', () => undefined);
    let connected = false;
    upstream.once('close', () => {
      // The target refused (the broker is down): the client is refused too, as it would be without the proxy.
      if (!connected) this.reset(pair);
      else this.sideClosed(pair);
    });
    upstream.once('connect', () => {
      connected = true;
      this.counters.connections += 1;
      this.forward(pair, pair.client, upstream, 'bytesToTarget');
      this.forward(pair, upstream, pair.client, 'bytesFromTarget');
      pair.forwarding = true;
      if (this.cutMode === null) {
        pair.client.resume();
        upstream.resume();
      }
    });
  }

  /** Copies `from` into `to`, and stops reading `from` while `to` holds a high-water mark of unsent bytes. */
  private forward(pair: Pair, from: Socket, to: Socket, counter: 'bytesToTarget' | 'bytesFromTarget'): void {
    from.on('data', (chunk: Buffer) => {
      this.counters[counter] += chunk.length;
      to.write(chunk);
      if (to.writableLength > this.counters.maxQueuedBytes) this.counters.maxQueuedBytes = to.writableLength;
      if (to.writableLength >= this.highWaterMark) {
        from.pause();
        to.once('drain', () => {
          if (this.cutMode === null) from.resume();
        });
      }
    });
    // A FIN is passed on (MQTT does not half-close, but it must not be lost), except across a blackhole.
    from.once('end', () => {
      if (this.cutMode === 'blackhole') this.sideClosed(pair);
      else to.end();
    });
  }

  private sideClosed(pair: Pair): void {
    if (this.cutMode === 'blackhole') {
      if (!pair.closedInBlackhole) this.counters.heldCloses += 1;
      pair.closedInBlackhole = true;
    } else this.destroy(pair);
  }

  private reset(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    this.counters.resets += 1;
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
