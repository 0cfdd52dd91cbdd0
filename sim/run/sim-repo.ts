import { copyFile, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Delegation } from '../../fleet/repo/delegation.js';
import { generateKeyring, type Keyring } from '../../fleet/repo/keyring.js';
import type { ModelReleaseInput } from '../../fleet/repo/model-release-targets.js';
import { Repository } from '../../fleet/repo/repository.js';
import { serveRepository } from '../../fleet/repo/serve.js';

/** What `FleetService.start` takes to serve releases from this repository and sign federated models with its online keys. */
export interface SimRepoFleetOptions {
  readonly repoDir: string;
  readonly repoUrl: string;
  readonly repoOnlineKeys: string;
}

/**
 * The run's TUF repository, as an operator would keep one: one Ed25519 key per top-level role
 * (root and targets offline under `keys/offline`, snapshot and timestamp online under
 * `keys/online`, the directory `edgewise fleet --repo-online-keys` reads), root v1 signed and
 * published at start, served read-only on 127.0.0.1 (port 0) as `edgewise repo serve` does.
 * The fleet lists its releases and rolls them out (`fleetOptions()`); gateways fetch from
 * `url` and pin `rootFile` (`pinRoot`). Model releases (`publishModel`) and delegations
 * (`delegate`, e.g. a federated task's role) are signed with the offline targets key and
 * published with the online keys, one at a time.
 *
 * The fleet's own DelegatedModelPublisher also publishes into this directory (a round's global
 * model): it shares the online keys, and each publish writes new snapshot and timestamp
 * versions; the two must not overlap (the runner does its publishing before a round starts).
 */
export class SimRepo {
  private queue: Promise<unknown> = Promise.resolve();
  private inputs = 0;

  private constructor(
    readonly dir: string,
    readonly repo: Repository,
    readonly keys: Keyring,
    private readonly server: Server,
    /** Where the repository is served: `<url>/metadata/...`, `<url>/targets/...`. */
    readonly url: string,
  ) {}

  /** Makes keys and a repository under `dir` (which must not hold one yet), publishes root v1 and serves it. */
  static async start(dir: string): Promise<SimRepo> {
    const keys = await generateKeyring((role) => join(dir, 'keys', role === 'snapshot' || role === 'timestamp' ? 'online' : 'offline'), { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    const repo = new Repository(join(dir, 'repo'));
    await repo.init(keys.pub);
    await repo.sign('root', keys.priv.root);
    await repo.sign('targets', keys.priv.targets);
    await repo.publish({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });
    const server = serveRepository(repo.dir);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new SimRepo(dir, repo, keys, server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  get repoDir(): string {
    return this.repo.dir;
  }

  /** The snapshot and timestamp keys (`snapshot-*.key`, `timestamp-*.key`). */
  get onlineKeysDir(): string {
    return join(this.dir, 'keys', 'online');
  }

  /** Root v1: what a gateway is provisioned with (later roots reach it through TUF). */
  get rootFile(): string {
    return join(this.repoDir, 'metadata', '1.root.json');
  }

  fleetOptions(): SimRepoFleetOptions {
    return { repoDir: this.repoDir, repoUrl: this.url, repoOnlineKeys: this.onlineKeysDir };
  }

  /** The gateway config's `updates` URLs (what the fleet's provisioning hands out with `repoUrl`). */
  updates(): { readonly metadataUrl: string; readonly targetBaseUrl: string } {
    return { metadataUrl: `${this.url}/metadata`, targetBaseUrl: `${this.url}/targets` };
  }

  /** Copies the root to pin into a gateway's directory (`updates.rootFile`); returns its path. */
  async pinRoot(gatewayDir: string): Promise<string> {
    await mkdir(gatewayDir, { recursive: true });
    const file = join(gatewayDir, 'root.json');
    await copyFile(this.rootFile, file);
    return file;
  }

  /** Publishes a model release (model, golden input and output files on disk); returns the model's target path. */
  publishModel(input: ModelReleaseInput): Promise<string> {
    return this.serial(async () => {
      const path = await this.repo.addModel(input);
      await this.signAndPublish();
      return path;
    });
  }

  /** Delegates paths to a role (a federated task's `federated-<task>` with the fleet's key for it) and publishes. */
  delegate(d: Delegation): Promise<void> {
    return this.serial(async () => {
      await this.repo.delegate(d);
      await this.signAndPublish();
    });
  }

  /** A fresh directory for the files of one release (its model and golden files). */
  async inputDir(): Promise<string> {
    this.inputs += 1;
    const d = join(this.dir, 'in', String(this.inputs));
    await mkdir(d, { recursive: true });
    return d;
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async signAndPublish(): Promise<void> {
    await this.repo.sign('targets', this.keys.priv.targets);
    await this.repo.publish({ snapshot: this.keys.priv.snapshot, timestamp: this.keys.priv.timestamp });
  }

  /** Two versions of targets staged at once would both be N+1: one change at a time. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
