import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

/**
 * The fleet's embedded MQTT broker (aedes, MQTT 3.1.1) on a TCP port. Enough for a plant;
 * past that, gateways and fleet point at an external broker by URL instead.
 *
 * `stop` closes the listener and every client connection but keeps the aedes instance
 * (and its in-memory sessions and retained messages), so `start` again behaves like a
 * broker that came back after an outage.
 */
export class EmbeddedBroker {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  private constructor(
    private readonly aedes: Aedes,
    private readonly host: string,
    private readonly port: number,
  ) {}

  static async create(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker();
    const broker = new EmbeddedBroker(aedes, options.host ?? '127.0.0.1', options.port ?? 0);
    await broker.start();
    return broker;
  }

  /** The bound port (useful after asking for port 0). */
  get listeningPort(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.aedes.handle(socket);
    });
    // Re-listening on the port we had (after stop) keeps clients' URLs valid.
    const port = this.boundPort !== 0 ? this.boundPort : this.port;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = addr !== null && typeof addr === 'object' ? addr.port : port;
    this.server = server;
  }

  /**
   * Subscribes inside the broker's process: no connection that an outage could break, so
   * the fleet service sees every message in the order the broker got it. Returns an
   * unsubscribe function.
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

  /** Stops listening and drops every connection, like a broker that went down. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Stops and releases the aedes instance for good. */
  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}
