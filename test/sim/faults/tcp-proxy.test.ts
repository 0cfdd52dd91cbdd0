import { createServer, connect, type Socket } from 'node:net';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { FaultLog } from '../../../sim/faults/fault-log.js';
import { TcpProxy } from '../../../sim/faults/tcp-proxy.js';
import { freePort, listenOnLoopback } from '../../support/ports.js';
import { waitFor } from '../../support/wait-for.js';

/** An mqtt.js client through the proxy, with what it went through counted. */
class WatchedClient {
  connects = 0;
  closes = 0;
  readonly errors: string[] = [];
  readonly received: { payload: string; whileCut: boolean }[] = [];
  readonly client: MqttClient;

  constructor(url: string, proxy: TcpProxy, keepaliveS: number) {
    this.client = mqtt.connect(url, { clientId: `watched-${keepaliveS}`, keepalive: keepaliveS, reconnectPeriod: 100, connectTimeout: 60_000, clean: true });
    this.client.on('connect', () => {
      this.connects += 1;
      this.client.subscribe('t/#', { qos: 1 });
    });
    this.client.on('close', () => (this.closes += 1));
    this.client.on('error', (err) => this.errors.push((err as NodeJS.ErrnoException).code ?? err.message));
    this.client.on('message', (_topic, payload) => this.received.push({ payload: payload.toString(), whileCut: proxy.isCut }));
  }

  /** Publishes and waits until the broker echoed it back through the proxy. */
  async roundTrip(payload: string): Promise<void> {
    await this.client.publishAsync('t/x', payload, { qos: 1 });
    await waitFor(() => this.received.some((m) => m.payload === payload), `${payload} back from the broker through the proxy`);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

describe('TcpProxy between an mqtt.js client and a real broker', () => {
  let broker: EmbeddedBroker;
  let proxy: TcpProxy;
  let log: FaultLog;
  let watched: WatchedClient | undefined;
  beforeEach(async () => {
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
    log = new FaultLog();
    proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: broker.listeningPort, name: 'gw-1', log });
  });
  afterEach(async () => {
    await watched?.close();
    watched = undefined;
    await proxy.close();
    await broker.close();
  });

  it('reset: the client sees the connection reset at once, is refused while cut, and reconnects after restore', async () => {
    const w = new WatchedClient(proxy.url, proxy, 60);
    watched = w;
    await waitFor(() => w.connects === 1, 'the first connect through the proxy');
    await w.roundTrip('before');

    proxy.cut('reset');
    await waitFor(() => w.closes >= 1, 'the client to see the cut');
    expect(w.errors).toContain('ECONNRESET');
    // It keeps trying (every 100 ms) and each attempt is reset: no connect gets through.
    const resetsAtCut = proxy.counters.resets;
    await waitFor(() => proxy.counters.resets >= resetsAtCut + 3, 'three reconnect attempts reset while cut');
    expect(w.connects).toBe(1);
    expect(w.client.connected).toBe(false);

    proxy.restore();
    await waitFor(() => w.connects === 2, 'the client to reconnect after the restore');
    await w.roundTrip('after');
    expect(log.entries().map((e) => [e.kind, e.target, e.action, e.detail['mode']])).toEqual([
      ['partition', 'gw-1', 'start', 'reset'],
      ['partition', 'gw-1', 'end', 'reset'],
    ]);
  });

  it('blackhole: nothing tells the client; its keepalive finds the silence, its reconnects are held, and it gets back in after restore', async () => {
    const w = new WatchedClient(proxy.url, proxy, 1);
    watched = w;
    await waitFor(() => w.connects === 1, 'the first connect through the proxy');
    await w.roundTrip('before');

    proxy.cut('blackhole', 'broker-outage');
    expect(proxy.openConnections).toBe(1); // the socket stays open
    // mqtt.js sends PINGREQ after 1 s of quiet and gives up when no PINGRESP comes back.
    await waitFor(() => w.closes >= 1, 'the client to notice the silence by its keepalive', 20_000);
    expect(w.errors).not.toContain('ECONNRESET');
    // Its next attempt is accepted and held, unanswered, as a blackholed SYN would be.
    await waitFor(() => proxy.counters.heldNew >= 1, 'a reconnect attempt held in the blackhole');
    expect(w.client.connected).toBe(false);

    proxy.restore();
    await waitFor(() => w.connects >= 2, 'the client to get back in after the restore');
    await w.roundTrip('after');
    expect(w.received.filter((m) => m.whileCut)).toEqual([]);
    expect(log.entries().map((e) => [e.kind, e.action])).toEqual([
      ['broker-outage', 'start'],
      ['broker-outage', 'end'],
    ]);
  });

  it('blackhole shorter than the keepalive: the connection carries on intact and what was sent during the cut arrives after it', async () => {
    const w = new WatchedClient(proxy.url, proxy, 60);
    watched = w;
    await waitFor(() => w.connects === 1, 'the first connect through the proxy');
    await w.roundTrip('before');

    proxy.cut('blackhole');
    const socket = w.client.stream as unknown as Socket;
    const written = socket.bytesWritten;
    const published = w.client.publishAsync('t/x', 'during', { qos: 1 });
    // The PUBLISH has left the client (it is in the network, held by the partition).
    await waitFor(() => socket.bytesWritten > written, 'the PUBLISH written into the cut link');
    expect(w.received.some((m) => m.payload === 'during')).toBe(false);

    proxy.restore();
    await published; // its PUBACK came back over the same connection
    await waitFor(() => w.received.some((m) => m.payload === 'during'), 'the message sent during the cut');
    expect(w.received.find((m) => m.payload === 'during')?.whileCut).toBe(false);
    expect(w.connects).toBe(1);
    expect(w.closes).toBe(0);
  });
});

describe('TcpProxy with raw sockets: backpressure, closes, a target that is down', () => {
  it('holds at most about one high-water mark when the target stops reading, and loses nothing when it reads again', async () => {
    const TOTAL = 64 * 1024 * 1024;
    let received = 0;
    let mismatch = false;
    let serverSide: Socket | undefined;
    const server = createServer((s) => {
      serverSide = s;
      s.pause(); // a slow consumer: reads nothing until told
      s.on('data', (chunk: Buffer) => {
        for (let i = 0; i < chunk.length; i += 4096) if (chunk[i] !== (received + i) % 251) mismatch = true;
        received += chunk.length;
      });
    });
    const port = await listenOnLoopback(server);
    const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: port, name: 'slow', highWaterMarkBytes: 64 * 1024 });
    const client = connect({ host: '127.0.0.1', port: proxy.port });
    try {
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      const data = Buffer.alloc(TOTAL);
      for (let i = 0; i < TOTAL; i += 1) data[i] = i % 251;
      client.write(data);
      // The kernel buffers fill, then the proxy stops reading: most of the data waits in the client.
      await waitFor(() => serverSide !== undefined && proxy.counters.bytesToTarget > 0 && client.writableLength > TOTAL / 4, 'the client to be held back');
      expect(proxy.counters.bytesToTarget).toBeLessThan(TOTAL);
      expect(proxy.counters.maxQueuedBytes).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);

      serverSide?.resume();
      await waitFor(() => received === TOTAL, 'every byte at the target', 30_000);
      expect(mismatch).toBe(false);
      expect(proxy.counters.bytesToTarget).toBe(TOTAL);
      expect(proxy.counters.maxQueuedBytes).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
    } finally {
      client.destroy();
      serverSide?.destroy();
      await proxy.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a stream through a blackhole that heals comes out byte for byte, in order, both ways', async () => {
    // An echo server: every byte the client sends comes back through the proxy.
    const server = createServer((s) => s.pipe(s));
    const port = await listenOnLoopback(server);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { minLength: 1, maxLength: 12 }),
          fc.nat(),
          fc.nat(),
          fc.boolean(),
          async (chunks, a, b, echoedBeforeCut) => {
            const cutAt = a % (chunks.length + 1);
            const restoreAt = cutAt + (b % (chunks.length + 1 - cutAt));
            const bytesOf = (cs: readonly Uint8Array[]): number => cs.reduce((n, c) => n + c.length, 0);
            const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: port, name: 'echo', highWaterMarkBytes: 16 * 1024 });
            const client = connect({ host: '127.0.0.1', port: proxy.port });
            const back: Buffer[] = [];
            let backBytes = 0;
            client.on('data', (d: Buffer) => {
              back.push(d);
              backBytes += d.length;
            });
            try {
              await new Promise<void>((resolve) => client.once('connect', () => resolve()));
              // Through to the target: a connection cut before that is held unread, like a SYN in a blackhole.
              await waitFor(() => proxy.counters.connections === 1, 'the connection to the target');
              const before = chunks.slice(0, cutAt);
              for (const c of before) client.write(c);
              // Cut with the echo of what went before still on its way back, or after it arrived.
              if (echoedBeforeCut) await waitFor(() => backBytes >= bytesOf(before), 'the echo of the bytes before the cut');
              proxy.cut('blackhole');
              const during = chunks.slice(cutAt, restoreAt);
              for (const c of during) client.write(c);
              if (during.length > 0) {
                // The proxy has taken bytes of the cut off the wire (held, or, were it to drop them, forwarded and lost).
                await waitFor(() => proxy.counters.bytesToTarget + proxy.held().toTarget > bytesOf(before), 'the proxy to take bytes sent during the cut');
                expect(proxy.counters.bytesToTarget).toBeLessThanOrEqual(bytesOf(before));
              }
              proxy.restore();
              for (const c of chunks.slice(restoreAt)) client.write(c);
              const sent = Buffer.concat(chunks);
              await waitFor(() => backBytes >= sent.length, `${sent.length} bytes echoed`, 10_000);
              expect(Buffer.concat(back).equals(sent)).toBe(true);
            } finally {
              client.destroy();
              await proxy.close();
            }
          },
        ),
        // A failing case costs a 10 s wait: shrinking it would take longer than the test may run.
        { numRuns: 25, endOnFailure: true },
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a close during a blackhole does not cross it: the other end hears of it at the restore', async () => {
    let serverSide: Socket | undefined;
    let serverSawClose = false;
    const server = createServer((s) => {
      serverSide = s;
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      s.once('close', () => (serverSawClose = true));
    });
    const port = await listenOnLoopback(server);
    const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: port, name: 'quiet' });
    try {
      const client = connect({ host: '127.0.0.1', port: proxy.port });
      await waitFor(() => serverSide !== undefined, 'the connection through to the target');
      proxy.cut('blackhole');
      client.destroy();
      await waitFor(() => proxy.counters.heldCloses === 1, 'the proxy to see the client go');
      expect(serverSawClose).toBe(false);
      expect(proxy.openConnections).toBe(1);
      proxy.restore();
      await waitFor(() => serverSawClose, 'the target to hear of the close after the restore');
      expect(proxy.openConnections).toBe(0);
    } finally {
      serverSide?.destroy();
      await proxy.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('refuses a client with a reset when the target is down', async () => {
    const port = await freePort(); // nothing listens there
    const proxy = await TcpProxy.start({ targetHost: '127.0.0.1', targetPort: port, name: 'down' });
    try {
      const client = connect({ host: '127.0.0.1', port: proxy.port });
      const code = await new Promise<string | undefined>((resolve) => {
        client.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
        client.once('close', () => resolve(undefined));
      });
      expect(code).toBe('ECONNRESET');
      expect(proxy.counters.resets).toBe(1);
      expect(proxy.openConnections).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});
