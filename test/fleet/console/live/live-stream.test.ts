import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveStream } from '../../../../fleet/console/live/live-stream.js';
import type { LiveStatus } from '../../../../fleet/console/live/live-stream.js';
import { waitFor } from '../../../support/wait-for.js';

/** A real SSE server on loopback whose replies each test scripts, connection by connection. */
async function sseServer(reply: (res: ServerResponse, n: number, auth: string | undefined) => void): Promise<{ url: string; server: Server; connections: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n += 1;
    reply(res, n, req.headers.authorization);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/live`, server, connections: () => n };
}

function recorder() {
  const r = { events: [] as { type: string; data: unknown }[], statuses: [] as LiveStatus[], reopened: 0, unauthorized: 0 };
  const handlers = {
    onEvent: (type: string, data: unknown) => r.events.push({ type, data }),
    onStatus: (s: LiveStatus) => r.statuses.push(s),
    onReopened: () => (r.reopened += 1),
    onUnauthorized: () => (r.unauthorized += 1),
  };
  return { r, handlers };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0).reverse()) s();
});

describe('LiveStream', () => {
  it('sends the bearer token, parses events cut across chunks, and reconnects after the server ends the stream', async () => {
    const srv = await sseServer((res, n, auth) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: hello\ndata: {"serverTimeMs":${n}}\n\nevent: gate`);
      setTimeout(() => res.end(`ways\ndata: {"items":[{"id":"gw-${n}","auth":${JSON.stringify(auth)}}]}\n\n`), 20);
    });
    stops.push(() => srv.server.close());
    const { r, handlers } = recorder();
    const live = new LiveStream('ewt_secret', handlers, { url: srv.url, minBackoffMs: 10, maxBackoffMs: 40 });
    stops.push(() => live.close());
    live.start();
    await waitFor(() => r.reopened >= 2, 'two reconnections');
    expect(r.events.slice(0, 2)).toEqual([
      { type: 'hello', data: { serverTimeMs: 1 } },
      { type: 'gateways', data: { items: [{ id: 'gw-1', auth: 'Bearer ewt_secret' }] } },
    ]);
    expect(r.statuses.slice(0, 4)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  });

  it('keeps retrying while the fleet is down or refuses streams (503), and opens when it answers', async () => {
    const srv = await sseServer((res, n) => {
      if (n <= 3) {
        res.writeHead(503, { 'content-type': 'application/problem+json' });
        res.end('{"code":"E_TOO_MANY_STREAMS"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: hello\ndata: {}\n\n');
    });
    stops.push(() => srv.server.close());
    const { r, handlers } = recorder();
    const live = new LiveStream('t', handlers, { url: srv.url, minBackoffMs: 10, maxBackoffMs: 20 });
    stops.push(() => live.close());
    live.start();
    await waitFor(() => r.events.length === 1, 'the hello after three refusals');
    expect(srv.connections()).toBe(4);
    expect(r.statuses.at(-1)).toBe('live');
    expect(r.reopened).toBe(0); // it had never been open: nothing was missed
  });

  it('stops for good on 401 and tells the page', async () => {
    const srv = await sseServer((res) => {
      res.writeHead(401, { 'content-type': 'application/problem+json' });
      res.end('{"code":"E_UNAUTHORIZED"}');
    });
    stops.push(() => srv.server.close());
    const { r, handlers } = recorder();
    const live = new LiveStream('revoked', handlers, { url: srv.url, minBackoffMs: 10 });
    stops.push(() => live.close());
    live.start();
    await waitFor(() => r.unauthorized === 1, 'the 401');
    expect(srv.connections()).toBe(1);
  });

  it('skips an event whose data is not JSON and goes on', async () => {
    const srv = await sseServer((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: event\ndata: {not json\n\n: comment\n\nevent: resync\ndata: {"reason":"overflow"}\n\n');
    });
    stops.push(() => srv.server.close());
    const { r, handlers } = recorder();
    const live = new LiveStream('t', handlers, { url: srv.url });
    stops.push(() => live.close());
    live.start();
    await waitFor(() => r.events.length === 1, 'the resync');
    expect(r.events).toEqual([{ type: 'resync', data: { reason: 'overflow' } }]);
  });
});
