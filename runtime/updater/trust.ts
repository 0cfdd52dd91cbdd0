import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Metadata, MetadataKind, type TargetFile } from '@tufjs/models';
import { DownloadError, DownloadTooLongError, ResumingFetcher, TargetHashError, TargetLengthError } from './fetcher.js';
import type { ComponentEvents } from '../health/events.js';
import { writeFileDurableSync } from './durable-file.js';
import { TufInternalsChanged, TufUpdater } from './tuf-updater.js';

/**
 * The gateway's trust in model releases: the TUF client workflow of tuf-js (root rotation,
 * timestamp, snapshot, targets, expiry, versions, hashes, length limits), with our own
 * delegated-target search (tuf-updater.ts), over a metadata directory that starts from a root
 * pinned at provisioning. `edgewise tuf-client` runs exactly this code, so its conformance
 * (113 of 113 tuf-conformance tests) is the gateway's.
 */
export type TrustErrorCode = 'E_TRUST_ROOT' | 'E_TRUST_SIGNATURE' | 'E_TRUST_EXPIRED' | 'E_TRUST_ROLLBACK' | 'E_TRUST_HASH' | 'E_TRUST_LENGTH' | 'E_TRUST_NOT_LISTED' | 'E_TRUST_FETCH' | 'E_TRUST_OTHER';

export class TrustError extends Error {
  override readonly name = 'TrustError';
  constructor(
    readonly code: TrustErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The tuf-js and @tufjs/models error classes (their dist/error.d.ts) and the code each means.
 * Neither package exports its error classes, so a class is known by its name, anywhere in the
 * error's prototype chain (EqualVersionError is a BadVersionError); first match wins.
 */
const TUF_ERROR_CODES: readonly (readonly [string, TrustErrorCode])[] = [
  ['UnsignedMetadataError', 'E_TRUST_SIGNATURE'],
  ['ExpiredMetadataError', 'E_TRUST_EXPIRED'],
  ['BadVersionError', 'E_TRUST_ROLLBACK'],
  ['DownloadLengthMismatchError', 'E_TRUST_LENGTH'],
  ['DownloadError', 'E_TRUST_FETCH'],
];

function classNames(err: object): string[] {
  const names: string[] = [];
  for (let p: unknown = Object.getPrototypeOf(err); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const name = (p as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}

function codeOf(err: unknown): TrustErrorCode {
  if (err instanceof TrustError) return err.code;
  if (err instanceof DownloadTooLongError || err instanceof TargetLengthError) return 'E_TRUST_LENGTH';
  if (err instanceof TargetHashError) return 'E_TRUST_HASH';
  if (err instanceof DownloadError) return 'E_TRUST_FETCH';
  if (typeof err !== 'object' || err === null) return 'E_TRUST_OTHER';
  const names = classNames(err);
  // tuf-js wraps a failed snapshot or targets load in a RuntimeError; TufUpdater keeps the original as its cause.
  if (names.includes('RuntimeError')) return (err as Error).cause === undefined ? 'E_TRUST_OTHER' : codeOf((err as Error).cause);
  const message = (err as Error).message;
  // Two classes @tufjs/models throws for more than one reason, told apart by the fixed start of their message.
  if (names.includes('LengthOrHashMismatchError')) return message.startsWith('Expected length') ? 'E_TRUST_LENGTH' : 'E_TRUST_HASH';
  if (names.includes('ValueError') && message.startsWith('multiple signatures found for keyid')) return 'E_TRUST_SIGNATURE';
  return TUF_ERROR_CODES.find(([name]) => names.includes(name))?.[1] ?? 'E_TRUST_OTHER';
}

/** A TrustError for what tuf-js, @tufjs/models or our fetcher threw, its code chosen by the error's class. */
export function classify(err: unknown): TrustError {
  if (err instanceof TrustError) return err;
  const kind = (err as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'Error';
  const message = (err as Error | null)?.message ?? String(err);
  return new TrustError(codeOf(err), `${kind}: ${message}`, { cause: err });
}

export interface TrustOptions {
  readonly metadataDir: string;
  readonly metadataUrl: string;
  readonly targetBaseUrl?: string;
  readonly targetDir?: string;
  /** A download with no byte for this long is given up (and resumed next time). */
  readonly idleTimeoutMs?: number;
  /** Where interrupted downloads wait to be resumed; default: `<metadataDir>/../partial`. */
  readonly partialDir?: string;
  /** Where a recovered root is reported (`update.trust_root_recovered`). */
  readonly events?: Pick<ComponentEvents, 'warn'>;
}

/** Pins the trusted root: copies it to `<metadataDir>/root.json` after checking it is a root signed by its own keys. */
export async function initTrust(metadataDir: string, rootFile: string): Promise<void> {
  let md: Metadata<import('@tufjs/models').Root>;
  try {
    md = Metadata.fromJSON(MetadataKind.Root, JSON.parse(await readFile(rootFile, 'utf8')) as never);
    md.verifyDelegate('root', md);
  } catch (err) {
    throw new TrustError('E_TRUST_ROOT', `${rootFile}: not a root metadata file signed by its own root keys (${(err as Error).message})`, { cause: err });
  }
  await mkdir(metadataDir, { recursive: true });
  // Copy, fsync, rename: a power cut leaves no root or the whole root, never half of one.
  const tmp = join(metadataDir, 'root.json.tmp');
  await copyFile(rootFile, tmp);
  const h = await open(tmp, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, join(metadataDir, 'root.json'));
  // The copy a torn root.json is recovered from (see TrustClient).
  writeFileDurableSync(join(metadataDir, 'root.json.bak'), await readFile(join(metadataDir, 'root.json')));
}

export class TrustClient {
  private updater: TufUpdater;

  constructor(private readonly o: TrustOptions) {
    this.fetcher = new ResumingFetcher({ partialDir: o.partialDir ?? join(o.metadataDir, '..', 'partial'), idleTimeoutMs: o.idleTimeoutMs ?? 30_000 });
    this.updater = this.make();
  }

  private readonly fetcher: ResumingFetcher;

  private construct(): TufUpdater {
    const o = this.o;
    return new TufUpdater({
      metadataDir: o.metadataDir,
      metadataBaseUrl: o.metadataUrl,
      ...(o.targetDir === undefined ? {} : { targetDir: o.targetDir }),
      ...(o.targetBaseUrl === undefined ? {} : { targetBaseUrl: o.targetBaseUrl }),
      fetcher: this.fetcher,
    });
  }

  /**
   * A TUF updater on the trusted root in `root.json`. A root.json that does not load (torn by a
   * power cut under an older writer, emptied, garbled, or failing its own signatures) is
   * replaced by `root.json.bak`, the last root TUF accepted, if that one loads; the event
   * `update.trust_root_recovered` says so. Never the provisioned root: after a rotation, that
   * one may name keys the fleet has since retired.
   */
  private make(): TufUpdater {
    const o = this.o;
    const root = join(o.metadataDir, 'root.json');
    const bak = `${root}.bak`;
    let updater: TufUpdater;
    try {
      updater = this.construct();
    } catch (err) {
      if (err instanceof TufInternalsChanged) throw err;
      updater = this.recover(err);
    }
    // A gateway pinned before backups were kept gets its first one from a root that loads
    // (best effort: a backup that cannot be written must not stop the refresh it protects).
    if (!existsSync(bak)) {
      try {
        writeFileDurableSync(bak, readFileSync(root));
      } catch {
        // tried again at the next refresh
      }
    }
    return updater;
  }

  private recover(err: unknown): TufUpdater {
    const o = this.o;
    const root = join(o.metadataDir, 'root.json');
    const bak = `${root}.bak`;
    const reason = (err as Error).message;
    const noRoot = (detail: string): TrustError => new TrustError('E_TRUST_ROOT', `no trusted root in ${o.metadataDir} (${detail}); provision one with init`, { cause: err });
    if (!existsSync(root) || !existsSync(bak)) throw noRoot(reason);
    const bytes = readFileSync(bak);
    const torn = readFileSync(root);
    writeFileDurableSync(root, bytes);
    try {
      const updater = this.construct();
      o.events?.warn('update.trust_root_recovered', { code: 'E_TRUST_ROOT', file: root, reason, from: bak, bytesFound: torn.length });
      return updater;
    } catch (again) {
      if (again instanceof TufInternalsChanged) throw again;
      writeFileDurableSync(root, torn); // leave it as found for a look
      throw noRoot(`${reason}; ${bak} does not load either: ${(again as Error).message}`);
    }
  }

  /**
   * The whole TUF refresh: newer roots, then timestamp, snapshot, targets. Each refresh starts
   * from the metadata on disk (a tuf-js updater refreshes once).
   */
  async refresh(): Promise<void> {
    this.updater = this.make();
    try {
      await this.updater.refresh();
    } catch (err) {
      throw classify(err);
    }
  }

  /** The signed description of a target; refused when signed metadata does not list it. */
  async target(path: string): Promise<TargetFile> {
    let info: TargetFile | undefined;
    try {
      info = await this.updater.getTargetInfo(path);
    } catch (err) {
      throw classify(err);
    }
    if (info === undefined) throw new TrustError('E_TRUST_NOT_LISTED', `${path} is not listed in the signed targets metadata`);
    return info;
  }

  /**
   * tuf-js's downloadTarget (client workflow 5.7.3: the target's URL, with its hash prefixed
   * under consistent snapshots), but verified while it streams and renamed into place (see
   * ResumingFetcher.downloadVerified) instead of read back and copied synchronously.
   */
  private async downloadTarget(info: TargetFile, filePath: string | undefined): Promise<string> {
    const base = this.o.targetBaseUrl;
    if (base === undefined) throw new TrustError('E_TRUST_OTHER', 'no target base URL configured');
    const dest = filePath ?? (this.o.targetDir === undefined ? undefined : join(this.o.targetDir, encodeURIComponent(info.path)));
    if (dest === undefined) throw new TrustError('E_TRUST_OTHER', 'no target directory configured');
    // Exactly as tuf-js builds it (path.parse, then its url.join), so every target name maps to the same URL.
    let remote = info.path;
    if (this.updater.consistentSnapshot) {
      const { dir, base: name } = posix.parse(remote);
      const file = `${String(Object.values(info.hashes)[0])}.${name}`;
      remote = dir === '' ? file : `${dir}/${file}`;
    }
    const url = new URL((base.endsWith('/') ? base : `${base}/`) + (remote.startsWith('/') ? remote.slice(1) : remote)).toString();
    await this.fetcher.downloadVerified(url, info.length, info.hashes, dest);
    return dest;
  }

  /** Downloads and verifies a target (length and hashes), unless a verified copy is already there. */
  async download(info: TargetFile, filePath?: string): Promise<{ path: string; cached: boolean }> {
    try {
      if (this.o.targetDir !== undefined) await mkdir(this.o.targetDir, { recursive: true });
      const cached = await this.updater.findCachedTarget(info, filePath);
      if (cached !== undefined) return { path: cached, cached: true };
      return { path: await this.downloadTarget(info, filePath), cached: false };
    } catch (err) {
      throw classify(err);
    }
  }
}
