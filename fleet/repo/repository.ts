import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { DEFAULT_KEEP_RELEASES, checkCovered, delegationTo, keepNewestReleases, targetsOf, withDelegation, type Delegation } from './delegation.js';
import type { Role, TufPublicKey } from './keys.js';
import { DEFAULT_EXPIRY_DAYS, bytesOf, expires, newestVersion, readJson, signer, tufKey, writeAtomic, type Json } from './metadata-files.js';
import { modelReleaseTargets, type ModelReleaseInput } from './model-release-targets.js';
import { RepoError, type SigningKey } from './repo-error.js';
import { prepareTargets, storeTargets, type TargetInput } from './target-files.js';

export { DEFAULT_EXPIRY_DAYS } from './metadata-files.js';
export { RepoError, type RepoErrorCode, type SigningKey } from './repo-error.js';

/**
 * The fleet's TUF repository of model releases, on disk:
 * - `staged/root.json`, `staged/targets.json`: the next versions of the offline-signed roles,
 *   collecting signatures (several people can sign in turn) until `publish`;
 * - `metadata/`: what gateways fetch: `N.root.json`, `N.targets.json`, `N.snapshot.json`
 *   (consistent snapshots) and `timestamp.json`, and `N.<role>.json` for each delegated role
 *   (signed with that role's online key, written directly: the next `publish` lists it);
 * - `targets/`: the files, stored as `<dir>/<sha256>.<name>` (consistent snapshots: a file
 *   is never overwritten while a gateway may be fetching it).
 * Metadata objects, signing bytes and threshold checks are @tufjs/models'; this file only
 * decides versions, expiry and where things go.
 */
export class Repository {
  constructor(readonly dir: string) {}

  private staged(role: 'root' | 'targets'): string {
    return join(this.dir, 'staged', `${role}.json`);
  }

  private metadata(name: string): string {
    return join(this.dir, 'metadata', name);
  }

  /**
   * The highest version of a versioned role in `metadata/` (0: none yet): root, targets and
   * snapshot there are published; a delegated role's newest version may wait for the next publish.
   */
  async publishedVersion(role: string): Promise<number> {
    return newestVersion(join(this.dir, 'metadata'), role);
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

  /** Writes the staged targets with `signed` as its content, unsigned (the content changed), its version above the published one. */
  private async stageTargets(signed: Json, now: number): Promise<void> {
    const published = await this.publishedVersion('targets');
    const next = { ...signed, version: Math.max(published + 1, signed['version'] as number), expires: expires(DEFAULT_EXPIRY_DAYS.targets, now) };
    await writeAtomic(this.staged('targets'), bytesOf(new Metadata(Targets.fromJSON(next as never))));
  }

  /**
   * Adds files as targets (a model and its golden input/output, say) to the staged targets
   * metadata, with `custom` fields; clears its signatures (the content changed).
   */
  async addTargets(files: readonly TargetInput[], now = Date.now()): Promise<void> {
    const signed = await this.stagedTargets(now);
    const prepared = await prepareTargets(files);
    await storeTargets(this.dir, prepared);
    const targets = { ...((signed['targets'] as Json | undefined) ?? {}) };
    for (const t of prepared) targets[t.path] = t.entry;
    await this.stageTargets({ ...signed, targets }, now);
  }

  /** A model release in the staged top-level targets: the ONNX file, its golden input and output, and the release fields. Returns the model's target path. */
  async addModel(o: ModelReleaseInput, now = Date.now()): Promise<string> {
    const { path, files } = modelReleaseTargets(o);
    await this.addTargets(files, now);
    return path;
  }

  /**
   * Adds `d.role` as a delegated targets role of the staged top-level targets, or replaces its
   * keys, threshold and paths: `paths` are whole-model patterns (`models/<model>/*\/*`, see
   * modelPathPattern), the delegation terminating. Clears the staged targets' signatures: the
   * offline targets keys then sign it, as for a release.
   */
  async delegate(d: Delegation, now = Date.now()): Promise<void> {
    const signed = withDelegation(await this.stagedTargets(now), d);
    targetsOf(signed, `targets with the delegation to ${d.role}`);
    await this.stageTargets(signed, now);
  }

  /**
   * The targets role that delegates: the staged targets if there are any (they are what the
   * next publish makes gateways trust), else the published ones.
   */
  private async delegator(): Promise<{ targets: Targets; version: number }> {
    const staged = await readJson(this.staged('targets')).catch(() => undefined);
    if (staged !== undefined) {
      const signed = staged['signed'] as Json;
      return { targets: targetsOf(signed, this.staged('targets')), version: signed['version'] as number };
    }
    const v = await this.publishedVersion('targets');
    if (v === 0) throw new RepoError('E_REPO_STATE', `${this.dir}: no targets metadata (init first)`);
    return { targets: targetsOf((await readJson(this.metadata(`${v}.targets.json`)))['signed'] as Json, `${v}.targets.json`), version: v };
  }

  /**
   * Signs files as targets of the delegated role `role` with its (online) keys: writes
   * `metadata/N.<role>.json`, N one above its newest version, holding the role's earlier
   * targets and these; the next `publish` lists it in the snapshot. Every path must be one
   * the delegation gives `role`, and the keys must meet its threshold: otherwise RepoError
   * (E_REPO_NOT_DELEGATED, E_REPO_THRESHOLD) before anything is written. With no files it
   * re-signs the role (a new version and expiry, as before the old one expires). The role
   * keeps the files of its newest `keepReleases` releases (see keepNewestReleases), so its
   * metadata, which every gateway fetches, stays small however many rounds a task runs.
   */
  async addDelegatedTargets(role: string, files: readonly TargetInput[], keys: readonly SigningKey[], o: { readonly now?: number; readonly keepReleases?: number } = {}): Promise<{ role: string; version: number }> {
    const now = o.now ?? Date.now();
    const delegator = await this.delegator();
    delegationTo(delegator.targets, delegator.version, role);
    for (const f of files) checkCovered(delegator.targets, delegator.version, role, f.path);
    const prepared = await prepareTargets(files);
    const current = await this.publishedVersion(role);
    const earlier = current === 0 ? {} : (((await readJson(this.metadata(`${current}.${role}.json`)))['signed'] as { targets?: Json }).targets ?? {});
    const all: Json = { ...earlier };
    for (const t of prepared) all[t.path] = t.entry;
    const targets = keepNewestReleases(all, o.keepReleases ?? DEFAULT_KEEP_RELEASES);
    const version = current + 1;
    const md = new Metadata(Targets.fromJSON({ _type: 'targets', spec_version: '1.0.31', version, expires: expires(DEFAULT_EXPIRY_DAYS.targets, now), targets } as never));
    for (const k of keys) md.sign(signer(k), true);
    try {
      new Metadata(delegator.targets).verifyDelegate(role, md);
    } catch (err) {
      throw new RepoError('E_REPO_THRESHOLD', `${role} v${version}: ${(err as Error).message} (sign with the role's key as delegated in targets v${delegator.version})`);
    }
    await storeTargets(this.dir, prepared);
    await writeAtomic(this.metadata(`${version}.${role}.json`), bytesOf(md));
    return { role, version };
  }

  /** A model release signed by the delegated role `role` (see addModel, addDelegatedTargets). Returns the model's target path. */
  async addDelegatedModel(role: string, o: ModelReleaseInput, keys: readonly SigningKey[], options: { readonly now?: number; readonly keepReleases?: number } = {}): Promise<string> {
    const { path, files } = modelReleaseTargets(o);
    await this.addDelegatedTargets(role, files, keys, options);
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
  async publish(online: { readonly snapshot: readonly SigningKey[]; readonly timestamp: readonly SigningKey[] }, now = Date.now()): Promise<{ root: number; targets: number; snapshot: number; delegated: Record<string, number> }> {
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
    // The targets metadata this publish makes current: the staged one (checked here, written
    // only after its delegated roles are checked against it) or the newest published one.
    let targetsVersion = await this.publishedVersion('targets');
    const stagedTargets = await readJson(this.staged('targets')).catch(() => undefined);
    let targets: Metadata<Targets> | undefined;
    if (stagedTargets !== undefined) {
      targets = Metadata.fromJSON(MetadataKind.Targets, stagedTargets as never);
      try {
        root.verifyDelegate('targets', targets);
      } catch (err) {
        throw new RepoError('E_REPO_THRESHOLD', `targets v${targets.signed.version}: ${(err as Error).message} (sign it with more targets keys)`);
      }
    } else if (targetsVersion > 0) {
      targets = Metadata.fromJSON(MetadataKind.Targets, (await readJson(this.metadata(`${targetsVersion}.targets.json`))) as never);
    }
    if (targets === undefined) throw new RepoError('E_REPO_STATE', 'no targets metadata published yet (sign the staged targets first)');
    const delegated = await this.delegatedMeta(targets);
    if (stagedTargets !== undefined) {
      await writeAtomic(this.metadata(`${targets.signed.version}.targets.json`), bytesOf(targets));
      await rm(this.staged('targets'), { force: true });
      targetsVersion = targets.signed.version;
    }
    const targetsBytes = await readFile(this.metadata(`${targetsVersion}.targets.json`));
    const snapshotVersion = (await this.publishedVersion('snapshot')) + 1;
    const meta: Json = { 'targets.json': { version: targetsVersion, length: targetsBytes.length, hashes: { sha256: createHash('sha256').update(targetsBytes).digest('hex') } } };
    for (const d of delegated) meta[`${d.role}.json`] = { version: d.version, length: d.bytes.length, hashes: { sha256: createHash('sha256').update(d.bytes).digest('hex') } };
    const snapshot = new Metadata(Snapshot.fromJSON({ _type: 'snapshot', spec_version: '1.0.31', version: snapshotVersion, expires: expires(DEFAULT_EXPIRY_DAYS.snapshot, now), meta } as never));
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
    return { root: root.signed.version, targets: targetsVersion, snapshot: snapshotVersion, delegated: Object.fromEntries(delegated.map((d) => [d.role, d.version])) };
  }

  /**
   * The newest metadata of each role `targets` delegates to, checked against the delegation
   * (keys and threshold): a role whose delegation was replaced must be re-signed with the new
   * key (addDelegatedTargets with no files) before it can be published; leaving it out of the
   * snapshot instead would break every gateway that has seen it listed (a snapshot may not
   * drop a role, TUF 5.5.5). A role with no metadata yet is left out until it has some.
   */
  private async delegatedMeta(targets: Metadata<Targets>): Promise<{ role: string; version: number; bytes: Buffer }[]> {
    const out: { role: string; version: number; bytes: Buffer }[] = [];
    for (const role of Object.keys(targets.signed.delegations?.roles ?? {})) {
      const version = await this.publishedVersion(role);
      if (version === 0) continue;
      const bytes = await readFile(this.metadata(`${version}.${role}.json`));
      try {
        const md = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(bytes.toString('utf8')) as never);
        targets.verifyDelegate(role, md);
      } catch (err) {
        throw new RepoError('E_REPO_THRESHOLD', `${role} v${version}: ${(err as Error).message} (not signed by its delegation's keys in targets v${targets.signed.version}: re-sign the role with its current key, then publish)`);
      }
      out.push({ role, version, bytes });
    }
    return out;
  }

  private check(root: Metadata<Root>, role: 'snapshot' | 'timestamp', md: Metadata<Snapshot | Timestamp>): void {
    try {
      root.verifyDelegate(role, md);
    } catch (err) {
      throw new RepoError('E_REPO_THRESHOLD', `${role}: ${(err as Error).message} (give enough ${role} keys)`);
    }
  }
}
