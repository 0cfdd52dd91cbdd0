/**
 * The page's live feed: GET /v1/live read with fetch streaming (the bearer token in a header,
 * never in a URL as EventSource would need), parsed by SseParser, and reopened after any end
 * or failure with exponential backoff and jitter (1 s doubling to 30 s; a stream that opened
 * resets it). Each reopening is announced (`onReopened`): the page missed whatever happened
 * while it was down and refetches, as it does on a `resync` event.
 */
import { SseParser } from './sse-parser.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

export interface LiveHandlers {
  onEvent(type: string, data: unknown): void;
  onStatus(status: LiveStatus): void;
  /** The stream opened again after it had been open before. */
  onReopened(): void;
  /** The fleet refused the token (401): the stream is not retried. */
  onUnauthorized(): void;
}

export interface LiveOptions {
  readonly url?: string;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export class LiveStream {
  private readonly abort = new AbortController();
  private backoffMs: number;
  private openedBefore = false;
  private wake: (() => void) | null = null;
  private readonly url: string;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly token: string,
    private readonly handlers: LiveHandlers,
    options: LiveOptions = {},
  ) {
    this.url = options.url ?? '/v1/live';
    this.minBackoffMs = options.minBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.backoffMs = this.minBackoffMs;
  }

  start(): void {
    void this.run();
  }

  close(): void {
    this.abort.abort();
    this.wake?.();
  }

  /** Retry at once (the browser came back online). */
  retryNow(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    this.handlers.onStatus('connecting');
    while (!this.abort.signal.aborted) {
      let retryMs: number | null = null;
      try {
        const res = await fetch(this.url, { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, signal: this.abort.signal });
        if (res.status === 401) {
          this.handlers.onUnauthorized();
          return;
        }
        if (res.ok && res.body !== null) {
          this.handlers.onStatus('live');
          this.backoffMs = this.minBackoffMs;
          if (this.openedBefore) this.handlers.onReopened();
          this.openedBefore = true;
          retryMs = await this.read(res.body);
        }
      } catch {
        // a network failure or a stream cut: reconnect below
      }
      if (this.abort.signal.aborted) return;
      this.handlers.onStatus('reconnecting');
      const base = Math.max(this.backoffMs, retryMs ?? 0);
      await this.sleep(base / 2 + Math.random() * (base / 2));
      this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    }
  }

  /** Reads until the stream ends; returns the server's `retry:` if it sent one. */
  private async read(body: ReadableStream<Uint8Array>): Promise<number | null> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const e of parser.push(decoder.decode(value, { stream: true }))) {
          let data: unknown;
          try {
            data = JSON.parse(e.data);
          } catch {
            continue; // not ours to show; the stream goes on
          }
          try {
            this.handlers.onEvent(e.type, data);
          } catch (err) {
            console.error('live event handler failed', e.type, err); // a page's bug must not cut the stream
          }
        }
      }
    } finally {
      reader.releaseLock();
    }
    return parser.retry;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
