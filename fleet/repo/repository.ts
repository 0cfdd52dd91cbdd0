import { createHash, sign, type KeyObject } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Key, Metadata, MetadataKind, Root, Signature, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { parseModelRelease, type ModelRelease } from '../protocol/model-release.js';
import { keyId, type Role, type TufPublicKey } from './keys.js';

type Json = Record<string, unknown>;

/**
 * The fleet's TUF repository of model releases, on disk:
 * - `staged/root.json`, `staged/targets.json`: the next versions of the offline-signed roles,
 *   collecting signatures (several people can sign in turn) until `publish`;
 * - `metadata/`: what gateways fetch: `N.root.json`, `N.targets.json`, `N.snapshot.json`
 *   (consistent snapshots) and `timestamp.json`;
 * - `targets/`: the files, stored as `<dir>/<sha256>.<name>` (consistent snapshots: a file
 *   is never overwritten while a gateway may be fetching it).
 * Metadata objects, signing bytes and threshold checks are @tufjs/models'; this file only
 * decides versions, expiry and where things go.
 */
export class RepoError extends Error {
  override readonly name = 'RepoError';
  constructor(
    readonly code: 'E_REPO_STATE' | 'E_REPO_THRESHOLD' | 'E_REPO_INPUT',
    message: string,
  ) {
    super(message);
  }
}

export interface SigningKey {
  readonly keyid: string;
  readonly key: KeyObject;
}

export const DEFAULT_EXPIRY_DAYS = { root: 365, targets: 90, snapshot: 30, timestamp: 7 } as const;

function expires(days: number, now = Date.now()): string {
  return new Date(now + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function tufKey(k: TufPublicKey): Key {
  return new Key({ keyID: keyId(k), keyType: k.keytype, scheme: k.scheme, keyVal: { public: k.keyval.public } });
}

function signer(k: SigningKey): (bytes: Buffer) => Signature {
  // @tufjs/models hands over the canonical JSON bytes of the signed part.
  return (bytes) => new Signature({ keyID: k.keyid, sig: sign(null, bytes, k.key).toString('hex') });
}

async function readJson(path: string): Promise<Json> {
  return JSON.parse(await readFile(path, 'utf8')) as Json;
}

/** Written to a temp name and renamed: a gateway never fetches half a file. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

function bytesOf(md: Metadata<Root | Targets | Snapshot | Timestamp>): string {
  return `${JSON.stringify(md.toJSON(), null, 1)}\n`;
}

export class Repository {
  constructor(readonly dir: string) {}

  private staged(role: 'root' | 'targets'): string {
    return join(this.dir, 'staged', `${role}.json`);
  }

  private metadata(name: string): string {
    return join(this.dir, 'metadata', name);
  }

  /** The highest published version of a versioned role (0: none yet). */
  async publishedVersion(role: 'root' | 'targets' | 'snapshot'): Promise<number> {
    let names: string[] = [];
    try {
      names = await readdir(join(this.dir, 'metadata'));
    } catch {
      return 0;
    }
    return Math.max(0, ...names.map((n) => new RegExp(`^(\\d+)\\.${role}\\.json$`).exec(n)).filter((m) => m !== null).map((m) => Number.parseInt(m[1] as string, 10)));
  }

  async publishedRoot(): Promise<Metadata<Root>> {
    const v = await this.publishedVersion('root');
    if (v === 0) throw new RepoError('E_REPO_STATE', `${this.dir}: no root published yet (init, sign root, publish)`);
    return Metadata.fromJSON(MetadataKind.Root, (await readJson(this.metadata(`${v}.root.json`))) as never);
  }

  /** A new repository: root v1 listing the keys of each role (unsigned), and an empty targets v1. */
  async init(keys: Readonly<Record<Role, readonly TufPublicKey[]>>, thresholds: Partial<Record<Role, number>> = {}, now = Date.now()): Promise<void> {
    if ((await this.publishedVersion('root')) > 0) throw new RepoError('E_REPO_STATE', `${this.dir} already has a published root`);
    const root = new Root({ version: 1, specVersion: '1.0.31', expires: expires(DEFAULT_EXPIRY_DAYS.root, now), consistentSnapshot: true });
    for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
      const list = keys[role];
      if (list.length === 0) throw new RepoError('E_REPO_INPUT', `init: no ${role} key given`);
      for (const k of list) root.addKey(tufKey(k), role);
    }
    const json = root.toJSON() as { roles: Record<string, { keyids: string[]; threshold: number }> };
    for (const [role, t] of Object.entries(thresholds)) {
      const r = json.roles[role];
      if (r === undefined || t === undefined) continue;
      if (!(Number.isInteger(t) && t >= 1 && t <= r.keyids.length)) throw new RepoError('E_REPO_INPUT', `init: ${role} threshold ${t} must be between 1 and its ${r.keyids.length} keys`);
      r.threshold = t;
    }
    await writeAtomic(this.staged('root'), bytesOf(new Metadata(Root.fromJSON(json as unknown as Json as never))));
    await writeAtomic(this.staged('targets'), bytesOf(new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires: expires(DEFAULT_EXPIRY_DAYS.targets, now) }))));
  }

  private async stagedTargets(now: number): Promise<Json> {
    try {
      return (await readJson(this.staged('targets')))['signed'] as Json;
    } catch {
      const v = await this.publishedVersion('targets');
      if (v === 0) throw new RepoError('E_REPO_STATE', `${this.dir}: not initialised`);
      const signed = (await readJson(this.metadata(`${v}.targets.json`)))['signed'] as Json;
      return { ...signed, version: v + 1, expires: expires(DEFAULT_EXPIRY_DAYS.targets, now) };
    }
  }

  /**
   * Adds files as targets (a model and its golden input/output, say) to the staged targets
   * metadata, with `custom` fields; clears its signatures (the content changed). Returns the paths.
   */
  async addTargets(files: readonly { readonly path: string; readonly file: string; readonly custom?: Json }[], now = Date.now()): Promise<void> {
    const signed = await this.stagedTargets(now);
    const targets = { ...((signed['targets'] as Json | undefined) ?? {}) };
    for (const f of files) {
      if (!/^[A-Za-z0-9._/-]{1,200}$/.test(f.path) || f.path.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new RepoError('E_REPO_INPUT', `target path ${JSON.stringify(f.path)}: letters, digits, ".", "_", "-" and "/" between names only`);
      const bytes = await readFile(f.file);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      // Consistent snapshot: the file is fetched as <dir>/<sha256>.<name>.
      await mkdir(join(this.dir, 'targets', dirname(f.path)), { recursive: true });
      await copyFile(f.file, join(this.dir, 'targets', dirname(f.path), `${sha256}.${basename(f.path)}`));
      targets[f.path] = { length: bytes.length, hashes: { sha256 }, ...(f.custom === undefined ? {} : { custom: f.custom }) };
    }
    const published = await this.publishedVersion('targets');
    const next = { ...signed, targets, version: Math.max(published + 1, signed['version'] as number), expires: expires(DEFAULT_EXPIRY_DAYS.targets, now) };
    await writeAtomic(this.staged('targets'), bytesOf(new Metadata(Targets.fromJSON(next as never))));
  }

  /** A model release: the ONNX file, its golden input and output, and the release fields. */
  async addModel(o: { readonly model: string; readonly goldenInput: string; readonly goldenOutput: string; readonly evaluationSet?: string; readonly release: Omit<ModelRelease, 'golden' | 'evaluation'> & { golden: Omit<ModelRelease['golden'], 'input' | 'output'> } }, now = Date.now()): Promise<string> {
    const base = `models/${o.release.model}/${o.release.release}`;
    const release: ModelRelease = { ...o.release, golden: { ...o.release.golden, input: `${base}/golden-input.bin`, output: `${base}/golden-output.bin` }, ...(o.evaluationSet === undefined ? {} : { evaluation: { set: `${base}/evaluation.cbor` } }) };
    const path = `${base}/model.onnx`;
    parseModelRelease({ edgewise: release }, path); // refuse a malformed release here, not on the gateways
    await this.addTargets(
      [
        { path, file: o.model, custom: { edgewise: release } },
        { path: release.golden.input, file: o.goldenInput },
        { path: release.golden.output, file: o.goldenOutput },
        ...(o.evaluationSet === undefined || release.evaluation === undefined ? [] : [{ path: release.evaluation.set, file: o.evaluationSet }]),
      ],
      now,
    );
    return path;
  }

  /**
   * Stages root version N+1 with `role`'s keys changed. It must then be signed by the old
   * root's threshold and by the new one's (root rotation, TUF 5.3.4).
   */
  async rotate(role: Role, o: { readonly add?: readonly TufPublicKey[]; readonly remove?: readonly string[]; readonly threshold?: number }, now = Date.now()): Promise<void> {
    const current = (await this.publishedRoot()).signed.toJSON() as { keys: Json; roles: Record<string, { keyids: string[]; threshold: number }>; version: number };
    const keys = { ...current.keys };
    const r = current.roles[role] as { keyids: string[]; threshold: number };
    let ids = r.keyids.filter((id) => !(o.remove ?? []).includes(id));
    for (const k of o.add ?? []) {
      const key = tufKey(k);
      keys[key.keyID] = key.toJSON();
      if (!ids.includes(key.keyID)) ids = [...ids, key.keyID];
    }
    const threshold = o.threshold ?? Math.min(r.threshold, ids.length);
    if (ids.length === 0 || threshold < 1 || threshold > ids.length) throw new RepoError('E_REPO_INPUT', `rotate ${role}: ${ids.length} keys with threshold ${threshold} is not a valid role`);
    const roles = { ...current.roles, [role]: { keyids: ids, threshold } };
    const used = new Set(Object.values(roles).flatMap((x) => x.keyids));
    const next = { ...current, keys: Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id))), roles, version: current.version + 1, expires: expires(DEFAULT_EXPIRY_DAYS.root, now) };
    await writeAtomic(this.staged('root'), bytesOf(new Metadata(Root.fromJSON(next as never))));
  }

  /** Adds signatures to a staged role (root or targets); anyone holding one of its keys can sign in turn. */
  async sign(role: 'root' | 'targets', keys: readonly SigningKey[]): Promise<void> {
    const path = this.staged(role);
    let json: Json;
    try {
      json = await readJson(path);
    } catch {
      throw new RepoError('E_REPO_STATE', `nothing staged for ${role} (add a model, rotate keys or init first)`);
    }
    const md: Metadata<Root | Targets> = role === 'root' ? Metadata.fromJSON(MetadataKind.Root, json as never) : Metadata.fromJSON(MetadataKind.Targets, json as never);
    for (const k of keys) md.sign(signer(k), true);
    await writeAtomic(path, bytesOf(md));
  }

  /**
   * Publishes what is staged (after checking every threshold) and a new snapshot and
   * timestamp signed with the online keys. With nothing staged it refreshes snapshot and
   * timestamp only (run it before the timestamp expires).
   */
  async publish(online: { readonly snapshot: readonly SigningKey[]; readonly timestamp: readonly SigningKey[] }, now = Date.now()): Promise<{ root: number; targets: number; snapshot: number }> {
    let root = (await this.publishedVersion('root')) > 0 ? await this.publishedRoot() : undefined;
    const stagedRoot = await readJson(this.staged('root')).catch(() => undefined);
    if (stagedRoot !== undefined) {
      const next = Metadata.fromJSON(MetadataKind.Root, stagedRoot as never);
      try {
        // A new root must satisfy the old root's threshold and its own.
        if (root !== undefined) root.verifyDelegate('root', next);
        next.verifyDelegate('root', next);
      } catch (err) {
        throw new RepoError('E_REPO_THRESHOLD', `root v${next.signed.version}: ${(err as Error).message} (sign it with more root keys${root === undefined ? '' : ', old and new'})`);
      }
      await writeAtomic(this.metadata(`${next.signed.version}.root.json`), bytesOf(next));
      await rm(this.staged('root'), { force: true });
      root = next;
    }
    if (root === undefined) throw new RepoError('E_REPO_STATE', `${this.dir}: no root (init first)`);
    let targetsVersion = await this.publishedVersion('targets');
    const stagedTargets = await readJson(this.staged('targets')).catch(() => undefined);
    if (stagedTargets !== undefined) {
      const next = Metadata.fromJSON(MetadataKind.Targets, stagedTargets as never);
      try {
        root.verifyDelegate('targets', next);
      } catch (err) {
        throw new RepoError('E_REPO_THRESHOLD', `targets v${next.signed.version}: ${(err as Error).message} (sign it with more targets keys)`);
      }
      await writeAtomic(this.metadata(`${next.signed.version}.targets.json`), bytesOf(next));
      await rm(this.staged('targets'), { force: true });
      targetsVersion = next.signed.version;
    }
    if (targetsVersion === 0) throw new RepoError('E_REPO_STATE', 'no targets metadata published yet (sign the staged targets first)');
    const targetsBytes = await readFile(this.metadata(`${targetsVersion}.targets.json`));
    const snapshotVersion = (await this.publishedVersion('snapshot')) + 1;
    const snapshot = new Metadata(Snapshot.fromJSON({ _type: 'snapshot', spec_version: '1.0.31', version: snapshotVersion, expires: expires(DEFAULT_EXPIRY_DAYS.snapshot, now), meta: { 'targets.json': { version: targetsVersion, length: targetsBytes.length, hashes: { sha256: createHash('sha256').update(targetsBytes).digest('hex') } } } }));
    for (const k of online.snapshot) snapshot.sign(signer(k), true);
    this.check(root, 'snapshot', snapshot);
    const snapshotBytes = bytesOf(snapshot);
    await writeAtomic(this.metadata(`${snapshotVersion}.snapshot.json`), snapshotBytes);
    const previous = await readJson(this.metadata('timestamp.json')).catch(() => undefined);
    const timestampVersion = ((previous?.['signed'] as { version?: number } | undefined)?.version ?? 0) + 1;
    const timestamp = new Metadata(Timestamp.fromJSON({ _type: 'timestamp', spec_version: '1.0.31', version: timestampVersion, expires: expires(DEFAULT_EXPIRY_DAYS.timestamp, now), meta: { 'snapshot.json': { version: snapshotVersion, length: Buffer.byteLength(snapshotBytes), hashes: { sha256: createHash('sha256').update(snapshotBytes).digest('hex') } } } }));
    for (const k of online.timestamp) timestamp.sign(signer(k), true);
    this.check(root, 'timestamp', timestamp);
    await writeAtomic(this.metadata('timestamp.json'), bytesOf(timestamp));
    return { root: root.signed.version, targets: targetsVersion, snapshot: snapshotVersion };
  }

  private check(root: Metadata<Root>, role: 'snapshot' | 'timestamp', md: Metadata<Snapshot | Timestamp>): void {
    try {
      root.verifyDelegate(role, md);
    } catch (err) {
      throw new RepoError('E_REPO_THRESHOLD', `${role}: ${(err as Error).message} (give enough ${role} keys)`);
    }
  }
}
