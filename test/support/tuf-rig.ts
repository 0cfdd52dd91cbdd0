import { createHash, sign } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { Metadata, MetadataKind, Signature } from '@tufjs/models';
import { generateKeyring, type Keyring } from '../../fleet/repo/keyring.js';
import type { Role } from '../../fleet/repo/keys.js';
import { Repository, type SigningKey } from '../../fleet/repo/repository.js';
import { serveRepository } from '../../fleet/repo/serve.js';
import { TrustClient, initTrust } from '../../runtime/updater/trust.js';
import { listenOnLoopback } from './ports.js';

/** The keys of a test repository (moved to fleet/repo/keyring.ts, where the simulator uses it too). */
export type { Keyring } from '../../fleet/repo/keyring.js';

export function keyring(dir: string, counts: Record<Role, number>): Promise<Keyring> {
  return generateKeyring(dir, counts);
}

/**
 * A repository with keys, served on loopback, and a gateway-side metadata dir pinned to its
 * root v1; plus tools to forge metadata the way an attacker would (re-signed with any keys,
 * or with signatures taken from other content). Served through a hook so a test can answer
 * a path itself (an endless file, a cut connection).
 */
export class TufRig {
  server!: Server;
  url = '';
  readonly repo: Repository;
  keys!: Keyring;
  /** Answers a request instead of the repository when it returns true. */
  intercept: ((path: string, res: import('node:http').ServerResponse) => boolean) | undefined;

  constructor(readonly dir: string) {
    this.repo = new Repository(`${dir}/repo`);
  }

  async start(counts: Record<Role, number> = { root: 1, targets: 1, snapshot: 1, timestamp: 1 }, thresholds: Partial<Record<Role, number>> = {}): Promise<void> {
    this.keys = await keyring(`${this.dir}/keys`, counts);
    await this.repo.init(this.keys.pub, thresholds);
    await this.repo.sign('root', this.keys.priv.root);
    const files = serveRepository(`${this.dir}/repo`);
    this.server = createServer((req, res) => {
      if (this.intercept?.(req.url ?? '', res) === true) return;
      files.emit('request', req, res);
    });
    // Port 0 and the bound port read back; a listen that fails rejects (it used to hang).
    this.url = `http://127.0.0.1:${await listenOnLoopback(this.server)}`;
  }

  online(): { snapshot: SigningKey[]; timestamp: SigningKey[] } {
    return { snapshot: this.keys.priv.snapshot, timestamp: this.keys.priv.timestamp };
  }

  /** Publishes a file as a target (signed with every targets key) with new snapshot and timestamp. */
  async publishFile(path: string, bytes: Uint8Array, custom?: Record<string, unknown>): Promise<void> {
    await mkdir(`${this.dir}/in`, { recursive: true });
    const f = `${this.dir}/in/${createHash('sha256').update(path).digest('hex').slice(0, 8)}`;
    await writeFile(f, bytes);
    await this.repo.addTargets([{ path, file: f, ...(custom === undefined ? {} : { custom }) }]);
    await this.repo.sign('targets', this.keys.priv.targets);
    await this.repo.publish(this.online());
  }

  async pin(name = 'gw'): Promise<void> {
    await initTrust(`${this.dir}/${name}/metadata`, `${this.dir}/repo/metadata/1.root.json`);
  }

  client(name = 'gw'): TrustClient {
    return new TrustClient({ metadataDir: `${this.dir}/${name}/metadata`, metadataUrl: `${this.url}/metadata`, targetBaseUrl: `${this.url}/targets`, targetDir: `${this.dir}/${name}/targets`, idleTimeoutMs: 5000 });
  }

  async read(file: string): Promise<{ signed: Record<string, unknown>; signatures: { keyid: string; sig: string }[] }> {
    return JSON.parse(await readFile(`${this.dir}/repo/metadata/${file}`, 'utf8')) as { signed: Record<string, unknown>; signatures: { keyid: string; sig: string }[] };
  }

  async write(file: string, json: unknown): Promise<void> {
    await writeFile(`${this.dir}/repo/metadata/${file}`, `${JSON.stringify(json, null, 1)}\n`);
  }

  /** Rewrites a published metadata file: its signed part changed by `edit`, signed by `keys` (replacing the signatures). */
  async forge(file: string, kind: 'root' | 'targets' | 'snapshot' | 'timestamp', edit: (signed: Record<string, unknown>) => void, keys: readonly SigningKey[]): Promise<void> {
    const json = await this.read(file);
    edit(json.signed);
    const data = { signed: json.signed, signatures: [] } as never;
    const md: Metadata<never> = (kind === 'root' ? Metadata.fromJSON(MetadataKind.Root, data) : kind === 'targets' ? Metadata.fromJSON(MetadataKind.Targets, data) : kind === 'snapshot' ? Metadata.fromJSON(MetadataKind.Snapshot, data) : Metadata.fromJSON(MetadataKind.Timestamp, data)) as never;
    for (const k of keys) md.sign((bytes) => new Signature({ keyID: k.keyid, sig: sign(null, bytes, k.key).toString('hex') }), true);
    await this.write(file, md.toJSON());
  }

  async stop(): Promise<void> {
    if (this.server?.listening === true) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
