import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { createPublicKey, verify } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyError, ensureOwnerOnly, generateKey, loadPrivateKey, loadPublicKey, signCanonical } from '../../../fleet/repo/keys.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('signing keys', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('writes the private key 0600, never over an existing file, and signs what TUF verifies', async () => {
    const k = await generateKey('targets', dir.path);
    expect((await stat(k.privatePath)).mode & 0o777).toBe(0o600);
    const priv = await loadPrivateKey(k.privatePath);
    const pub = await loadPublicKey(k.publicPath);
    expect(priv.keyid).toBe(k.keyid);
    expect(pub.keyid).toBe(k.keyid);
    const signed = { _type: 'targets', version: 1, targets: {} };
    const sig = signCanonical(signed, priv.key);
    const spki = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub.publicKey.keyval.public, 'hex').toString('base64url') }, format: 'jwk' });
    expect(verify(null, Buffer.from(canonicalize(signed)), spki, Buffer.from(sig, 'hex'))).toBe(true);
  });

  it('refuses a private key others can read, when writing and when loading', async () => {
    const path = `${dir.path}/leaky.key`;
    await writeFile(path, 'x', { mode: 0o644 });
    await chmod(path, 0o644);
    await expect(ensureOwnerOnly(path)).rejects.toThrow(/readable by others \(mode 644.*refused and deleted/);
    expect(await readdir(dir.path)).toEqual([]);

    const k = await generateKey('root', dir.path);
    await chmod(k.privatePath, 0o640);
    await expect(loadPrivateKey(k.privatePath)).rejects.toBeInstanceOf(KeyError);
    await expect(loadPrivateKey(k.privatePath)).rejects.toThrow(/chmod 600/);
  });
});
