import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/**
 * Gateway MQTT passwords. The fleet makes them (32 random bytes, base64url: 256 bits), shows
 * them once at provisioning, and keeps only hashes.
 *
 * Why scrypt at N=2^12 and not higher: slow hashing protects passwords a person chose; ours
 * are 256-bit random, which no amount of guessing finds, so the hash only has to make a
 * stolen database useless for logging in. Cost matters for us the other way: after a fleet
 * restart every gateway reconnects at once, and on this 2-core box N=2^14 takes 36 ms a
 * verification (2,000 gateways: over a minute of CPU) against 9 ms at N=2^12. The
 * parameters are stored in each hash, so they can be raised without breaking old ones.
 */
export const SCRYPT = { N: 4096, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;

/** A new gateway password: 43 characters of base64url. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** `scrypt$N$r$p$salt$hash` (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLength);
  const hash = await scryptAsync(password, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Checks a password against a stored `scrypt$...` hash, in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || N > 1 << 20 || r > 32 || p > 16) return false;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const expected = Buffer.from(parts[5] as string, 'base64');
  if (expected.length < 16) return false;
  const actual = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(actual, expected);
}

/**
 * Mosquitto's own password-file hash (`mosquitto_passwd`, Mosquitto 2.0): `$7$` is
 * PBKDF2-HMAC-SHA512 with 101 iterations, a 12-byte salt and a 64-byte key, both base64.
 * Made at provisioning beside the scrypt hash, because `fleet acl --format mosquitto` must
 * write a file Mosquitto can check, and no hash can be turned into another.
 */
export async function mosquittoPasswordHash(password: string, salt = randomBytes(12), iterations = 101): Promise<string> {
  const key = await pbkdf2Async(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** SHA-256 hex of a secret: for operator tokens (random, 256-bit) and the in-memory cache of verified passwords. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
