/**
 * An incremental parser for `text/event-stream` (the WHATWG HTML "event stream" rules):
 * the page reads /v1/live with fetch streaming, not EventSource, so that the operator token
 * goes in a header and never into a URL, and so it parses the stream itself.
 *
 * Text comes in chunks cut anywhere (inside a line, between the CR and LF of a CRLF); the
 * events that come out do not depend on where the cuts fell (a property test holds that).
 * Pure: no DOM, no timers.
 */

export interface SseEvent {
  /** `event:` field; `message` when the event named none. */
  readonly type: string;
  /** `data:` lines joined by `\n`. */
  readonly data: string;
  /** The last `id:` seen so far in the stream (it carries over to later events, as the spec says). */
  readonly lastEventId: string;
}

export class SseError extends Error {
  readonly code = 'E_SSE_TOO_LARGE';
  constructor(message: string) {
    super(message);
    this.name = 'SseError';
  }
}

/** Largest line or event the parser holds (bytes of text): one batch of 10,000 gateway summaries fits. */
export const DEFAULT_MAX_EVENT_CHARS = 32 * 1024 * 1024;

export class SseParser {
  private buffer = '';
  private started = false;
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;
  private type = '';
  private data: string[] = [];
  private dataChars = 0;
  private lastEventId = '';
  private retryMs: number | null = null;

  constructor(private readonly maxEventChars = DEFAULT_MAX_EVENT_CHARS) {}

  /** The last `retry:` the server sent (ms), or null. */
  get retry(): number | null {
    return this.retryMs;
  }

  /** Feeds a chunk of decoded text; returns the events completed by it, in order. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    let start = 0;
    for (let i = 0; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i += 1;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      this.line(line, out);
    }
    if (start < text.length) {
      this.buffer += text.slice(start);
      if (this.buffer.length > this.maxEventChars) throw new SseError(`event stream: a line of more than ${this.maxEventChars} characters`);
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // a comment (the server's keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.dataChars += value.length + 1;
        if (this.dataChars > this.maxEventChars) throw new SseError(`event stream: an event of more than ${this.maxEventChars} characters`);
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SseEvent[]): void {
    const type = this.type;
    const data = this.data;
    this.type = '';
    this.data = [];
    this.dataChars = 0;
    if (data.length === 0) return; // an event without data is not dispatched
    out.push({ type: type === '' ? 'message' : type, data: data.join('\n'), lastEventId: this.lastEventId });
  }
}
