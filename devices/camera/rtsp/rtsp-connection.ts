import { connect, type Socket } from 'node:net';
import { parseChallenges, type Authenticator } from './rtsp-auth.js';
import { RtspError } from './errors.js';
import { header, RtspReader, type Headers, type RtspMessage } from './rtsp-reader.js';

/**
 * One RTSP connection (RFC 2326) with RTP interleaved on it: requests and their responses
 * matched by CSeq, the session id added to every request once SETUP gave one, a 401
 * answered once per request with the credentials, keepalives at half the session timeout,
 * and the interleaved frames handed out in order through `frames()`.
 *
 * Bounded: interleaved frames wait in a queue of at most `MAX_QUEUED_BYTES`; past that the
 * socket is paused, so TCP flow control slows the camera down (the camera then drops
 * packets on its side, which shows as lost RTP packets). Every failure (a timeout, the
 * server closing, garbage) fails the whole connection: pending requests reject and
 * `frames()` throws, and the caller reconnects.
 */

export interface RtspResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

export interface InterleavedFrame {
  readonly channel: number;
  readonly payload: Uint8Array;
}

export interface RtspConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Connect, each request's answer, and RTP while playing: each must come within this. */
  readonly timeoutMs: number;
  /** For messages: the camera URL without its password. */
  readonly label: string;
  readonly authenticator?: Authenticator | undefined;
  readonly signal: AbortSignal;
}

/** Interleaved bytes waiting for the reader at most (about 0.5 s of an 16 Mbit/s stream) before the socket is paused. */
export const MAX_QUEUED_BYTES = 1024 * 1024;
const USER_AGENT = 'edgewise';

interface Pending {
  readonly method: string;
  readonly resolve: (r: RtspResponse) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class RtspConnection {
  private readonly reader = new RtspReader();
  private readonly pending = new Map<number, Pending>();
  private readonly frameQueue: InterleavedFrame[] = [];
  private queuedBytes = 0;
  private paused = false;
  private cseq = 0;
  private failure: Error | undefined;
  private wakeFrames: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private watchChannel: number | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  /** The signal aborted: `frames()` ends, requests in flight reject, and only TEARDOWN is still sent. */
  private stopping = false;
  private readonly onAbort = (): void => this.stop();
  /** From SETUP: sent with every later request. */
  sessionId: string | undefined;
  /** Seconds, from SETUP's `Session: id;timeout=N` (RFC 2326 12.37: 60 when absent). */
  sessionTimeoutS = 60;
  /** Keepalives answered. */
  keepalives = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly options: RtspConnectionOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new RtspError('E_RTSP_CLOSED', `${options.label}: ${err.message}`)));
    socket.on('close', () => this.fail(new RtspError('E_RTSP_CLOSED', `${options.label}: the camera closed the connection`)));
    options.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  static async open(options: RtspConnectionOptions): Promise<RtspConnection> {
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(new RtspError('E_RTSP_CONNECT', `${options.label}: cannot connect: ${err.message}`));
      };
      const timer = setTimeout(() => fail(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      const onAbort = (): void => fail(new Error('stopped'));
      const onError = (err: Error): void => fail(err);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        options.signal.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      options.signal.addEventListener('abort', onAbort, { once: true });
      if (options.signal.aborted) return onAbort();
      socket.once('connect', () => {
        cleanup();
        resolve(new RtspConnection(socket, options));
      });
    });
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Interleaved bytes received and not yet taken by `frames()`. */
  get queued(): number {
    return this.queuedBytes;
  }

  /**
   * Sends a request and waits for its response. A 401 is answered once with the
   * authenticator's credentials; a non-2xx status is an `E_RTSP_STATUS` error (the caller
   * decides which it can live with: `allow`).
   */
  async request(method: string, url: string, extra: Readonly<Record<string, string>> = {}, allow: readonly number[] = []): Promise<RtspResponse> {
    let response = await this.send(method, url, extra);
    if (response.status === 401) {
      const auth = this.options.authenticator;
      const challenges = parseChallenges(response.headers.get('www-authenticate') ?? []);
      const offered = challenges.map((c) => c.scheme).join(', ') || 'no scheme';
      if (auth === undefined) throw new RtspError('E_RTSP_AUTH', `${this.options.label}: ${method} needs a login (${offered}): give the camera a credentialsFile`);
      if (!auth.accept(challenges)) throw new RtspError('E_RTSP_AUTH', `${this.options.label}: ${method}: the camera offers no authentication we speak (${offered}; we speak Digest MD5/SHA-256 and Basic)`);
      response = await this.send(method, url, extra);
      if (response.status === 401) throw new RtspError('E_RTSP_AUTH', `${this.options.label}: ${method}: the camera refused the credentials (${auth.scheme ?? ''})`);
    }
    if ((response.status < 200 || response.status > 299) && !allow.includes(response.status)) {
      throw new RtspError('E_RTSP_STATUS', `${this.options.label}: ${method} ${url} answered ${response.status} ${response.reason}`.trimEnd());
    }
    return response;
  }

  /**
   * Keeps the session alive (RFC 2326 12.37: a server may drop a session that hears nothing
   * for its timeout) with GET_PARAMETER, or OPTIONS for servers that do not list it.
   */
  startKeepalive(url: string, method: 'GET_PARAMETER' | 'OPTIONS'): void {
    if (this.failure !== undefined || this.stopping) return;
    let current = method;
    const everyMs = Math.max(500, (this.sessionTimeoutS * 1000) / 2);
    this.keepaliveTimer = setInterval(() => {
      this.request(current, url, {}, [405, 501]).then(
        (r) => {
          if (r.status === 405 || r.status === 501) current = 'OPTIONS';
          else this.keepalives += 1;
        },
        (err: Error) => this.fail(err),
      );
    }, everyMs);
  }

  /**
   * The interleaved frames, in order, until the connection fails (then it throws) or the
   * signal aborts (then it ends). No frame on `watchChannel` (RTP: RTCP alone does not show
   * pictures) for `timeoutMs` fails the connection: a camera that stopped sending without
   * closing, as a half-open connection never closes by itself.
   */
  async *frames(watchChannel?: number): AsyncGenerator<InterleavedFrame> {
    this.watchChannel = watchChannel;
    if (this.stopping) return;
    const idle = (): void => {
      // A paused socket reads nothing: the reader being slow is not the camera going quiet.
      if (this.paused) this.idleTimer?.refresh();
      else this.fail(new RtspError('E_RTSP_TIMEOUT', `${this.options.label}: no ${this.watchChannel === undefined ? 'interleaved data' : 'RTP'} for ${this.options.timeoutMs} ms`));
    };
    this.idleTimer = setTimeout(idle, this.options.timeoutMs);
    for (;;) {
      const frame = this.frameQueue.shift();
      if (frame !== undefined) {
        this.queuedBytes -= frame.payload.length;
        if (this.paused && this.queuedBytes <= MAX_QUEUED_BYTES / 2) {
          this.paused = false;
          this.socket.resume();
          this.idleTimer?.refresh();
        }
        yield frame;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.stopping) return;
      await new Promise<void>((resolve) => (this.wakeFrames = resolve));
    }
  }

  /** Ends the session politely (TEARDOWN, waiting at most a second for the answer), then closes. */
  async teardown(url: string): Promise<void> {
    if (this.failure === undefined && this.sessionId !== undefined) await this.send('TEARDOWN', url, {}, 1000).catch(() => undefined);
    this.close();
  }

  close(): void {
    this.fail(new RtspError('E_RTSP_CLOSED', `${this.options.label}: closed`));
    this.socket.destroy();
  }

  private send(method: string, url: string, extra: Readonly<Record<string, string>>, timeoutMs = this.options.timeoutMs): Promise<RtspResponse> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.stopping && method !== 'TEARDOWN') return Promise.reject(new RtspError('E_RTSP_CLOSED', `${this.options.label}: stopped`));
    this.cseq += 1;
    const cseq = this.cseq;
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${cseq}`, `User-Agent: ${USER_AGENT}`];
    if (this.sessionId !== undefined) lines.push(`Session: ${this.sessionId}`);
    const authorization = this.options.authenticator?.authorization(method, url);
    if (authorization !== undefined) lines.push(`Authorization: ${authorization}`);
    for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new RtspError('E_RTSP_TIMEOUT', `${this.options.label}: no answer to ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(cseq, { method, resolve, reject, timer });
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    let messages: RtspMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const m of messages) {
      if (m.kind === 'interleaved') {
        this.frameQueue.push(m);
        this.queuedBytes += m.payload.length;
        if (this.watchChannel === undefined || m.channel === this.watchChannel) this.idleTimer?.refresh();
      } else if (m.kind === 'response') {
        this.onResponse(m);
      } else {
        this.answerServerRequest(m.method, header(m.headers, 'cseq'));
      }
    }
    if (!this.paused && this.queuedBytes > MAX_QUEUED_BYTES) {
      this.paused = true;
      this.socket.pause();
    }
    this.wake();
  }

  private onResponse(m: Extract<RtspMessage, { kind: 'response' }>): void {
    const cseqText = header(m.headers, 'cseq');
    let cseq = cseqText === undefined ? Number.NaN : Number(cseqText);
    // A few cameras leave CSeq out: with one request outstanding, the answer is its answer.
    if (Number.isNaN(cseq) && this.pending.size === 1) cseq = [...this.pending.keys()][0]!;
    const p = this.pending.get(cseq);
    if (p === undefined) return;
    this.pending.delete(cseq);
    clearTimeout(p.timer);
    p.resolve({ status: m.status, reason: m.reason, headers: m.headers, body: m.body });
  }

  /** Servers rarely ask a client anything; OPTIONS and GET_PARAMETER (their keepalives) get a 200, the rest a 501. */
  private answerServerRequest(method: string, cseq: string | undefined): void {
    const ok = method === 'OPTIONS' || method === 'GET_PARAMETER';
    this.socket.write(`RTSP/1.0 ${ok ? '200 OK' : '501 Not Implemented'}\r\nCSeq: ${cseq ?? '0'}\r\nUser-Agent: ${USER_AGENT}\r\n\r\n`);
  }

  private stop(): void {
    this.stopping = true;
    this.stopTimers();
    this.rejectPending(new RtspError('E_RTSP_CLOSED', `${this.options.label}: stopped`));
    this.wake();
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.stopTimers();
    this.rejectPending(err);
    this.wake();
  }

  private stopTimers(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
  }

  private rejectPending(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private wake(): void {
    const w = this.wakeFrames;
    this.wakeFrames = undefined;
    w?.();
  }
}
