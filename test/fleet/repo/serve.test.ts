import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveRepository } from '../../../fleet/repo/serve.js';
import { listenOnLoopback } from '../../support/ports.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('edgewise repo serve: metadata and targets over HTTP, with byte ranges', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: Server;
  let url: string;
  const small = randomBytes(10_000);
  const large = randomBytes(300 * 1024);

  beforeAll(async () => {
    dir = await makeTempDir();
    mkdirSync(`${dir.path}/metadata`);
    mkdirSync(`${dir.path}/targets`);
    writeFileSync(`${dir.path}/metadata/1.root.json`, small);
    writeFileSync(`${dir.path}/targets/model.onnx`, large);
    writeFileSync(`${dir.path}/keys.txt`, 'secret');
    server = serveRepository(dir.path);
    url = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dir.remove();
  });

  for (const [name, path, bytes] of [['a small (metadata) file', '/metadata/1.root.json', small], ['a large (target) file', '/targets/model.onnx', large]] as const) {
    it(`${name}: whole, from a byte on, past its end, and HEAD`, async () => {
      const whole = await fetch(`${url}${path}`);
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);

      const rest = await fetch(`${url}${path}`, { headers: { range: 'bytes=1234-' } });
      expect(rest.status).toBe(206);
      expect(rest.headers.get('content-range')).toBe(`bytes 1234-${bytes.length - 1}/${bytes.length}`);
      expect(Buffer.from(await rest.arrayBuffer()).equals(bytes.subarray(1234))).toBe(true);

      const past = await fetch(`${url}${path}`, { headers: { range: `bytes=${bytes.length + 1}-` } });
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe(`bytes */${bytes.length}`);

      const head = await fetch(`${url}${path}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
    });
  }

  it('serves nothing outside metadata/ and targets/, and only GET and HEAD', async () => {
    expect((await fetch(`${url}/keys.txt`)).status).toBe(404);
    expect((await fetch(`${url}/metadata/..%2Fkeys.txt`)).status).toBe(404);
    expect((await fetch(`${url}/metadata/missing.json`)).status).toBe(404);
    expect((await fetch(`${url}/metadata/1.root.json`, { method: 'PUT', body: 'x' })).status).toBe(405);
  });
});
