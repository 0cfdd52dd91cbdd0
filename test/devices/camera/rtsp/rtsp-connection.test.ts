import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RtspError } from '../../../../devices/camera/rtsp/errors.js';
import { MAX_QUEUED_BYTES, RtspConnection } from '../../../../devices/camera/rtsp/rtsp-connection.js';
import { listenOnLoopback } from '../../../support/ports.js';
import { waitFor } from '../../../support/wait-for.js';

/**
 * Unit tests of the connection against a scripted server: the cases GStreamer's server never
 * produces (answers out of order, requests from the server, a flood, garbage). The
 * behaviour a user sees is proved against the real server in rtsp-camera.test.ts.
 */

let server: Server | undefined;
const sockets: Socket[] = [];
const abort = new AbortController();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  await new Promise((r) => (server === undefined ? r(undefined) : server.close(r)));
  server = undefined;
});

async function scripted(onConnection: (socket: Socket) => void): Promise<RtspConnection> {
  server = createServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  const port = await listenOnLoopback(server);
  return RtspConnection.open({ host: '127.0.0.1', port, timeoutMs: 2000, label: 'rtsp test', signal: abort.signal });
}

const frame = (channel: number, n: number, fill = 0): Buffer => Buffer.concat([Buffer.from([0x24, channel, n >> 8, n & 0xff]), Buffer.alloc(n, fill)]);

function requests(socket: Socket, onRequest: (method: string, cseq: number, raw: string) => void, onAnswer?: (statusLine: string) => void): void {
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
      const head = text.slice(0, end);
      text = text.slice(end + 4);
      if (/^RTSP\/1\.0/.test(head)) {
        onAnswer?.(head.split('\r\n')[0]!); // the client's answers to the server's requests
        continue;
      }
      onRequest(head.split(' ')[0]!, Number(/CSeq: (\d+)/.exec(head)?.[1]), head);
    }
  });
}

describe('RTSP connection', () => {
  it('matches answers to requests by CSeq, between interleaved frames, and answers the server\'s own requests', async () => {
    const answers: string[] = [];
    const conn = await scripted((socket) => {
      const held: number[] = [];
      requests(socket, (_method, cseq) => {
        held.push(cseq);
        if (held.length < 2) return;
        // Both answered at once, the second first, with frames and two requests of the server in between.
        socket.write(Buffer.concat([frame(0, 10, 1), Buffer.from(`RTSP/1.0 200 OK\r\nCSeq: ${held[1]}\r\nX-Which: second\r\n\r\n`), frame(1, 5, 2)]));
        socket.write(`GET_PARAMETER rtsp://client RTSP/1.0\r\nCSeq: 77\r\n\r\nANNOUNCE rtsp://client RTSP/1.0\r\nCSeq: 78\r\n\r\n`);
        socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${held[0]}\r\nX-Which: first\r\n\r\n`);
      }, (statusLine) => answers.push(statusLine));
    });
    const [a, b] = await Promise.all([conn.request('OPTIONS', 'rtsp://x/'), conn.request('DESCRIBE', 'rtsp://x/')]);
    expect(a.headers.get('x-which')).toEqual(['first']);
    expect(b.headers.get('x-which')).toEqual(['second']);
    const got: { channel: number; length: number }[] = [];
    for await (const f of conn.frames()) {
      got.push({ channel: f.channel, length: f.payload.length });
      if (got.length === 2) break;
    }
    expect(got).toEqual([
      { channel: 0, length: 10 },
      { channel: 1, length: 5 },
    ]);
    await waitFor(() => answers.length === 2, 'the answers to the server\'s requests');
    expect(answers).toEqual(['RTSP/1.0 200 OK', 'RTSP/1.0 501 Not Implemented']);
    conn.close();
  });

  it('stops reading when frames pile up: at most its bound waits, and the camera is slowed by TCP', async () => {
    let serverSocket: Socket | undefined;
    const conn = await scripted((socket) => (serverSocket = socket));
    const sock = await waitFor(() => serverSocket, 'the connection');
    // 64 MiB of 16 KiB frames (more than any kernel buffers), written as fast as the kernel takes them; nobody reads yet.
    const TOTAL = 4096;
    const chunk = frame(0, 16 * 1024);
    let written = 0;
    const pump = (): void => {
      while (written < TOTAL && sock.write(chunk)) written += 1;
    };
    sock.on('drain', () => {
      written += 1;
      pump();
    });
    pump();
    // The queue fills past its bound, reading stops, and the kernel's buffers fill behind it until the writer must wait.
    await waitFor(() => conn.queued > MAX_QUEUED_BYTES && sock.writableNeedDrain, 'the queue full and the writer held back');
    expect(conn.queued).toBeLessThanOrEqual(MAX_QUEUED_BYTES + 256 * 1024);
    expect(written).toBeLessThan(TOTAL);
    // Reading resumes it: every frame arrives.
    let frames = 0;
    for await (const f of conn.frames()) {
      expect(f.payload.length).toBe(16 * 1024);
      frames += 1;
      if (frames === TOTAL) break;
    }
    expect(frames).toBe(TOTAL);
    conn.close();
  });

  it('fails on bytes that are not RTSP, and every waiter learns why', async () => {
    const conn = await scripted((socket) => requests(socket, () => socket.write('GARBAGE that is not RTSP\r\n\r\n')));
    const err = await conn.request('OPTIONS', 'rtsp://x/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtspError);
    expect((err as RtspError).code).toBe('E_RTSP_PROTOCOL');
    await expect(conn.frames().next()).rejects.toThrow(/not an RTSP status or request line/);
    conn.close();
  });

  it('gives up on a request that gets no answer within the timeout', async () => {
    const conn = await scripted(() => undefined);
    const err = (await conn.request('DESCRIBE', 'rtsp://x/').catch((e: unknown) => e)) as RtspError;
    expect(err.code).toBe('E_RTSP_TIMEOUT');
    expect(err.message).toBe('rtsp test: no answer to DESCRIBE within 2000 ms');
    conn.close();
  });
});
