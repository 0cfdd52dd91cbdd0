import { sign } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Key, type Metadata, type Root, Signature, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { keyId, type TufPublicKey } from './keys.js';
import type { SigningKey } from './repo-error.js';

/** What the repository's files hold, before @tufjs/models has checked it. */
export type Json = Record<string, unknown>;

export const DEFAULT_EXPIRY_DAYS = { root: 365, targets: 90, snapshot: 30, timestamp: 7 } as const;

/** TUF's expiry format: seconds, UTC, no fraction. */
export function expires(days: number, now = Date.now()): string {
  return new Date(now + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function tufKey(k: TufPublicKey): Key {
  return new Key({ keyID: keyId(k), keyType: k.keytype, scheme: k.scheme, keyVal: { public: k.keyval.public } });
}

export function signer(k: SigningKey): (bytes: Buffer) => Signature {
  // @tufjs/models hands over the canonical JSON bytes of the signed part.
  return (bytes) => new Signature({ keyID: k.keyid, sig: sign(null, bytes, k.key).toString('hex') });
}

export async function readJson(path: string): Promise<Json> {
  return JSON.parse(await readFile(path, 'utf8')) as Json;
}

/** Written to a temp name and renamed: a gateway never fetches half a file. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

export function bytesOf(md: Metadata<Root | Targets | Snapshot | Timestamp>): string {
  return `${JSON.stringify(md.toJSON(), null, 1)}\n`;
}

/**
 * The highest version N of `metadata/N.<role>.json` in a directory (0: none). The role name is
 * matched literally: a delegated role's name may hold dots (`federated-line.2`).
 */
export async function newestVersion(metadataDir: string, role: string): Promise<number> {
  let names: string[] = [];
  try {
    names = await readdir(metadataDir);
  } catch {
    return 0;
  }
  const suffix = `.${role}.json`;
  let newest = 0;
  for (const n of names) {
    if (!n.endsWith(suffix)) continue;
    const v = n.slice(0, -suffix.length);
    if (/^[1-9]\d{0,15}$/.test(v)) newest = Math.max(newest, Number.parseInt(v, 10));
  }
  return newest;
}
