import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isLearningTaskId, LEARNING_TASK_PATTERN } from '../protocol/topics.js';
import { DELEGATED_ROLE_PATTERN, KeyError, isDelegatedRoleName, loadPrivateKey, publicKeyFile, writePrivate, type TufPublicKey } from './keys.js';

/** The delegated role that signs a federated task's global models: `federated-<task>`. */
export function federatedRole(task: string): string {
  if (!isLearningTaskId(task)) throw new KeyError('E_KEY_INVALID', `federated task ${JSON.stringify(task)}: not a task id (${LEARNING_TASK_PATTERN})`);
  return `federated-${task}`;
}

/** An online key of a delegated role, as the fleet keeps it: usable for signing, and its public half for `repo delegate`. */
export interface DelegatedKey {
  readonly role: string;
  readonly keyid: string;
  readonly key: KeyObject;
  readonly publicKey: TufPublicKey;
  /** `<dir>/<role>.key`: PKCS#8 PEM, 0600. */
  readonly privatePath: string;
  /** `<dir>/<role>.pub.json`: what `edgewise repo delegate --key` reads. */
  readonly publicPath: string;
}

/**
 * The online key of a delegated role in `dir` (the fleet's `DATA/federated/<task>/`): made
 * once, then the same key every time. The private key is written 0600 under a temporary name
 * and linked into place, so a second caller racing the first either wins or loads the winner's
 * whole file, never half of one, and an existing key is never replaced. A key file others can
 * read is refused (KeyError E_KEY_PERMISSIONS), not used.
 */
export async function ensureDelegatedKey(dir: string, role: string): Promise<DelegatedKey> {
  if (!isDelegatedRoleName(role)) throw new KeyError('E_KEY_INVALID', `delegated role ${JSON.stringify(role)}: expected a name matching ${DELEGATED_ROLE_PATTERN}, not a top-level role's`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, `${role}.key`);
  const publicPath = join(dir, `${role}.pub.json`);
  const unique = `${process.pid}.${randomBytes(4).toString('hex')}`;
  if (!(await exists(privatePath))) {
    const tmp = join(dir, `.${role}.key.${unique}`);
    try {
      await writePrivate(tmp, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
      await link(tmp, privatePath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
  const loaded = await loadPrivateKey(privatePath);
  // Derived from the private key each time, so the two files cannot disagree.
  const pub = publicKeyFile(role, loaded.publicKey);
  if ((await readFile(publicPath, 'utf8').catch(() => '')) !== pub) {
    const tmp = join(dir, `.${role}.pub.json.${unique}`);
    await writeFile(tmp, pub, { mode: 0o644 });
    await rename(tmp, publicPath);
  }
  return { role, keyid: loaded.keyid, key: loaded.key, publicKey: loaded.publicKey, privatePath, publicPath };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
