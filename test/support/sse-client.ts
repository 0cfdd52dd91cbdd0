import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { waitFor } from './wait-for.js';

export interface SseMessage {
  readonly event: string;
  readonly data: unknown;
}

/**
 * A server-sent-event client over node:http, reading as the console does (a bearer header,
 * no EventSource). `paused`: it reads nothing until `resume()`, as a stalled browser tab.
 * Messages are parsed as they come; comments are counted.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  comments = 0;
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  private buffer = '';
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  ended = false;

  private constructor() {}

  static async open(url: string, token: string | null, o: { paused?: boolean } = {}): Promise<SseClient> {
    const c = new SseClient();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { headers: token === null ? {} : { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
        c.res = res;
        c.status = res.statusCode ?? 0;
        c.headers = res.headers;
        res.setEncoding('utf8');
        res.on('end', () => (c.ended = true));
        res.on('close', () => (c.ended = true));
        if (o.paused !== true) c.resume();
        resolve();
      });
      c.req = req;
      req.on('error', reject);
      req.end();
    });
    return c;
  }

  resume(): void {
    const res = this.res;
    if (res === undefined || res.listenerCount('data') > 0) return;
    res.on('data', (chunk: string) => this.take(chunk));
  }

  private take(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      let comment = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comment = true;
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.messages.push({ event, data: JSON.parse(data.join('\n')) as unknown });
      else if (comment) this.comments += 1;
    }
  }

  /** The first message from `from` on that matches; waits for it. */
  async next<T = unknown>(event: string, match: (data: T) => boolean = () => true, timeoutMs = 20_000, from = 0): Promise<T> {
    const m = await waitFor(() => this.messages.slice(from).find((x) => x.event === event && match(x.data as T)), `a live "${event}" event`, timeoutMs);
    return m.data as T;
  }

  of<T = unknown>(event: string): T[] {
    return this.messages.filter((m) => m.event === event).map((m) => m.data as T);
  }

  close(): void {
    this.req?.destroy();
    this.res?.destroy();
  }
}
