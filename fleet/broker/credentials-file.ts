import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { verifyPassword } from '../registry/credentials.js';

const pbkdf2Async = promisify(pbkdf2);

/**
 * The users of a standalone broker (`edgewise broker --credentials FILE`), one `user:secret`
 * line each, where the secret is
 * - a Mosquitto 2.0 hash (`$7$iterations$salt$key`, PBKDF2-HMAC-SHA512), as written by
 *   `mosquitto_passwd` and by `edgewise fleet acl` (its `passwd` file can be used as it is);
 * - a fleet scrypt hash (`scrypt$N$r$p$salt$hash`, `hashPassword` in fleet/registry);
 * - anything else not starting with `$`: the password itself, in clear (local trials only).
 * Blank lines and lines starting with `#` are skipped; the user name ends at the first `:`.
 */
export class CredentialsFileError extends Error {
  override readonly name = 'CredentialsFileError';
  readonly code = 'E_CREDENTIALS_FILE';
}

type Secret = { readonly kind: 'mosquitto'; readonly iterations: number; readonly salt: Buffer; readonly key: Buffer } | { readonly kind: 'scrypt'; readonly hash: string } | { readonly kind: 'plain'; readonly sha: Buffer };

export interface CredentialsTable {
  /** Whether `password` is right for `username`; false for an unknown user. Constant time per secret. */
  verify(username: string, password: string): Promise<boolean>;
  readonly users: readonly string[];
}

const MOSQUITTO_7 = /^\$7\$([1-9][0-9]{0,6})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function parseSecret(secret: string, where: string): Secret {
  if (secret === '') throw new CredentialsFileError(`${where}: empty password`);
  if (secret.startsWith('scrypt$')) return { kind: 'scrypt', hash: secret };
  if (secret.startsWith('$')) {
    const m = MOSQUITTO_7.exec(secret);
    if (m === null) {
      throw new CredentialsFileError(`${where}: unsupported password hash ${JSON.stringify(secret.slice(0, 3))}: use a Mosquitto 2.0 "$7$" hash (mosquitto_passwd), a fleet "scrypt$" hash, or the password in clear`);
    }
    const iterations = Number(m[1]);
    const key = Buffer.from(m[3] as string, 'base64');
    if (iterations > 1_000_000 || key.length < 16 || key.length > 64) throw new CredentialsFileError(`${where}: a "$7$" hash with ${iterations} iterations and a ${key.length}-byte key is not one mosquitto_passwd makes`);
    return { kind: 'mosquitto', iterations, salt: Buffer.from(m[2] as string, 'base64'), key };
  }
  return { kind: 'plain', sha: sha256(secret) };
}

/** Parses the text of a credentials file; `name` is used in error messages. */
export function parseCredentials(text: string, name: string): CredentialsTable {
  const secrets = new Map<string, Secret>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${name}:${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new CredentialsFileError(`${where}: expected user:password`);
    const user = line.slice(0, colon);
    if (secrets.has(user)) throw new CredentialsFileError(`${where}: user ${JSON.stringify(user)} is listed twice`);
    secrets.set(user, parseSecret(line.slice(colon + 1), where));
  });
  if (secrets.size === 0) throw new CredentialsFileError(`${name}: no users (expected user:password lines)`);
  return {
    users: [...secrets.keys()],
    async verify(username: string, password: string): Promise<boolean> {
      const s = secrets.get(username);
      if (s === undefined) return false;
      switch (s.kind) {
        case 'plain':
          return timingSafeEqual(sha256(password), s.sha);
        case 'scrypt':
          return verifyPassword(password, s.hash);
        case 'mosquitto': {
          const key = await pbkdf2Async(password, s.salt, s.iterations, s.key.length, 'sha512');
          return timingSafeEqual(key, s.key);
        }
      }
    },
  };
}

export async function readCredentialsFile(path: string): Promise<CredentialsTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CredentialsFileError(`cannot read credentials file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseCredentials(text, path);
}
