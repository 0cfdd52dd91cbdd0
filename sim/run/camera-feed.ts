import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConveyorScene, type ConveyorFrame } from '../camera/index.js';
import { H264Writer } from '../video/encode-h264.js';
import { PartExits } from './camera-truth.js';

export interface CameraFeedOptions {
  /** Names the feed in errors (the gateway's id). */
  readonly name: string;
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  /** Share of parts with a defect, 0..1. */
  readonly defectShare: number;
  readonly seed: number;
}

export interface CameraFeedCounters {
  /** Scene frames encoded and offered to the clients (frame 0 on, from `play`). */
  framesShown: number;
  /** Pictures of the still belt before `play` (frame 0 again and again). */
  framesStill: number;
  /** Scene frames skipped because the feed was more than a second behind its clock (not shown, not in the truth). */
  framesLate: number;
  /** Pictures not sent to a client because its socket held too much already (it then waits for a keyframe). */
  picturesDropped: number;
  /** Pictures not sent to a client that joined or dropped since the last keyframe. */
  picturesBeforeKey: number;
  connections: number;
  /** Connections refused because MAX_CLIENTS were open. */
  refused: number;
  bytesSent: number;
}

/** Clients at once: the gateway, and its next process life while the old socket closes. */
const MAX_CLIENTS = 4;
/** Bytes queued in one client's socket beyond which pictures are dropped for it (two seconds of this stream, about). */
const MAX_QUEUED_BYTES = 256 * 1024;
/** Falling further behind the clock than this skips frames, as a camera drops them, rather than bursting. */
const MAX_LAG_MS = 1000;
/**
 * An access unit delimiter after each picture: the gateway's Annex B parser ends a picture
 * when the next one starts, so without it every frame would wait a frame period (200 ms at 5
 * fps) for the next, and reach the vision stage that late (the RTSP input does the same).
 */
const TRAILING_AUD = Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0);

interface Client {
  readonly socket: Socket;
  /** Sends nothing until a keyframe: it joined, or a picture was dropped for it. */
  needKey: boolean;
}

/**
 * The simulated conveyor camera of one gateway: sim/camera's scene rendered at its frame
 * rate, encoded to H.264 (node-webcodecs' libopenh264) and served live as a raw Annex B
 * stream on a TCP port of 127.0.0.1, which the gateway's camera source connects to (`input:
 * { tcp }`), as it would to an encoder. It is live, not a file: a picture goes to whoever is
 * connected when it is made, a client that joins (a restarted gateway) gets a keyframe at
 * once, and one that reads too slowly loses pictures until the next keyframe (the socket's
 * queue is bounded), as a camera drops them.
 *
 * Until `play` the belt stands (frame 0 shown at the frame rate), so the gateway can connect
 * and settle; from `play`, frame i of the scene is shown at i / fps after it, which makes the
 * scene a function of the seed and the run's clock. Each shown frame's parts go to the ground
 * truth (`exits`) with the wall-clock time it was sent.
 */
export class CameraFeed {
  readonly counters: CameraFeedCounters = { framesShown: 0, framesStill: 0, framesLate: 0, picturesDropped: 0, picturesBeforeKey: 0, connections: 0, refused: 0, bytesSent: 0 };
  readonly exits = new PartExits();
  private readonly scene: ConveyorScene;
  private readonly first: ConveyorFrame;
  private readonly writer: H264Writer;
  private readonly clients = new Set<Client>();
  private readonly abort = new AbortController();
  private readonly periodMs: number;
  private loop: Promise<void> | undefined;
  private playFrom: number | undefined;
  private wantKey = false;
  private failure: Error | undefined;

  private constructor(
    private readonly o: CameraFeedOptions,
    private readonly server: Server,
  ) {
    this.periodMs = 1000 / o.fps;
    this.scene = new ConveyorScene({ width: o.width, height: o.height, fps: o.fps, seed: o.seed, defectShare: o.defectShare });
    this.first = this.scene.next();
    // 6 bits per pixel per second: at 320x240 and 5 fps about 12 KB a picture, which keeps a
    // 2-px scratch on a 40-px part (the default's 2 bits smear it into the part's shading).
    this.writer = new H264Writer({ width: o.width, height: o.height, framerate: o.fps, bitrate: o.width * o.height * 6, onChunk: (bytes, key) => this.send(bytes, key) });
    server.on('connection', (socket) => this.join(socket));
  }

  /** Listens on 127.0.0.1 (port 0: any free one) and starts showing the still belt. */
  static async start(options: CameraFeedOptions): Promise<CameraFeed> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const feed = new CameraFeed(options, server);
    feed.loop = feed.run();
    return feed;
  }

  /** `host:port` for the gateway's `input: { tcp }`. */
  get address(): string {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error(`camera ${this.o.name}: the server has no TCP address`);
    return `${a.address}:${a.port}`;
  }

  get frameMs(): number {
    return this.periodMs;
  }

  /** The encoder's failure, if it failed (the feed then stops showing frames). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** The belt starts: frame 0 of the scene is shown at once, frame i at i / fps from now. */
  play(): void {
    this.playFrom ??= performance.now();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.writer.end().catch(() => undefined);
    for (const c of this.clients) c.socket.destroy();
    this.clients.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const stillFrom = performance.now();
    let still = 0;
    let shown = 0;
    try {
      while (!signal.aborted) {
        const playing = this.playFrom !== undefined;
        const due = playing ? (this.playFrom as number) + shown * this.periodMs : stillFrom + still * this.periodMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        if (!playing || this.playFrom === undefined) {
          still += 1;
          this.counters.framesStill += 1;
          await this.encode(this.first);
          continue;
        }
        const frame = shown === 0 ? this.first : this.scene.next();
        shown += 1;
        if (performance.now() - due > MAX_LAG_MS) {
          this.counters.framesLate += 1;
          continue;
        }
        this.exits.see(frame.index, Date.now(), frame.parts, frame.width);
        this.counters.framesShown += 1;
        await this.encode(frame);
      }
    } catch (err) {
      // The encoder failed: the camera goes dark (the gateway reconnects and waits); the runner reports it.
      this.failure = err as Error;
    }
  }

  private async encode(frame: ConveyorFrame): Promise<void> {
    const keyFrame = this.wantKey;
    this.wantKey = false;
    await this.writer.write({ y: frame.y, u: frame.u, v: frame.v }, { keyFrame });
  }

  private join(socket: Socket): void {
    if (this.clients.size >= MAX_CLIENTS) {
      this.counters.refused += 1;
      socket.destroy();
      return;
    }
    this.counters.connections += 1;
    socket.setNoDelay(true);
    const client: Client = { socket, needKey: true };
    this.clients.add(client);
    // Its first picture is the next one, as a keyframe.
    this.wantKey = true;
    // Nothing is read from the gateway; an error (a reset) ends the client like a close.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.clients.delete(client));
    socket.resume();
  }

  private send(bytes: Uint8Array, key: boolean): void {
    for (const c of this.clients) {
      if (c.needKey && !key) {
        this.counters.picturesBeforeKey += 1;
        continue;
      }
      if (c.socket.writableLength > MAX_QUEUED_BYTES) {
        // A picture lost breaks the ones that refer to it: this client waits for the next keyframe, asked for now.
        this.counters.picturesDropped += 1;
        c.needKey = true;
        this.wantKey = true;
        continue;
      }
      c.needKey = false;
      c.socket.write(bytes);
      c.socket.write(TRAILING_AUD);
      this.counters.bytesSent += bytes.length + TRAILING_AUD.length;
    }
  }
}
