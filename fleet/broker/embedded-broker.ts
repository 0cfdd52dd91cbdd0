import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import type { BrokerLog } from './broker-auth.js';
import { isTopicName } from './acl.js';

/** Bytes a connection may send before its CONNECT is accepted: a CONNECT is a few hundred. */
const PRE_CONNACK_BYTES = 65_536;

/** A TLS listener beside the TCP one. PEM contents (not paths), as node:tls takes them. */
export interface EmbeddedBrokerTls {
  /** 0 or absent: any free port (see `tlsPort`). */
  readonly port?: number;
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** When given, clients must present a certificate signed by this CA (mutual TLS); the password is still checked. */
  readonly ca?: string | Buffer;
}

/**
 * Who may connect and what they may do: the aedes hooks, and optionally a follower of
 * connections (returns a detach function). `BrokerAuth` (the fleet's registry-backed
 * checks) and `StandaloneAuth` (`edgewise broker`) are the two.
 */
export interface BrokerHooks {
  hooks(): Partial<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;
  attach?(aedes: Aedes): () => void;
}

export interface EmbeddedBrokerOptions {
  readonly host?: string;
  readonly port?: number;
  /** Authentication and ACL; without it every client may do anything (tests, the simulator). */
  readonly auth?: BrokerHooks;
  readonly tls?: EmbeddedBrokerTls;
  /** Where client and connection errors go (they never crash the process). */
  readonly log?: BrokerLog;
}

export interface BrokerPublishOptions {
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
}

/**
 * The fleet's embedded MQTT broker (aedes, MQTT 3.1.1) on a TCP port, and optionally a TLS
 * port. Enough for a plant; past that, gateways and fleet point at an external broker by URL
 * instead.
 *
 * `stop` closes the listeners and every client connection but keeps the aedes instance
 * (and its in-memory sessions and retained messages), so `start` again behaves like a
 * broker that came back after an outage.
 */
export class EmbeddedBroker {
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  private boundTlsPort = 0;
  private detachAuth: (() => void) | undefined;

  private constructor(
    private readonly aedes: Aedes,
    private readonly host: string,
    private readonly port: number,
    private readonly tls: EmbeddedBrokerTls | undefined,
  ) {}

  static async create(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker(options.auth?.hooks() ?? {});
    // aedes reports a client's protocol errors, refused CONNECTs, dropped connections and
    // garbage bytes as events; an 'error' event without a listener would throw and end the
    // process, so each one is taken here, logged, and the broker carries on.
    const log = options.log;
    aedes.on('clientError', (client: Client, err: Error) => log?.warn({ component: 'broker', code: (err as { code?: string }).code ?? 'E_MQTT_CLIENT', clientId: client.id, err: err.message }, 'client error'));
    aedes.on('connectionError', (_client: Client, err: Error) => log?.warn({ component: 'broker', code: 'E_MQTT_CONNECTION', err: err.message }, 'connection error before CONNECT'));
    (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log?.warn({ component: 'broker', code: 'E_MQTT_BROKER', err: err.message }, 'broker error'));
    const broker = new EmbeddedBroker(aedes, options.host ?? '127.0.0.1', options.port ?? 0, options.tls);
    broker.detachAuth = options.auth?.attach?.(aedes);
    aedes.on('client', (client: Client) => broker.connected(client));
    try {
      await broker.start();
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  /** The bound port (useful after asking for port 0). */
  get listeningPort(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.boundPort}`;
  }

  /** True while the TCP listener (and the TLS one, when configured) accept connections. */
  get listening(): boolean {
    return this.server?.listening === true && (this.tls === undefined || this.tlsServer?.listening === true);
  }

  /** The bound TLS port; 0 without a TLS listener. */
  get tlsPort(): number {
    return this.boundTlsPort;
  }

  /** `mqtts://host:port` of the TLS listener, or undefined without one. */
  get tlsUrl(): string | undefined {
    return this.tls === undefined ? undefined : `mqtts://${this.host}:${this.boundTlsPort}`;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // aedes buffers a packet of any announced length (up to 256 MB) before it looks at it:
    // a stranger could fill the fleet's memory before logging in. Until the CONNECT has been
    // answered, a connection may send PRE_CONNACK_BYTES at most.
    let before = 0;
    const guard = (chunk: Buffer): void => {
      before += chunk.length;
      if (before > PRE_CONNACK_BYTES) socket.destroy();
    };
    socket.on('data', guard);
    this.connackWaiters.set(socket, () => socket.off('data', guard));
    socket.once('close', () => this.connackWaiters.delete(socket));
    this.aedes.handle(socket);
  }

  /** aedes registered a client (its CONNECT was accepted): its socket may send packets of any size now. */
  private connected(client: Client): void {
    const conn = (client as Client & { conn?: unknown }).conn as Socket | undefined;
    if (conn === undefined) return;
    this.connackWaiters.get(conn)?.();
    this.connackWaiters.delete(conn);
  }

  /** Sockets still before their CONNACK, and what to do once they are past it. */
  private readonly connackWaiters = new Map<Socket, () => void>();

  private static async listen(server: Server, port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Later errors (EMFILE on accept, say) must not crash the process.
    server.on('error', () => {});
    const addr = server.address();
    return addr !== null && typeof addr === 'object' ? addr.port : port;
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((socket) => this.track(socket));
    // Re-listening on the port we had (after stop) keeps clients' URLs valid.
    this.boundPort = await EmbeddedBroker.listen(server, this.boundPort !== 0 ? this.boundPort : this.port, this.host);
    this.server = server;
    if (this.tls !== undefined) {
      const t = this.tls;
      const tlsServer = createTlsServer({ key: t.key, cert: t.cert, ...(t.ca === undefined ? {} : { ca: t.ca, requestCert: true, rejectUnauthorized: true }) }, (socket) => this.track(socket));
      // A failed handshake (wrong CA, no client certificate) ends that socket only.
      tlsServer.on('tlsClientError', () => {});
      try {
        this.boundTlsPort = await EmbeddedBroker.listen(tlsServer, this.boundTlsPort !== 0 ? this.boundTlsPort : (t.port ?? 0), this.host);
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.tlsServer = tlsServer;
    }
  }

  /**
   * Subscribes inside the broker's process: no connection that an outage could break, so
   * the fleet service sees every message in the order the broker got it. No ACL applies (the
   * fleet is trusted in-process). Returns an unsubscribe function.
   */
  async subscribe(filter: string, onMessage: (topic: string, payload: Buffer) => void): Promise<() => Promise<void>> {
    const deliver = (packet: { topic: string; payload: Buffer | string }, done: () => void): void => {
      try {
        onMessage(packet.topic, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload);
      } finally {
        done();
      }
    };
    await new Promise<void>((resolve) => this.aedes.subscribe(filter, deliver, resolve));
    return () => new Promise<void>((resolve) => this.aedes.unsubscribe(filter, deliver, resolve));
  }

  /**
   * Publishes the fleet's own message (a release notice, say) to every subscriber, MQTT
   * clients and in-process ones. Broker-internal: no ACL check.
   */
  async publish(topic: string, payload: Buffer | string, options: BrokerPublishOptions = {}): Promise<void> {
    if (!isTopicName(topic)) throw new TypeError(`cannot publish to ${JSON.stringify(topic)}: a topic name is non-empty and has no wildcards`);
    await new Promise<void>((resolve, reject) =>
      this.aedes.publish({ cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: options.qos ?? 0, retain: options.retain ?? false, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Whether a client with this id has a live session here. */
  isConnected(clientId: string): boolean {
    return this.clients()[clientId] !== undefined;
  }

  /**
   * Ends a client's live connection (a revoked gateway: `dropClient(gatewayClientId(id))`).
   * Its Last Will is suppressed unless `publishWill`: the registry marks a revoked gateway
   * offline itself and ingest ignores a revoked gateway's state, so the Will could only say
   * something stale; nothing a revoked gateway sends should go out. False if not connected.
   */
  async dropClient(clientId: string, options: { publishWill?: boolean } = {}): Promise<boolean> {
    const client = this.clients()[clientId];
    if (client === undefined) return false;
    if (options.publishWill !== true) (client as Client & { will: unknown }).will = null;
    await new Promise<void>((resolve) => client.close(() => resolve()));
    return true;
  }

  private clients(): Record<string, Client | undefined> {
    // Not in aedes' typings, but public and documented: `aedes.clients[id]`.
    return (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
  }

  /** Stops listening and drops every connection, like a broker that went down. */
  async stop(): Promise<void> {
    const servers = [this.server, this.tlsServer].filter((s): s is Server => s !== undefined);
    this.server = undefined;
    this.tlsServer = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  /** Stops and releases the aedes instance for good. */
  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    // After aedes has closed its clients, so the gauge saw every disconnect.
    this.detachAuth?.();
    this.detachAuth = undefined;
  }
}
