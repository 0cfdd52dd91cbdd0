import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Repository, RepoError, type SigningKey } from '../../../fleet/repo/repository.js';
import { serveRepository } from '../../../fleet/repo/serve.js';
import { parseModelRelease } from '../../../fleet/protocol/model-release.js';
import { TrustClient, initTrust, type TrustErrorCode } from '../../../runtime/updater/trust.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { keyring, type Keyring } from '../../support/tuf-rig.js';

const RELEASE = {
  model: 'anomaly-motor',
  release: 3,
  version: '2026.11.3',
  hardware: { arch: ['x64', 'arm64'] as ('x64' | 'arm64')[], accelerators: ['cpu'] },
  minRuntimeVersion: '0.1.0',
  golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.00001' },
  budgets: { latencyMs: 50, errorRatePpm: 10_000, probationS: 600 },
};

describe('TUF repository (fleet) and trust client (gateway)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: Server;
  let url: string;
  let repo: Repository;
  let keys: Keyring;
  let modelBytes: Uint8Array;
  let modelPath: string;

  const client = (name = 'gw'): TrustClient => new TrustClient({ metadataDir: `${dir.path}/${name}/metadata`, metadataUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets`, targetDir: `${dir.path}/${name}/targets`, idleTimeoutMs: 10_000 });
  const online = (): { snapshot: SigningKey[]; timestamp: SigningKey[] } => ({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });
  async function expectRefused(p: Promise<unknown>, code: TrustErrorCode, says?: RegExp): Promise<void> {
    const err = await p.then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(err, 'refused').toBeDefined();
    expect(err?.code, err?.message).toBe(code);
    if (says !== undefined) expect(err?.message).toMatch(says);
  }

  beforeEach(async () => {
    dir = await makeTempDir();
    keys = await keyring(`${dir.path}/keys`, { root: 2, targets: 2, snapshot: 1, timestamp: 1 });
    repo = new Repository(`${dir.path}/repo`);
    await repo.init(keys.pub, { root: 2, targets: 2 });
    await repo.sign('root', keys.priv.root);
    modelBytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 255);
    await mkdir(`${dir.path}/in`, { recursive: true });
    await writeFile(`${dir.path}/in/model.onnx`, modelBytes);
    await writeFile(`${dir.path}/in/gi.bin`, new Uint8Array(16));
    await writeFile(`${dir.path}/in/go.bin`, new Uint8Array(16));
    modelPath = await repo.addModel({ model: `${dir.path}/in/model.onnx`, goldenInput: `${dir.path}/in/gi.bin`, goldenOutput: `${dir.path}/in/go.bin`, release: RELEASE });
    await repo.sign('targets', keys.priv.targets);
    await repo.publish(online());
    server = serveRepository(`${dir.path}/repo`);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await initTrust(`${dir.path}/gw/metadata`, `${dir.path}/repo/metadata/1.root.json`);
  });

  afterEach(async () => {
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    await dir.remove();
  });

  it('delivers a signed model release with its custom fields, verified, and does not fetch it twice', async () => {
    const c = client();
    await c.refresh();
    const info = await c.target(modelPath);
    expect(parseModelRelease(info.custom, modelPath)).toMatchObject({ model: 'anomaly-motor', release: 3, golden: { input: 'models/anomaly-motor/3/golden-input.bin' } });
    const got = await c.download(info);
    expect(got.cached).toBe(false);
    expect(createHash('sha256').update(await readFile(got.path)).digest('hex')).toBe(createHash('sha256').update(modelBytes).digest('hex'));
    expect((await client().download(await c.target(modelPath))).cached).toBe(true);
    // The trusted metadata, and a copy of the trusted root to fall back on if root.json is torn.
    expect((await readdir(`${dir.path}/gw/metadata`)).sort()).toEqual(['root.json', 'root.json.bak', 'snapshot.json', 'targets.json', 'timestamp.json']);
  });

  it('refuses a target whose bytes do not match its signed hashes, and one signed metadata does not list', async () => {
    const stored = (await readdir(`${dir.path}/repo/targets/models/anomaly-motor/3`)).find((f) => f.endsWith('.model.onnx')) as string;
    const tampered = Uint8Array.from(modelBytes);
    tampered[100] = (tampered[100] as number) ^ 1;
    await writeFile(`${dir.path}/repo/targets/models/anomaly-motor/3/${stored}`, tampered);
    const c = client();
    await c.refresh();
    await expectRefused(c.download(await c.target(modelPath)), 'E_TRUST_HASH');
    await expectRefused(c.target('models/anomaly-motor/3/other.onnx'), 'E_TRUST_NOT_LISTED', /not listed/);
  });

  /**
   * The repository served on loopback, where `onModel` may answer a request for the model file
   * itself (true) or leave it to the repository (false); `make` is a gateway's trust client on it.
   */
  async function serveModelVia(onModel: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<{ make: () => TrustClient; close: () => Promise<void> }> {
    const repoServer = serveRepository(`${dir.path}/repo`);
    const server = createServer((req, res) => {
      if ((req.url ?? '').endsWith('.model.onnx') && onModel(req, res)) return;
      repoServer.emit('request', req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      make: () => new TrustClient({ metadataDir: `${dir.path}/gw/metadata`, metadataUrl: `${base}/metadata`, targetBaseUrl: `${base}/targets`, targetDir: `${dir.path}/gw/targets`, idleTimeoutMs: 5000 }),
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it('resumes an interrupted download where it stopped (HTTP Range), then verifies the whole file', async () => {
    // A link that dies after 2000 bytes of the model, once.
    const ranges: string[] = [];
    const { make, close } = await serveModelVia((req, res) => {
      ranges.push(req.headers.range ?? 'none');
      if (ranges.length > 1) return false;
      res.writeHead(200, { 'content-length': modelBytes.length });
      res.write(modelBytes.subarray(0, 2000), () => res.destroy());
      return true;
    });
    try {
      const first = make();
      await first.refresh();
      await expectRefused(first.download(await first.target(modelPath)), 'E_TRUST_FETCH');
      expect((await readdir(`${dir.path}/gw/partial`)).length).toBe(1);
      const second = make(); // as after a restart
      await second.refresh();
      const got = await second.download(await second.target(modelPath));
      expect(Buffer.from(await readFile(got.path)).equals(Buffer.from(modelBytes))).toBe(true);
      expect(ranges).toEqual(['none', 'bytes=2000-']);
      expect(await readdir(`${dir.path}/gw/partial`)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('verifies a resumed download from its first byte: a server that ignores Range starts it over, and a part corrupted on disk is refused, then fetched anew', async () => {
    let cut = true;
    let ignoreRange = true;
    const { make, close } = await serveModelVia((req, res) => {
      if (cut) {
        cut = false;
        res.writeHead(200, { 'content-length': modelBytes.length });
        res.write(modelBytes.subarray(0, 3000), () => res.destroy());
        return true;
      }
      if (!ignoreRange || req.headers.range === undefined) return false;
      // The whole file, as if no Range had been asked for.
      res.writeHead(200, { 'content-length': modelBytes.length });
      res.end(Buffer.from(modelBytes));
      return true;
    });
    try {
      const c = make();
      await c.refresh();
      await expectRefused(c.download(await c.target(modelPath)), 'E_TRUST_FETCH');
      const got = await make().download(await c.target(modelPath));
      expect(Buffer.from(await readFile(got.path)).equals(Buffer.from(modelBytes))).toBe(true);

      // A part whose bytes changed on disk since (a bad sector, a crash mid-write): the hash says so.
      await rm(got.path);
      cut = true;
      ignoreRange = false;
      await expectRefused(c.download(await c.target(modelPath)), 'E_TRUST_FETCH');
      const [part] = await readdir(`${dir.path}/gw/partial`);
      await writeFile(`${dir.path}/gw/partial/${part as string}`, Buffer.alloc(3000, 7));
      await expectRefused(make().download(await c.target(modelPath)), 'E_TRUST_HASH');
      expect(await readdir(`${dir.path}/gw/partial`)).toEqual([]);
      await expect(readFile(got.path)).rejects.toMatchObject({ code: 'ENOENT' });
      const again = await make().download(await c.target(modelPath));
      expect(Buffer.from(await readFile(again.path)).equals(Buffer.from(modelBytes))).toBe(true);
    } finally {
      await close();
    }
  });

  it('serves only metadata/ and targets/, however the path is encoded', async () => {
    await writeFile(`${dir.path}/repo/secret.key`, 'private');
    for (const p of ['/metadata/..%2Fsecret.key', '/targets/%2E%2E/secret.key', '/staged/root.json', '/metadata/..%5Csecret.key', '/metadata/%E0%A4%A']) {
      expect((await fetch(`${url}${p}`)).status, p).toBe(404);
    }
    expect((await fetch(`${url}/metadata/1.root.json`)).status).toBe(200);
  });

  it('stops an endless target at its signed length', async () => {
    const stored = (await readdir(`${dir.path}/repo/targets/models/anomaly-motor/3`)).find((f) => f.endsWith('.model.onnx')) as string;
    await writeFile(`${dir.path}/repo/targets/models/anomaly-motor/3/${stored}`, new Uint8Array(5_000_000));
    const c = client();
    await c.refresh();
    await expectRefused(c.download(await c.target(modelPath)), 'E_TRUST_LENGTH');
  });

  it('publishes nothing one signature short of a threshold', async () => {
    await repo.addTargets([{ path: 'models/x/1/model.onnx', file: `${dir.path}/in/model.onnx` }]);
    await repo.sign('targets', keys.priv.targets.slice(0, 1));
    await expect(repo.publish(online())).rejects.toThrow(RepoError);
    await expect(repo.publish(online())).rejects.toThrow(/targets v2: .*signed by 1\/2/);
  });

  it('refuses metadata rolled back to an older version after a newer one was trusted', async () => {
    const old = await readFile(`${dir.path}/repo/metadata/timestamp.json`);
    await repo.publish(online()); // timestamp v2
    await client().refresh();
    await writeFile(`${dir.path}/repo/metadata/timestamp.json`, old);
    await expectRefused(client().refresh(), 'E_TRUST_ROLLBACK', /less than current version/);
  });

  it('refuses expired metadata', async () => {
    await repo.publish(online(), Date.now() - 8 * 86_400_000); // timestamp expired a day ago
    await expectRefused(client().refresh(), 'E_TRUST_EXPIRED');
  });

  it('follows a root rotation signed by the old and the new root keys, and refuses one that lacks the old', async () => {
    const fresh = await keyring(`${dir.path}/keys2`, { root: 1, targets: 0, snapshot: 0, timestamp: 1 });
    await repo.rotate('timestamp', { add: fresh.pub.timestamp, remove: keys.pub.timestamp.map((k) => (k as unknown as { keyid?: string }).keyid ?? '').concat([]), threshold: 1 });
    // Signed by the new root keys only: not published.
    await repo.rotate('root', { add: fresh.pub.root, remove: [], threshold: 1 });
    await repo.sign('root', fresh.priv.root);
    await expect(repo.publish({ snapshot: keys.priv.snapshot, timestamp: [...keys.priv.timestamp, ...fresh.priv.timestamp] })).rejects.toThrow(/root v2/);
    await repo.sign('root', keys.priv.root);
    await repo.publish({ snapshot: keys.priv.snapshot, timestamp: [...keys.priv.timestamp, ...fresh.priv.timestamp] });
    const c = client();
    await c.refresh();
    expect(JSON.parse(await readFile(`${dir.path}/gw/metadata/root.json`, 'utf8')).signed.version).toBe(2);
  });

  it('fails the refresh on any single-byte change to any signed metadata file (property)', async () => {
    const files = (await readdir(`${dir.path}/repo/metadata`)).filter((f) => f !== '1.root.json');
    const originals = new Map(await Promise.all(files.map(async (f) => [f, await readFile(`${dir.path}/repo/metadata/${f}`)] as const)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...files), fc.nat(), fc.integer({ min: 1, max: 255 }), async (file, at, flip) => {
        const bytes = Uint8Array.from(originals.get(file) as Buffer);
        const i = at % bytes.length;
        bytes[i] = (bytes[i] as number) ^ flip;
        await writeFile(`${dir.path}/repo/metadata/${file}`, bytes);
        const name = `gw-${Math.random().toString(36).slice(2)}`;
        await initTrust(`${dir.path}/${name}/metadata`, `${dir.path}/repo/metadata/1.root.json`);
        let failed = false;
        try {
          const c = client(name);
          await c.refresh();
          await c.download(await c.target(modelPath));
        } catch {
          failed = true;
        }
        await writeFile(`${dir.path}/repo/metadata/${file}`, originals.get(file) as Buffer);
        // A change inside JSON whitespace is not a change to the signed content, nor is the letter
        // case of a signature's hex digits (the same signature bytes; it verifies, rightly).
        const canonical = (text: string): string => {
          const md = JSON.parse(text) as { signatures?: { sig?: unknown }[] };
          for (const sig of md.signatures ?? []) if (typeof sig.sig === 'string') sig.sig = sig.sig.toLowerCase();
          return JSON.stringify(md);
        };
        const stillSame = (() => {
          try {
            return canonical(Buffer.from(bytes).toString('utf8')) === canonical((originals.get(file) as Buffer).toString('utf8'));
          } catch {
            return false;
          }
        })();
        expect(failed || stillSame).toBe(true);
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
