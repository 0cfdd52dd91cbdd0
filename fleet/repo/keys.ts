import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';

export const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type Role = (typeof ROLES)[number];

/**
 * A delegated targets role's name (`federated-<task>`, say): it names the role's metadata file
 * (`N.<role>.json`) and key files, so letters, digits, ".", "_", "-" only, and never one of the
 * top-level roles' names in any case (on a case-insensitive disk `Targets` would be `targets`).
 */
export const DELEGATED_ROLE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';
const delegatedRoleRe = new RegExp(DELEGATED_ROLE_PATTERN);

export function isDelegatedRoleName(name: string): boolean {
  return delegatedRoleRe.test(name) && !(ROLES as readonly string[]).includes(name.toLowerCase());
}

/** A top-level role, or a delegated role's name: whom a key file is for. */
export function isKeyRole(name: string): boolean {
  return (ROLES as readonly string[]).includes(name) || isDelegatedRoleName(name);
}

/** A public key as TUF metadata lists it. */
export interface TufPublicKey {
  readonly keytype: 'ed25519';
  readonly scheme: 'ed25519';
  readonly keyval: { readonly public: string };
}

export interface KeyFiles {
  readonly keyid: string;
  readonly privatePath: string;
  readonly publicPath: string;
}

export class KeyError extends Error {
  override readonly name = 'KeyError';
  constructor(
    readonly code: 'E_KEY_PERMISSIONS' | 'E_KEY_EXISTS' | 'E_KEY_INVALID',
    message: string,
  ) {
    super(message);
  }
}

/** TUF's key id: the sha256 of the key's canonical JSON. */
export function keyId(key: TufPublicKey): string {
  return createHash('sha256').update(canonicalize(key)).digest('hex');
}

export function tufPublicKey(publicKey: KeyObject): TufPublicKey {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new KeyError('E_KEY_INVALID', 'only Ed25519 keys are supported');
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: Buffer.from(jwk.x, 'base64url').toString('hex') } };
}

/** Signs the canonical JSON of `signed` (TUF's signature input); hex signature. */
export function signCanonical(signed: unknown, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalize(signed)), privateKey).toString('hex');
}

/**
 * Writes a file that only its owner may read: created with mode 0600 (and never over an
 * existing file), then checked, because some filesystems ignore modes; a private key that
 * others could read is deleted again and refused.
 */
export async function writePrivate(path: string, content: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyError('E_KEY_EXISTS', `${path} exists; not overwriting a key`);
    throw err;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await ensureOwnerOnly(path);
}

/** Deletes a just-written private key file that others could read, and refuses. */
export async function ensureOwnerOnly(path: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    await rm(path, { force: true });
    throw new KeyError('E_KEY_PERMISSIONS', `${path} would be readable by others (mode ${mode.toString(8)}; this filesystem ignores permissions?): refused and deleted`);
  }
}

/**
 * A new Ed25519 key for `role` (a top-level role or a delegated role's name):
 * `<role>-<keyid[0:8]>.key` (PKCS#8 PEM, 0600) and `.pub.json`.
 */
export async function generateKey(role: string, outDir: string): Promise<KeyFiles> {
  if (!isKeyRole(role)) throw new KeyError('E_KEY_INVALID', `role ${JSON.stringify(role)}: one of ${ROLES.join(', ')}, or a delegated role's name (${DELEGATED_ROLE_PATTERN}, not a top-level role's)`);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = tufPublicKey(publicKey);
  const id = keyId(pub);
  const base = join(outDir, `${role}-${id.slice(0, 8)}`);
  const privatePath = `${base}.key`;
  const publicPath = `${base}.pub.json`;
  await writePrivate(privatePath, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  const h = await open(publicPath, 'wx', 0o644);
  try {
    await h.writeFile(publicKeyFile(role, pub));
  } finally {
    await h.close();
  }
  return { keyid: id, privatePath, publicPath };
}

/** The `.pub.json` format: the key as TUF lists it, with its id and the role it is for. */
export function publicKeyFile(role: string, pub: TufPublicKey): string {
  return `${JSON.stringify({ keyid: keyId(pub), role, ...pub }, null, 2)}\n`;
}

/** Loads a private key file, refusing one that others can read. */
export async function loadPrivateKey(path: string): Promise<{ keyid: string; key: KeyObject; publicKey: TufPublicKey }> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new KeyError('E_KEY_PERMISSIONS', `${path} is readable by others (mode ${mode.toString(8)}): chmod 600 it first`);
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(path, 'utf8'));
  } catch (err) {
    throw new KeyError('E_KEY_INVALID', `${path}: not a PEM private key (${(err as Error).message})`);
  }
  const publicKey = tufPublicKey(createPublicKey(key));
  return { keyid: keyId(publicKey), key, publicKey };
}

/** Loads a `.pub.json` written by generateKey. */
export async function loadPublicKey(path: string): Promise<{ keyid: string; publicKey: TufPublicKey }> {
  const v = JSON.parse(await readFile(path, 'utf8')) as Partial<TufPublicKey>;
  if (v.keytype !== 'ed25519' || v.scheme !== 'ed25519' || typeof v.keyval?.public !== 'string' || !/^[0-9a-f]{64}$/.test(v.keyval.public)) throw new KeyError('E_KEY_INVALID', `${path}: not an Ed25519 TUF public key`);
  const publicKey: TufPublicKey = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: v.keyval.public } };
  return { keyid: keyId(publicKey), publicKey };
}
