import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../../fleet/api/routes/console.js';
import { json, useApi } from './rig.js';

/** A fake built console: what scripts/build-console.mjs writes, in a temporary folder. */
const dir = mkdtempSync(join(tmpdir(), 'edgewise-console-'));
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-abc123.js"></script></head><body></body></html>';
const APP = `console.log(${JSON.stringify('x'.repeat(2000))});`;
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'index.html'), INDEX);
writeFileSync(join(dir, 'assets', 'app-abc123.js'), APP);
writeFileSync(join(dir, 'assets', 'app-abc123.js.br'), brotliCompressSync(APP));
writeFileSync(join(dir, 'assets', 'app-abc123.js.gz'), gzipSync(APP));
// Only gzip beside this one: a brotli client gets the gzip sibling.
writeFileSync(join(dir, 'assets', 'style-def456.css'), 'body{margin:0}');
writeFileSync(join(dir, 'assets', 'style-def456.css.gz'), gzipSync('body{margin:0}'));
// A file outside the assets folder that no URL may reach.
writeFileSync(join(dir, 'secret.txt'), 'not for the web');
const missing = join(dir, 'not-built');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A request exactly as written (no client normalising the path), on a listening server. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web console served by the fleet', () => {
  const api = useApi('pglite', () => ({ consoleDir: dir }));

  it('serves index.html at / without a token, revalidated on each load, under a strict CSP', async () => {
    const res = await api.call('GET', '/', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toBe("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    expect(res.headers['etag']).toBeTruthy();
    const again = await api.call('GET', '/', { token: null, headers: { 'if-none-match': String(res.headers['etag']) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves the hashed bundles cached for good, brotli or gzip as the client accepts, and 304 on a matching ETag', async () => {
    const plain = await api.call('GET', '/assets/app-abc123.js', { token: null });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(APP);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-type']).toMatch(/javascript/);
    expect(plain.headers['vary']).toMatch(/accept-encoding/i);
    expect(plain.headers['content-security-policy']).toBeUndefined();

    const br = await api.call('GET', '/assets/app-abc123.js', { token: null, headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toMatch(/javascript/);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(APP);

    const gz = await api.call('GET', '/assets/app-abc123.js', { token: null, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(APP);
    expect(gz.rawPayload.length).toBeLessThan(APP.length / 4);

    const css = await api.call('GET', '/assets/style-def456.css', { token: null, headers: { 'accept-encoding': 'br, gzip' } });
    expect(css.headers['content-encoding']).toBe('gzip');
    expect(css.headers['content-type']).toMatch(/^text\/css/);

    const etag = String(br.headers['etag']);
    const revalidated = await api.call('GET', '/assets/app-abc123.js', { token: null, headers: { 'accept-encoding': 'br', 'if-none-match': etag } });
    expect(revalidated.statusCode).toBe(304);
  });

  it('answers 404 for a missing bundle and never serves a file outside the console folder', async () => {
    const gone = await api.call('GET', '/assets/app-000000.js', { token: null });
    expect(gone.statusCode).toBe(404);
    expect(json(gone)).toMatchObject({ code: 'E_NOT_FOUND' });
    if (!api.app.server.listening) await api.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (api.app.server.address() as { port: number }).port;
    for (const path of ['/assets/../secret.txt', '/assets/%2e%2e/secret.txt', '/assets/..%2fsecret.txt', '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/assets/....//secret.txt', '/assets//etc/passwd', '/../secret.txt', '/secret.txt']) {
      const res = await rawGet(port, path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(res.body, path).not.toContain('not for the web');
      expect(res.body, path).not.toContain('root:');
    }
  });

  it('keeps its routes out of the OpenAPI document, and every /v1 route behind a token', async () => {
    const doc = json<{ paths: Record<string, unknown> }>(await api.call('GET', '/openapi.json', { token: null }));
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && !['/health', '/metrics', '/openapi.json'].includes(p))).toEqual([]);
    expect((await api.call('GET', '/v1/gateways', { token: null })).statusCode).toBe(401);
    expect((await api.call('GET', '/v1/me', { token: null })).statusCode).toBe(401);
    expect((await api.call('GET', '/v1/gateways', { token: api.ro })).statusCode).toBe(200);
  });
});

describe('a fleet whose console is not built', () => {
  const api = useApi('pglite', () => ({ consoleDir: missing }));

  it('says at / how to build it (503 E_CONSOLE_NOT_BUILT), and the API works as before', async () => {
    const res = await api.call('GET', '/', { token: null });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(res)).toMatchObject({ code: 'E_CONSOLE_NOT_BUILT', detail: expect.stringContaining('npm run build') as unknown });
    expect((await api.call('GET', '/assets/app-abc123.js', { token: null })).statusCode).toBe(404);
    expect((await api.call('GET', '/v1/me')).statusCode).toBe(200);
  });
});
