import type { Server } from 'node:http';
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../../fleet/protocol/index.js';
import { startHealthServer } from '../../../runtime/health/health-server.js';

function send(port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health server', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  it('answers HEAD /health with the status GET gives (200 ok, 503 degraded) and no body', async () => {
    let status: 'ok' | 'degraded' = 'ok';
    const report = (): HealthReport => ({ gw: 'gw-1', status, reasons: status === 'ok' ? [] : ['uplink: not connected'] }) as unknown as HealthReport;
    server = await startHealthServer('127.0.0.1', 0, report, new Registry());
    const port = (server.address() as { port: number }).port;

    const get = await send(port, 'GET', '/health');
    const head = await send(port, 'HEAD', '/health');
    expect(get.status).toBe(200);
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toBe('application/json');

    status = 'degraded';
    expect((await send(port, 'GET', '/health')).status).toBe(503);
    const degraded = await send(port, 'HEAD', '/health');
    expect(degraded.status).toBe(503);
    expect(degraded.body).toBe('');

    expect((await send(port, 'HEAD', '/metrics')).status).toBe(200);
    const post = await send(port, 'POST', '/health');
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });
});
