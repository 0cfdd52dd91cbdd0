import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RepoError } from './repo-error.js';
import { writeAtomic, type Json } from './metadata-files.js';

/** A file to publish as a TUF target at `path`, with its `custom` fields (a model release's `edgewise`). */
export interface TargetInput {
  readonly path: string;
  readonly file: string;
  readonly custom?: Json;
}

/** A target read and hashed, not yet stored: its metadata entry and the very bytes that were hashed. */
export interface PreparedTarget {
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  /** The entry in a targets role's `targets`. */
  readonly entry: Json;
}

export function checkTargetPath(path: string): void {
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(path) || path.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new RepoError('E_REPO_INPUT', `target path ${JSON.stringify(path)}: letters, digits, ".", "_", "-" and "/" between names only`);
}

/** Reads and hashes the files (paths checked first); nothing is written. */
export async function prepareTargets(files: readonly TargetInput[]): Promise<PreparedTarget[]> {
  for (const f of files) checkTargetPath(f.path);
  const out: PreparedTarget[] = [];
  for (const f of files) {
    const bytes = await readFile(f.file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    out.push({ path: f.path, bytes, sha256, entry: { length: bytes.length, hashes: { sha256 }, ...(f.custom === undefined ? {} : { custom: f.custom }) } });
  }
  return out;
}

/**
 * Stores each target as `targets/<dir>/<sha256>.<name>` (consistent snapshots: a file is
 * never overwritten while a gateway may be fetching it). The bytes written are the ones
 * hashed, so a source file changed meanwhile cannot slip in unhashed.
 */
export async function storeTargets(repoDir: string, prepared: readonly PreparedTarget[]): Promise<void> {
  for (const t of prepared) await writeAtomic(join(repoDir, 'targets', dirname(t.path), `${t.sha256}.${basename(t.path)}`), t.bytes);
}
