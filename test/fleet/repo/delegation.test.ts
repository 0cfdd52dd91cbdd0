import { chmod, readFile, readdir, stat } from 'node:fs/promises';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDelegatedKey, federatedRole, type DelegatedKey } from '../../../fleet/repo/delegated-key.js';
import { checkCovered, modelPathPattern, targetsOf, withDelegation } from '../../../fleet/repo/delegation.js';
import { KeyError, generateKey, loadPublicKey } from '../../../fleet/repo/keys.js';
import { Repository, RepoError } from '../../../fleet/repo/repository.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { keyring, type Keyring } from '../../support/tuf-rig.js';
import { releaseInput } from './release-input.js';

const ROLE = 'federated-line-3';

async function refused(p: Promise<unknown>): Promise<RepoError | KeyError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'refused').toBeDefined();
  expect(err instanceof RepoError || err instanceof KeyError, String(err)).toBe(true);
  return err as RepoError | KeyError;
}

/** Every file under a directory, with its size: "nothing was written" compares two of these. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(`${e.parentPath}/${e.name}:${(await stat(`${e.parentPath}/${e.name}`)).size}`);
  return out.sort();
}

interface StagedTargets {
  signed: { version: number; delegations?: { keys: Record<string, unknown>; roles: { name: string; keyids: string[]; threshold: number; terminating: boolean; paths: string[] }[] } };
  signatures: unknown[];
}

describe('delegated targets roles in the fleet repository', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let keys: Keyring;
  let repo: Repository;
  let fed: DelegatedKey;
  const online = (): { snapshot: Keyring['priv']['snapshot']; timestamp: Keyring['priv']['timestamp'] } => ({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });
  const staged = async (): Promise<StagedTargets> => JSON.parse(await readFile(`${dir.path}/repo/staged/targets.json`, 'utf8')) as StagedTargets;

  beforeEach(async () => {
    dir = await makeTempDir();
    keys = await keyring(`${dir.path}/keys`, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    repo = new Repository(`${dir.path}/repo`);
    await repo.init(keys.pub);
    await repo.sign('root', keys.priv.root);
    fed = await ensureDelegatedKey(`${dir.path}/fleet/federated/line-3`, ROLE);
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('adds a terminating delegation of one model\'s releases, and replaces it (keys, threshold, paths) in place, unsigned again', async () => {
    const other = await ensureDelegatedKey(`${dir.path}/fleet/federated/other`, 'federated-other');
    await repo.delegate({ role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await repo.delegate({ role: 'federated-other', keys: [other.publicKey], paths: ['models/pump/*/*'] });
    await repo.sign('targets', keys.priv.targets);
    expect((await staged()).signatures).toHaveLength(1);
    const replacement = await ensureDelegatedKey(`${dir.path}/fleet/federated/line-3-new`, ROLE);
    await repo.delegate({ role: ROLE, keys: [replacement.publicKey], paths: ['models/motor/*/*', 'models/motor-2/*/*'] });
    const s = await staged();
    expect(s.signatures).toEqual([]); // the content changed: the targets keys sign again
    expect(s.signed.delegations?.roles).toEqual([
      { name: ROLE, keyids: [replacement.keyid], threshold: 1, terminating: true, paths: ['models/motor/*/*', 'models/motor-2/*/*'] },
      { name: 'federated-other', keyids: [other.keyid], threshold: 1, terminating: true, paths: ['models/pump/*/*'] },
    ]);
    // The replaced key is gone from the delegation's key list: it can sign nothing any more.
    expect(Object.keys(s.signed.delegations?.keys ?? {}).sort()).toEqual([replacement.keyid, other.keyid].sort());
  });

  it('refuses delegations that are not one model\'s releases, top-level role names and impossible thresholds', async () => {
    const cases: [Parameters<Repository['delegate']>[0], RegExp][] = [
      [{ role: ROLE, keys: [fed.publicKey], paths: ['models/motor/*'] }, /covers no release file .*use "models\/motor\/\*\/\*"/],
      [{ role: ROLE, keys: [fed.publicKey], paths: ['models/*/*/*'] }, /expected models\/<model>\/\*\/\*/],
      [{ role: ROLE, keys: [fed.publicKey], paths: ['*'] }, /expected models\/<model>\/\*\/\*/],
      [{ role: ROLE, keys: [fed.publicKey], paths: [] }, /no path pattern/],
      [{ role: 'targets', keys: [fed.publicKey], paths: ['models/motor/*/*'] }, /not a top-level role's/],
      [{ role: 'Snapshot', keys: [fed.publicKey], paths: ['models/motor/*/*'] }, /not a top-level role's/],
      [{ role: 'a/b', keys: [fed.publicKey], paths: ['models/motor/*/*'] }, /role "a\/b"/],
      [{ role: ROLE, keys: [fed.publicKey], threshold: 2, paths: ['models/motor/*/*'] }, /1 distinct keys with threshold 2/],
      [{ role: ROLE, keys: [], paths: ['models/motor/*/*'] }, /0 distinct keys/],
    ];
    for (const [d, says] of cases) {
      const err = await refused(repo.delegate(d));
      expect(err.code).toBe('E_REPO_INPUT');
      expect(err.message).toMatch(says);
    }
    expect((await staged()).signed.delegations).toBeUndefined();
  });

  it('signs a release with the delegated role (N.<role>.json, version bumped, earlier targets kept) and publish lists the role in the snapshot', async () => {
    await repo.delegate({ role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await repo.sign('targets', keys.priv.targets);
    // Before the role has metadata, publish leaves it out of the snapshot.
    expect((await repo.publish(online())).delegated).toEqual({});
    const path = await repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', 1, new Uint8Array(100).fill(1)), [fed]);
    expect(path).toBe('models/motor/1/model.onnx');
    await repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', 2, new Uint8Array(100).fill(2)), [fed]);
    const role = JSON.parse(await readFile(`${dir.path}/repo/metadata/2.${ROLE}.json`, 'utf8')) as { signed: { version: number; targets: Record<string, unknown> }; signatures: { keyid: string }[] };
    expect(role.signed.version).toBe(2);
    expect(Object.keys(role.signed.targets).sort()).toEqual(['models/motor/1/golden-input.bin', 'models/motor/1/golden-output.bin', 'models/motor/1/model.onnx', 'models/motor/2/golden-input.bin', 'models/motor/2/golden-output.bin', 'models/motor/2/model.onnx']);
    expect(role.signatures.map((s) => s.keyid)).toEqual([fed.keyid]);
    // The online snapshot and timestamp keys publish it; no offline key is needed.
    const v = await repo.publish(online());
    expect(v.delegated).toEqual({ [ROLE]: 2 });
    const snapshot = JSON.parse(await readFile(`${dir.path}/repo/metadata/${v.snapshot}.snapshot.json`, 'utf8')) as { signed: { meta: Record<string, { version: number }> } };
    expect(snapshot.signed.meta[`${ROLE}.json`]?.version).toBe(2);
  });

  it('refuses, before writing anything, a path the delegation does not give the role, a role not delegated, a path top-level targets lists, and a key that is not the role\'s', async () => {
    await repo.addModel(await releaseInput(dir.path, 'press', 1, new Uint8Array(50)));
    await repo.delegate({ role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await repo.sign('targets', keys.priv.targets);
    await repo.publish(online());
    await repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', 1, new Uint8Array(100).fill(1)), [fed]);
    const before = await tree(`${dir.path}/repo`);

    const other = await refused(repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'press', 2, new Uint8Array(60)), [fed]));
    expect(other.code).toBe('E_REPO_NOT_DELEGATED');
    expect(other.message).toBe(`${ROLE} may not sign models/press/2/model.onnx: its delegation in targets v1 allows only models/motor/*/*`);
    const prefix = await refused(repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor-2', 1, new Uint8Array(60)), [fed]));
    expect(prefix.message).toMatch(/may not sign models\/motor-2\/1\/model\.onnx: .*allows only models\/motor\/\*\/\*/);
    const shallow = await refused(repo.addDelegatedTargets(ROLE, [{ path: 'models/motor/notes.txt', file: `${dir.path}/in/press-2.onnx` }], [fed]));
    expect(shallow.message).toMatch(/may not sign models\/motor\/notes\.txt/);
    const topLevel = await refused(repo.addDelegatedTargets(ROLE, [{ path: 'models/press/1/model.onnx', file: `${dir.path}/in/press-2.onnx` }], [fed]));
    expect(topLevel.message).toMatch(/top-level targets role \(v1\) lists that path itself/);
    const stranger = await refused(repo.addDelegatedModel('federated-nobody', await releaseInput(dir.path, 'motor', 2, new Uint8Array(60)), [fed]));
    expect(stranger.code).toBe('E_REPO_NOT_DELEGATED');
    expect(stranger.message).toMatch(/federated-nobody is not a delegated role in targets v1/);
    const wrongKey = await refused(repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', 2, new Uint8Array(60)), keys.priv.targets));
    expect(wrongKey.code).toBe('E_REPO_THRESHOLD');
    expect(wrongKey.message).toMatch(new RegExp(`^${ROLE} v2: .*sign with the role's key`));

    expect(await tree(`${dir.path}/repo`)).toEqual(before);
  });

  it('publishes nothing signed by a replaced key: the role must be re-signed with its new key first', async () => {
    await repo.delegate({ role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await repo.sign('targets', keys.priv.targets);
    await repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', 1, new Uint8Array(100).fill(1)), [fed]);
    await repo.publish(online());
    const fresh = await ensureDelegatedKey(`${dir.path}/fleet/federated/line-3-rotated`, ROLE);
    await repo.delegate({ role: ROLE, keys: [fresh.publicKey], paths: [modelPathPattern('motor')] });
    await repo.sign('targets', keys.priv.targets);
    const err = await refused(repo.publish(online()));
    expect(err.code).toBe('E_REPO_THRESHOLD');
    expect(err.message).toMatch(new RegExp(`^${ROLE} v1: .*not signed by its delegation's keys in targets v2: re-sign`));
    expect(await repo.publishedVersion('targets')).toBe(1); // the new targets were not published either
    // The old key can no longer sign for the staged delegation; the new one re-signs (no files: a new version, same targets).
    expect((await refused(repo.addDelegatedTargets(ROLE, [], [fed]))).code).toBe('E_REPO_THRESHOLD');
    expect(await repo.addDelegatedTargets(ROLE, [], [fresh])).toEqual({ role: ROLE, version: 2 });
    expect((await repo.publish(online())).delegated).toEqual({ [ROLE]: 2 });
  });

  it('keeps the newest releases in the role\'s metadata (bounded however many rounds run), by release number', async () => {
    await repo.delegate({ role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await repo.sign('targets', keys.priv.targets);
    for (const n of [1, 10, 2, 3]) await repo.addDelegatedModel(ROLE, await releaseInput(dir.path, 'motor', n, new Uint8Array(10).fill(n)), [fed], { keepReleases: 2 });
    const role = JSON.parse(await readFile(`${dir.path}/repo/metadata/4.${ROLE}.json`, 'utf8')) as { signed: { targets: Record<string, unknown> } };
    expect([...new Set(Object.keys(role.signed.targets).map((p) => p.split('/')[2]))].sort()).toEqual(['10', '3']);
    expect(Object.keys(role.signed.targets)).toHaveLength(6);
    await expect(repo.addDelegatedTargets(ROLE, [], [fed], { keepReleases: 0 })).rejects.toThrow(/keepReleases 0: expected a whole number >= 1/);
  });

  it('decides coverage as TUF does: models/<m>/*/* covers exactly the files of m\'s releases (property)', () => {
    const targets = targetsOf(withDelegation({ _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2030-01-01T00:00:00Z', targets: {} }, { role: ROLE, keys: [fed.publicKey], paths: [modelPathPattern('motor')] }), 'test');
    const segment = fc.oneof(fc.constantFrom('models', 'motor', 'motor-2', 'moto', 'press', '1', 'model.onnx', '.hidden'), fc.stringMatching(/^[a-z0-9._-]{1,8}$/));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (parts) => {
        const path = parts.join('/');
        let covered = true;
        try {
          checkCovered(targets, 1, ROLE, path);
        } catch (err) {
          expect((err as RepoError).code).toBe('E_REPO_NOT_DELEGATED');
          covered = false;
        }
        // minimatch's "*" does not match a name that starts with "." (python-tuf's fnmatch would); release files never do.
        const expected = parts.length === 4 && parts[0] === 'models' && parts[1] === 'motor' && !parts[2]?.startsWith('.') && !parts[3]?.startsWith('.');
        expect(covered, path).toBe(expected);
      }),
      { numRuns: 500, seed: 14 },
    );
  });
});

describe('online keys of delegated roles', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('makes the key once (0600, public half beside it), returns the same key every time, also to callers racing each other', async () => {
    const keyDir = `${dir.path}/federated/line-3`;
    const all = await Promise.all([1, 2, 3, 4].map(async () => ensureDelegatedKey(keyDir, federatedRole('line-3'))));
    const first = all[0] as DelegatedKey;
    expect(new Set(all.map((k) => k.keyid)).size).toBe(1);
    expect(first.role).toBe('federated-line-3');
    expect((await stat(first.privatePath)).mode & 0o777).toBe(0o600);
    expect((await readdir(keyDir)).sort()).toEqual(['federated-line-3.key', 'federated-line-3.pub.json']);
    expect((await loadPublicKey(first.publicPath)).keyid).toBe(first.keyid);
    expect(JSON.parse(await readFile(first.publicPath, 'utf8'))).toMatchObject({ keyid: first.keyid, role: 'federated-line-3' });
    expect((await ensureDelegatedKey(keyDir, 'federated-line-3')).keyid).toBe(first.keyid);
  });

  it('refuses a key file others can read, a role name that is not one, and a task id that is not one', async () => {
    const k = await ensureDelegatedKey(dir.path, 'federated-a');
    await chmod(k.privatePath, 0o644);
    const leaky = await refused(ensureDelegatedKey(dir.path, 'federated-a'));
    expect(leaky.code).toBe('E_KEY_PERMISSIONS');
    expect((await refused(ensureDelegatedKey(dir.path, 'timestamp'))).code).toBe('E_KEY_INVALID');
    expect((await refused(ensureDelegatedKey(dir.path, '../x'))).code).toBe('E_KEY_INVALID');
    expect(() => federatedRole('line 3')).toThrow(/federated task "line 3": not a task id/);
  });

  it('generates keys for delegated roles in the keys format, not for names that are no role', async () => {
    const k = await generateKey('federated-press', dir.path);
    expect(JSON.parse(await readFile(k.publicPath, 'utf8'))).toMatchObject({ keyid: k.keyid, role: 'federated-press' });
    await expect(generateKey('Targets', dir.path)).rejects.toThrow(/role "Targets": one of root, targets, snapshot, timestamp, or a delegated role's name/);
  });
});
