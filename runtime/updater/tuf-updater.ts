import { join } from 'node:path';
import type { Metadata, Root, TargetFile, Targets } from '@tufjs/models';
import { Updater, type Fetcher, type UpdaterOptions } from 'tuf-js';
import { writeFileDurable } from './durable-file.js';
import { DownloadHttpError } from './fetcher.js';

/**
 * The members of tuf-js's Updater (5.0.1, pinned by the lockfile) that TufUpdater overrides or
 * reads. tuf-js declares them private; they are checked when a TufUpdater is made, so a
 * tuf-js that changed them fails loudly at construction instead of quietly skipping a check.
 */
interface UpdaterInternals {
  /** The metadata directory. */
  dir: string;
  trustedSet: TrustedMetadataStore;
  fetcher: Fetcher;
  config: { readonly maxDelegations: number };
  loadRoot(): Promise<void>;
  loadSnapshot(): Promise<void>;
  loadTargets(role: string, parentRole: string): Promise<Metadata<Targets> | undefined>;
  preorderDepthFirstWalk(targetPath: string): Promise<TargetFile | undefined>;
  /** Writes a verified role's bytes to `<dir>/<encoded name>.json` (synchronously; its callers do not await it). */
  persistMetadata(metaDataName: string, bytesData: Buffer): void;
  refresh(): Promise<void>;
  getTargetInfo(targetPath: string): Promise<TargetFile | undefined>;
}

/** tuf-js's TrustedMetadataStore: the metadata verified so far, one copy per role name. */
interface TrustedMetadataStore {
  readonly root: Metadata<Root>;
  updateSnapshot(data: Buffer, trusted?: boolean): unknown;
  updateDelegatedTargets(data: Buffer, roleName: string, delegatorName: string): void;
}

type PublicUpdater = Pick<Updater, 'downloadTarget' | 'findCachedTarget'>;
const UpdaterWithInternals = Updater as unknown as new (options: UpdaterOptions) => PublicUpdater & UpdaterInternals;

/** The installed tuf-js is not the one TufUpdater was written against (a programming error, not a repository's). */
export class TufInternalsChanged extends Error {
  override readonly name = 'TufInternalsChanged';
}

/** A delegated role to visit, with the metadata of the delegator whose delegation led to it. */
interface Visit {
  readonly role: string;
  readonly delegatorName: string;
  /** undefined for the top-level targets role (delegated by root, verified against it by refresh). */
  readonly delegator: Metadata<Targets> | undefined;
}

/**
 * tuf-js's Updater with four changes, everything else (root rotation, timestamp, snapshot,
 * loading and verifying each role) being tuf-js's own code:
 *
 * - **metadata is persisted atomically** (see persistMetadata), and a new root is also kept
 *   as `root.json.bak`.
 *
 * - **a delegated role is verified against the delegator of the current search path.** tuf-js
 *   keeps one verified copy of each role by name; when a second delegator delegates the same
 *   role name (a "diamond"), a later target search reaching the role through it reused the copy
 *   verified through the first delegator without checking it against the second's keys, so a
 *   target only the first delegator's key had authorised was accepted under the second's
 *   paths (tuf-conformance's test_cached_role_is_verified_against_current_delegator; python-tuf
 *   has the same flaw). The target search (client workflow 5.6.7) is ours, and every role it
 *   visits is verified against the delegator it was reached through (5.6.3).
 * - **root rotation ends at the fetcher's own 403/404**: tuf-js recognises "no newer root" by
 *   its own DownloadHTTPError class, which it does not export; our fetcher throws its own.
 * - **the error a failed snapshot or targets load wraps is kept as the wrapper's `cause`**:
 *   tuf-js wraps it in a RuntimeError that carries only its text, and classify() needs its class.
 */
export class TufUpdater extends UpdaterWithInternals {
  /** The last error a download or a snapshot/targets verification threw (see withCause). */
  private lastFailure: unknown;
  /** The metadata writes not yet on disk, in the order tuf-js asked for them (see persistMetadata). */
  private persisting: Promise<void> = Promise.resolve();
  /** The first of those writes that failed, thrown when the call that made it ends. */
  private persistFailure: Error | undefined;

  constructor(options: UpdaterOptions) {
    super(options);
    const self = this as Partial<UpdaterInternals>;
    const methods = ['loadRoot', 'loadSnapshot', 'loadTargets', 'preorderDepthFirstWalk', 'persistMetadata'] as const;
    const store = self.trustedSet as Partial<TrustedMetadataStore> | undefined;
    if (
      methods.some((m) => typeof Object.getPrototypeOf(TufUpdater.prototype)[m] !== 'function') ||
      typeof self.config?.maxDelegations !== 'number' ||
      typeof self.dir !== 'string' ||
      self.fetcher === undefined ||
      typeof store?.updateSnapshot !== 'function' ||
      typeof store.updateDelegatedTargets !== 'function'
    ) {
      throw new TufInternalsChanged('tuf-js changed the Updater internals TufUpdater builds on (see runtime/updater/tuf-updater.ts): check its delegation walk against the new tuf-js before using it');
    }
    const fetcher = this.fetcher;
    this.fetcher = {
      downloadBytes: (url, maxLength) => fetcher.downloadBytes(url, maxLength).catch((err: unknown) => this.failed(err)),
      downloadFile: (url, maxLength, handler) => fetcher.downloadFile(url, maxLength, handler),
    };
    const { updateSnapshot, updateDelegatedTargets } = this.trustedSet;
    const s = this.trustedSet;
    s.updateSnapshot = (...args) => this.recording(() => updateSnapshot.apply(s, args));
    s.updateDelegatedTargets = (...args) => this.recording(() => updateDelegatedTargets.apply(s, args));
  }

  /**
   * tuf-js writes the file in place (`writeFileSync`): a power cut mid-write leaves a torn
   * `root.json` (every later refresh fails) or a torn timestamp/snapshot/targets. Here: temp
   * file, fsync, rename, fsync the directory, so a file is the old version or the new one,
   * whole. A new root is also kept as `root.json.bak` (written the same way, after root.json):
   * the copy TrustClient falls back to if root.json is found unreadable anyway.
   *
   * The writes run off the event loop, one after another in the order asked: tuf-js calls this
   * synchronously and does not wait, and three synchronous fsyncs per refresh held the whole
   * gateway (pipeline, uplink) for the length of each, tens of milliseconds on an SD card.
   * refresh() and getTargetInfo() do not return (or throw) until every write they caused is on
   * disk, and a failed write fails them, as the synchronous write did. Nothing in one call reads
   * back a file it wrote (each role's file is read before that role is fetched), and a reader
   * sees the old file or the new one, never part of one.
   */
  override persistMetadata(metaDataName: string, bytesData: Buffer): void {
    const file = join(this.dir, `${encodeURIComponent(metaDataName)}.json`);
    this.persisting = this.persisting.then(async () => {
      if (this.persistFailure !== undefined) return;
      try {
        await writeFileDurable(file, bytesData);
        if (metaDataName === 'root') await writeFileDurable(`${file}.bak`, bytesData);
      } catch (err) {
        this.persistFailure = err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  override async refresh(): Promise<void> {
    return this.persisted(() => super.refresh());
  }

  override async getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    return this.persisted(() => super.getTargetInfo(targetPath));
  }

  /** Runs a call of tuf-js that may persist metadata, and returns when those writes are on disk. */
  private async persisted<T>(call: () => Promise<T>): Promise<T> {
    let failure: Error | undefined;
    let result: T;
    try {
      result = await call();
    } finally {
      // Even when the call failed: no write outlives it. Its own error, if any, is the one thrown.
      await this.persisting;
      failure = this.persistFailure;
      this.persistFailure = undefined;
    }
    if (failure !== undefined) throw failure;
    return result;
  }

  /** Whether the trusted root asks for consistent snapshots (target names prefixed with their hash). */
  get consistentSnapshot(): boolean {
    return this.trustedSet.root.signed.consistentSnapshot;
  }

  override async loadRoot(): Promise<void> {
    try {
      await super.loadRoot();
    } catch (err) {
      // Exactly tuf-js's loop exit: a 403 or 404 for the next root version means there is none.
      if (err instanceof DownloadHttpError && (err.statusCode === 403 || err.statusCode === 404)) return;
      throw err;
    }
  }

  override async loadSnapshot(): Promise<void> {
    return this.withCause(() => super.loadSnapshot());
  }

  override async loadTargets(role: string, parentRole: string): Promise<Metadata<Targets> | undefined> {
    return this.withCause(() => super.loadTargets(role, parentRole));
  }

  /**
   * Client workflow 5.6.7: the preorder depth-first search of the delegation graph for the
   * first role that lists `targetPath` (tuf-js's walk, step for step), with 5.6.3 applied on
   * every path: a role is trusted only as far as the delegator that led here signs for it.
   */
  override async preorderDepthFirstWalk(targetPath: string): Promise<TargetFile | undefined> {
    const toVisit: Visit[] = [{ role: 'targets', delegatorName: 'root', delegator: undefined }];
    const visited = new Set<string>();
    while (visited.size <= this.config.maxDelegations && toVisit.length > 0) {
      const { role, delegatorName, delegator } = toVisit.pop() as Visit;
      // 5.6.7.1: a role already searched (for this target) is not searched again.
      if (visited.has(role)) continue;
      const metadata = await this.loadTargets(role, delegatorName);
      if (metadata === undefined) continue;
      // tuf-js returns its one verified copy of the role whatever delegator asks; the copy may
      // have been verified through another delegator, so check it against this one's keys.
      delegator?.verifyDelegate(role, metadata);
      const target = metadata.signed.targets[targetPath];
      if (target !== undefined) return target;
      visited.add(role);
      const delegations = metadata.signed.delegations;
      if (delegations === undefined) continue;
      const children: Visit[] = [];
      for (const { role: child, terminating } of delegations.rolesForTarget(targetPath)) {
        children.push({ role: child, delegatorName: role, delegator: metadata });
        // 5.6.7.2.1: a terminating delegation ends the search after its own subtree.
        if (terminating) {
          toVisit.splice(0);
          break;
        }
      }
      toVisit.push(...children.reverse());
    }
    return undefined;
  }

  private failed(err: unknown): never {
    this.lastFailure = err;
    throw err;
  }

  private recording<T>(verify: () => T): T {
    try {
      return verify();
    } catch (err) {
      return this.failed(err);
    }
  }

  /**
   * Runs a tuf-js load that wraps what failed in a RuntimeError holding only its text
   * (`Unable to load ... error ${err}`): the error that text came from becomes its `cause`.
   */
  private async withCause<T>(load: () => Promise<T>): Promise<T> {
    this.lastFailure = undefined;
    try {
      return await load();
    } catch (err) {
      const inner = this.lastFailure;
      if (err instanceof Error && err.cause === undefined && inner !== undefined && inner !== err && err.message.endsWith(String(inner))) {
        Object.defineProperty(err, 'cause', { value: inner, configurable: true, writable: true });
      }
      throw err;
    }
  }
}
