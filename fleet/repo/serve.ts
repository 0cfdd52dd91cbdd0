import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, relative, sep } from 'node:path';

/** Files up to this size are read whole and sent in one write. */
const SMALL_FILE_BYTES = 256 * 1024;

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
      const head = (size: number): void => {
        res.writeHead(range === null ? 200 : 206, { 'content-length': size - start, 'accept-ranges': 'bytes', ...(range === null ? {} : { 'content-range': `bytes ${start}-${size - 1}/${size}` }) });
      };
      if (req.method === 'HEAD' || s.size === start) {
        head(s.size);
        res.end();
        return;
      }
      if (s.size <= SMALL_FILE_BYTES) {
        // Metadata: every gateway asks for three or four small files per refresh; one read
        // serves each (a stream costs an open, reads and a close, each through the thread pool).
        const bytes = await readFile(path);
        if (start > bytes.length) {
          res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
          return;
        }
        head(bytes.length);
        res.end(bytes.subarray(start));
        return;
      }
      head(s.size);
      createReadStream(path, { start })
        .on('error', () => res.destroy())
        .pipe(res);
    })().catch(() => res.writeHead(500).end());
  });
}
