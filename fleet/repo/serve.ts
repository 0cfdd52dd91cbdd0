import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, relative, sep } from 'node:path';

/**
 * Serves a repository directory over HTTP (read-only, GET and HEAD): `/metadata/...` and
 * `/targets/...`, with byte ranges so interrupted downloads can resume. For tests and small
 * sites; the fleet service serves the same directory later.
 */
export function serveRepository(dir: string): Server {
  const root = normalize(dir);
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let decoded = '';
      try {
        decoded = decodeURIComponent(url.pathname);
      } catch {
        decoded = '';
      }
      const path = normalize(join(root, decoded));
      // Judged after decoding: "/metadata/..%2Fkeys/x" must not reach outside metadata/ and targets/.
      const inside = relative(root, path).split(sep)[0];
      if ((req.method !== 'GET' && req.method !== 'HEAD') || decoded.includes('\\') || (inside !== 'metadata' && inside !== 'targets') || !path.startsWith(root + sep)) {
        res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).end();
        return;
      }
      const s = await stat(path).catch(() => undefined);
      if (s === undefined || !s.isFile()) {
        res.writeHead(404).end();
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range === null ? 0 : Number.parseInt(range[1] as string, 10);
      if (start > s.size) {
        res.writeHead(416, { 'content-range': `bytes */${s.size}` }).end();
        return;
      }
      res.writeHead(range === null ? 200 : 206, { 'content-length': s.size - start, 'accept-ranges': 'bytes', ...(range === null ? {} : { 'content-range': `bytes ${start}-${s.size - 1}/${s.size}` }) });
      if (req.method === 'HEAD' || s.size === start) {
        res.end();
        return;
      }
      createReadStream(path, { start })
        .on('error', () => res.destroy())
        .pipe(res);
    })().catch(() => res.writeHead(500).end());
  });
}
