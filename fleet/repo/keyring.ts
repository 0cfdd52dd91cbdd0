import { generateKey, loadPrivateKey, loadPublicKey, type Role, type TufPublicKey } from './keys.js';
import type { SigningKey } from './repo-error.js';

/** Every role's public keys (for `Repository.init`) and private keys (for signing). */
export interface Keyring {
  readonly pub: Record<Role, TufPublicKey[]>;
  readonly priv: Record<Role, SigningKey[]>;
}

/**
 * New Ed25519 keys, `counts[role]` of each top-level role, written as key files
 * (`<role>-<keyid[0:8]>.key`, 0600, and `.pub.json`) to `dirOf(role)`: one directory for all,
 * or (a simulator, a test) the online roles' keys apart from the offline ones, as
 * `edgewise fleet --repo-online-keys` wants them.
 */
export async function generateKeyring(dirOf: string | ((role: Role) => string), counts: Readonly<Record<Role, number>>): Promise<Keyring> {
  const pub = { root: [], targets: [], snapshot: [], timestamp: [] } as Record<Role, TufPublicKey[]>;
  const priv = { root: [], targets: [], snapshot: [], timestamp: [] } as Record<Role, SigningKey[]>;
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    for (let i = 0; i < counts[role]; i += 1) {
      const f = await generateKey(role, typeof dirOf === 'string' ? dirOf : dirOf(role));
      pub[role].push((await loadPublicKey(f.publicPath)).publicKey);
      const k = await loadPrivateKey(f.privatePath);
      priv[role].push({ keyid: k.keyid, key: k.key });
    }
  }
  return { pub, priv };
}
