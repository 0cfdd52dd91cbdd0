import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

/** Debian's Python, which has the GStreamer bindings (python3-gi); not a pyenv shim that may not. */
export const PYTHON_BIN = '/usr/bin/python3';
export const RTSP_SERVER_SCRIPT = fileURLToPath(new URL('./rtsp-server.py', import.meta.url));

export interface RtspServerOptions {
  /** A raw H.264 Annex B file, served in a loop. */
  readonly file: string;
  /** 0 (the default): the system's choice. A server that is restarted on the same port should get `freePort()`. */
  readonly port?: number;
  readonly path?: string;
  readonly fps?: number;
  /** Largest RTP packet: small values make FU-A fragments of most NAL units. */
  readonly mtu?: number;
  readonly sessionTimeoutS?: number;
  /** Drops every Nth RTP packet (or packet list) after the payloader. */
  readonly dropEvery?: number;
  readonly user?: string;
  readonly password?: string;
  readonly auth?: 'digest' | 'basic';
}

/**
 * GStreamer's RTSP server (gst-rtsp-server through Python, test/support/rtsp-server.py) on
 * 127.0.0.1, run by the test: an independent implementation of the protocol the camera
 * input speaks, serving a clip in a loop with RTP over the RTSP connection.
 */
export class RtspTestServer {
  private child: ChildProcess | undefined;
  private out = '';
  private err = '';
  /** The port bound (known after the first start; restarts reuse it). */
  port = 0;

  constructor(private readonly options: RtspServerOptions) {}

  static async start(options: RtspServerOptions): Promise<RtspTestServer> {
    const server = new RtspTestServer(options);
    await server.start();
    return server;
  }

  url(withCredentials?: string): string {
    return `rtsp://${withCredentials === undefined ? '' : `${withCredentials}@`}127.0.0.1:${this.port}${this.options.path ?? '/cam'}`;
  }

  /** What the server printed on stdout (READY, TEARDOWN, DROPPED lines), across restarts. */
  get stdout(): string {
    return this.out;
  }

  /** RTP packets the server dropped on purpose (`dropEvery`), from its DROPPED lines. */
  get droppedPackets(): number {
    return [...this.out.matchAll(/^DROPPED (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  get teardowns(): number {
    return [...this.out.matchAll(/^TEARDOWN$/gm)].length;
  }

  /** Starts the server (again, on the port it had, after `kill`). */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const o = this.options;
    const port = this.port !== 0 ? this.port : (o.port ?? 0);
    const args = [RTSP_SERVER_SCRIPT, '--file', o.file, '--port', String(port), '--path', o.path ?? '/cam', '--fps', String(o.fps ?? 30), '--mtu', String(o.mtu ?? 1400)];
    if (o.sessionTimeoutS !== undefined) args.push('--session-timeout', String(o.sessionTimeoutS));
    if (o.dropEvery !== undefined) args.push('--drop-every', String(o.dropEvery));
    if (o.user !== undefined) args.push('--user', o.user, '--password', o.password ?? '', '--auth', o.auth ?? 'digest');
    const before = this.out.length;
    const child = spawn(PYTHON_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => void (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (this.err += d.toString()));
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the RTSP server exited (${code}): ${this.err}`))));
    exited.catch(() => undefined);
    try {
      const ready = await Promise.race([waitFor(() => /^READY (\d+)$/m.exec(this.out.slice(before)), 'the RTSP server to listen', 15_000), exited]);
      this.port = Number(ready[1]);
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  /** SIGKILL: the server vanishes at once, mid-stream, as a camera that loses power. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', true);
  }

  /** SIGSTOP / SIGCONT: the server stays connected and says nothing, as a hung camera. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.signal('SIGTERM', true);
  }

  private async signal(sig: NodeJS.Signals, wait: boolean): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(sig);
      if (wait) await exited;
    }
  }
}
