import type { ServerResponse } from 'node:http';

/** The head of every server-sent event stream: no caching, no proxy buffering. */
export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' } as const;

/** One server-sent event: `event:`, an optional `id:`, and the JSON on one `data:` line (JSON text has no raw newline). */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies from closing a quiet stream. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

export interface SseQueueLimits {
  /** Frames waiting for the socket at most. */
  readonly maxFrames: number;
  /** Bytes waiting for the socket at most. */
  readonly maxBytes: number;
}

/**
 * One client's stream with a bounded queue. A frame goes straight to the socket while the
 * socket keeps up; once its buffer is full (`writableNeedDrain`), frames wait here, up to the
 * limits. Past them the client has fallen too far behind to be told what it missed: the queue
 * is dropped, nothing more is taken until the socket drains, and then the client gets one
 * `resyncFrame` (refetch everything). So a client that stops reading holds at most the socket's
 * buffer and the limits, however much happens.
 */
export class SseWriter {
  private queue: string[] = [];
  private queuedBytes = 0;
  private overflowed = false;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly limits: SseQueueLimits,
    private readonly resyncFrame: () => string,
    private readonly onOverflow: () => void = () => undefined,
  ) {
    res.on('drain', () => this.drain());
  }

  get open(): boolean {
    return !this.closed && !this.res.writableEnded && !this.res.destroyed;
  }

  /** Frames and bytes waiting now (for tests and bounds). */
  get backlog(): { frames: number; bytes: number; overflowed: boolean } {
    return { frames: this.queue.length, bytes: this.queuedBytes, overflowed: this.overflowed };
  }

  send(frame: string): void {
    if (!this.open || this.overflowed) return;
    if (this.queue.length === 0 && !this.res.writableNeedDrain) {
      this.res.write(frame);
      return;
    }
    const bytes = Buffer.byteLength(frame);
    if (this.queue.length + 1 > this.limits.maxFrames || this.queuedBytes + bytes > this.limits.maxBytes) {
      this.queue = [];
      this.queuedBytes = 0;
      this.overflowed = true;
      this.onOverflow();
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += bytes;
  }

  private drain(): void {
    if (!this.open) return;
    while (this.queue.length > 0 && !this.res.writableNeedDrain) {
      const frame = this.queue.shift() as string;
      this.queuedBytes -= Buffer.byteLength(frame);
      this.res.write(frame);
    }
    if (this.queue.length === 0 && this.overflowed && !this.res.writableNeedDrain) {
      this.overflowed = false;
      this.res.write(this.resyncFrame());
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    if (!this.res.writableEnded) this.res.end();
  }
}
