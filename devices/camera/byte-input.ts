import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type BackoffOptions } from '../../runtime/uplink/backoff.js';
import { fileInput } from './file-input.js';
import { rtspInput, type RtspCounters } from './rtsp/rtsp-input.js';

/**
 * Where a camera's H.264 comes from: a file (raw Annex B or MP4, `file-input.ts`), a TCP
 * server (the camera or an encoder), or UDP datagrams. Each input is an async sequence of
 * events; it retries on its own and only ends when the signal aborts (or a file without
 * `loop` ends, or turns out not to be H.264: a `CameraFormatError` thrown from it).
 */
export type InputEvent =
  /**
   * Bytes of the stream. `timeUs`: the input knows the picture's time (RTSP: one picture per
   * event, timed by the camera's RTP clock; wall-clock µs); absent, the source times it.
   */
  | { readonly kind: 'data'; readonly bytes: Uint8Array; readonly timeUs?: number }
  /** One access unit demuxed from a container (MP4): Annex B bytes, with the container's times (µs from its first sample). */
  | { readonly kind: 'unit'; readonly bytes: Uint8Array; readonly timeUs: number; readonly decodeTimeUs: number; readonly durationUs: number }
  /** The stream ended cleanly (end of file): what is pending is complete. */
  | { readonly kind: 'end' }
  /** The stream broke off (lost connection, dropped datagrams): what is pending is truncated. */
  | { readonly kind: 'break' };

export type CameraInput =
  | { readonly file: string; readonly loop?: boolean }
  | { readonly tcp: string }
  | { readonly udp: string }
  | { readonly rtsp: string; readonly credentialsFile?: string; readonly timeoutMs?: number };

export interface InputStatus {
  /** Reconnects (TCP), reopens (file), rebinds (UDP) after a failure. */
  reconnects: number;
  /** Datagrams dropped because the receive queue was full (the decoder fell behind). */
  datagramsDropped: number;
  connected: boolean;
  /** What the file holds, once it was opened: a raw stream or an MP4 (undefined for network inputs). */
  container?: 'annexb' | 'mp4';
  /** The UDP port bound (the system's choice when the config says port 0); undefined until bound. */
  udpPort?: number;
  lastError: string | null;
  /** The RTSP input's counters (lost RTP packets, sessions, ...); undefined for other inputs. */
  rtsp?: RtspCounters;
  /** Called with each failure as it happens, for the log. */
  onError?: (message: string) => void;
}

/** A TCP camera silent this long is presumed gone (a half-open connection never closes by itself). */
const TCP_IDLE_MS = 10_000;
const TCP_CONNECT_TIMEOUT_MS = 10_000;
/** UDP bytes waiting for the parser at most: about 2 s of a 16 Mbit/s stream. */
const UDP_QUEUE_BYTES = 4 * 1024 * 1024;

export function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`expected host:port, got "${value}"`);
  return { host: value.slice(0, i), port };
}

export function openInput(input: CameraInput, reconnect: BackoffOptions, status: InputStatus, signal: AbortSignal): AsyncGenerator<InputEvent> {
  const backoff = new Backoff(reconnect);
  if ('file' in input) return fileInput(input.file, input.loop === true, backoff, status, signal);
  if ('tcp' in input) return tcpInput(parseHostPort(input.tcp), backoff, status, signal);
  if ('rtsp' in input) return rtspInput({ url: input.rtsp, credentialsFile: input.credentialsFile, timeoutMs: input.timeoutMs ?? TCP_IDLE_MS }, backoff, status, signal);
  return udpInput(parseHostPort(input.udp), backoff, status, signal);
}

function failed(status: InputStatus, message: string): void {
  status.lastError = message;
  status.onError?.(message);
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

async function* tcpInput(addr: { host: string; port: number }, backoff: Backoff, status: InputStatus, signal: AbortSignal): AsyncGenerator<InputEvent> {
  while (!signal.aborted) {
    const socket = connect({ host: addr.host, port: addr.port });
    const onAbort = (): void => void socket.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    let open = false;
    socket.setTimeout(TCP_CONNECT_TIMEOUT_MS);
    socket.on('timeout', () => socket.destroy(new Error(open ? `no data for ${TCP_IDLE_MS} ms` : `no answer within ${TCP_CONNECT_TIMEOUT_MS} ms`)));
    try {
      await once(socket, 'connect');
      open = true;
      status.connected = true;
      socket.setTimeout(TCP_IDLE_MS);
      // Reading on demand: when the decoder is behind, TCP flow control slows the camera down.
      for await (const chunk of socket) {
        backoff.reset();
        yield { kind: 'data', bytes: chunk as Buffer };
      }
      if (!signal.aborted) failed(status, `tcp ${addr.host}:${addr.port}: the camera closed the connection`);
    } catch (err) {
      if (!signal.aborted) failed(status, `tcp ${addr.host}:${addr.port}: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      status.connected = false;
    }
    if (signal.aborted) return;
    yield { kind: 'break' };
    await pause(backoff.next(), signal);
    if (!signal.aborted) status.reconnects += 1;
  }
}

async function* udpInput(addr: { host: string; port: number }, backoff: Backoff, status: InputStatus, signal: AbortSignal): AsyncGenerator<InputEvent> {
  while (!signal.aborted) {
    const socket: UdpSocket = createSocket({ type: addr.host.includes(':') ? 'udp6' : 'udp4' });
    const queue: InputEvent[] = [];
    let queuedBytes = 0;
    let overflowing = false;
    let error: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    socket.on('message', (msg) => {
      if (queuedBytes + msg.length > UDP_QUEUE_BYTES) {
        status.datagramsDropped += 1;
        // One break per overflow run: the parser must not splice bytes across the hole.
        if (!overflowing) queue.push({ kind: 'break' });
        overflowing = true;
      } else {
        overflowing = false;
        queuedBytes += msg.length;
        queue.push({ kind: 'data', bytes: msg });
      }
      notify();
    });
    socket.on('error', (err) => {
      error = err;
      notify();
    });
    signal.addEventListener('abort', notify, { once: true });
    try {
      socket.bind(addr.port, addr.host);
      await once(socket, 'listening');
      status.udpPort = socket.address().port;
      status.connected = true;
      backoff.reset();
      while (!signal.aborted && error === undefined) {
        const ev = queue.shift();
        if (ev === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if (ev.kind === 'data') queuedBytes -= ev.bytes.length;
        yield ev;
      }
      if (error !== undefined) throw error;
    } catch (err) {
      if (!signal.aborted) failed(status, `udp ${addr.host}:${addr.port}: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', notify);
      status.connected = false;
      try {
        socket.close();
      } catch {
        // Closed already (bind failed).
      }
    }
    if (signal.aborted) return;
    yield { kind: 'break' };
    await pause(backoff.next(), signal);
    if (!signal.aborted) status.reconnects += 1;
  }
}
