import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { HealthReport } from '../../fleet/protocol/index.js';

/**
 * The local HTTP endpoint: `GET /health` (the JSON report; 200 when ok, 503 when degraded,
 * for a load balancer or a watchdog) and `GET /metrics` (Prometheus text). `HEAD` answers
 * either with the same status and headers and no body (Node leaves the body out), so a
 * probe that only wants the status (`curl -I`, some load balancers) gets it cheaply.
 */
export async function startHealthServer(host: string, port: number, report: () => HealthReport, registry: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/health') {
      const r = report();
      res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r));
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /health or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
