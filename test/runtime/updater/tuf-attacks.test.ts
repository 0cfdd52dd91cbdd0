import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyId, tufPublicKey } from '../../../fleet/repo/keys.js';
import type { SigningKey } from '../../../fleet/repo/repository.js';
import type { TrustErrorCode } from '../../../runtime/updater/trust.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig, keyring } from '../../support/tuf-rig.js';

const MODEL = 'models/press/1/model.onnx';
const PAST = '2020-01-01T00:00:00Z';

function foreignKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyid: keyId(tufPublicKey(publicKey)), key: privateKey };
}

describe('TUF attacks on the gateway trust client (each refused with the reason named)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let rig: TufRig;

  async function refused(code: TrustErrorCode, says?: RegExp, name = 'gw'): Promise<void> {
    const c = rig.client(name);
    const err = await (async () => {
      await c.refresh();
      await c.download(await c.target(MODEL));
    })().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err, 'the update is refused').toBeDefined();
    expect(err?.code, err?.message).toBe(code);
    if (says !== undefined) expect(err?.message).toMatch(says);
  }

  /** Re-signs snapshot and timestamp (valid online keys) over the current files, as a repository that was itself fed bad targets would. */
  async function rechain(targetsVersion: number, snapshotVersion: number): Promise<void> {
    const t = await readFile(`${dir.path}/repo/repo/metadata/${targetsVersion}.targets.json`);
    await rig.forge(`${snapshotVersion}.snapshot.json`, 'snapshot', (s) => {
      s['meta'] = { 'targets.json': { version: targetsVersion, length: t.length, hashes: { sha256: createHash('sha256').update(t).digest('hex') } } };
    }, rig.keys.priv.snapshot);
    const sn = await readFile(`${dir.path}/repo/repo/metadata/${snapshotVersion}.snapshot.json`);
    await rig.forge('timestamp.json', 'timestamp', (s) => {
      s['version'] = (s['version'] as number) + 1;
      s['meta'] = { 'snapshot.json': { version: snapshotVersion, length: sn.length, hashes: { sha256: createHash('sha256').update(sn).digest('hex') } } };
    }, rig.keys.priv.timestamp);
  }

  beforeEach(async () => {
    dir = await makeTempDir();
    rig = new TufRig(`${dir.path}/repo`);
    await rig.start({ root: 1, targets: 2, snapshot: 1, timestamp: 1 }, { targets: 2 });
    await rig.publishFile(MODEL, new Uint8Array(2000).fill(3));
    await rig.pin();
  });

  afterEach(async () => {
    await rig.stop();
    await dir.remove();
  });

  it('accepts the untampered repository (the baseline every attack below changes)', async () => {
    const c = rig.client();
    await c.refresh();
    expect((await c.download(await c.target(MODEL))).cached).toBe(false);
  });

  it('signatures: by an unknown key', async () => {
    await rig.forge('timestamp.json', 'timestamp', (s) => void (s['version'] = 5), [foreignKey()]);
    await refused('E_TRUST_SIGNATURE', /timestamp was signed by 0\/1/);
  });

  it('signatures: one short of the targets threshold', async () => {
    await rig.forge('1.targets.json', 'targets', () => undefined, rig.keys.priv.targets.slice(0, 1));
    await rechain(1, 1);
    await refused('E_TRUST_SIGNATURE', /signed by 1\/2/);
  });

  it('signatures: valid signatures over different bytes', async () => {
    const original = await rig.read('1.targets.json');
    const changed = { ...original, signed: { ...original.signed, targets: { ...(original.signed['targets'] as object), 'models/evil/1/model.onnx': { length: 1, hashes: { sha256: '0'.repeat(64) } } } } };
    await rig.write('1.targets.json', changed);
    await rechain(1, 1);
    await refused('E_TRUST_SIGNATURE');
  });

  it('signatures: two signatures by one key count once', async () => {
    await rig.forge('1.targets.json', 'targets', () => undefined, rig.keys.priv.targets.slice(0, 1));
    const one = await rig.read('1.targets.json');
    await rig.write('1.targets.json', { ...one, signatures: [one.signatures[0], one.signatures[0]] });
    await rechain(1, 1);
    const c = rig.client();
    const err = await c.refresh().then(() => undefined, (e: unknown) => e as Error);
    // tuf-js goes further than counting the key once: metadata with two signatures by one key is refused outright.
    expect((err as { code?: string } | undefined)?.code).toBe('E_TRUST_SIGNATURE');
    expect(err?.message).toMatch(/multiple signatures found for keyid|signed by 1\/2/);
  });

  it('rollback: an older snapshot after a newer one was trusted', async () => {
    await rig.repo.publish(rig.online()); // snapshot v2, timestamp v2
    await rig.client().refresh();
    await rig.forge('timestamp.json', 'timestamp', (s) => {
      s['version'] = 3;
      s['meta'] = { 'snapshot.json': { version: 1 } };
    }, rig.keys.priv.timestamp);
    await refused('E_TRUST_ROLLBACK', /snapshot version 1 is less than current version 2/);
  });

  it('rollback: an older targets version after a newer one was trusted', async () => {
    await rig.publishFile('models/press/2/model.onnx', new Uint8Array(10)); // targets v2, snapshot v2
    await rig.client().refresh();
    await rig.repo.publish(rig.online()); // snapshot v3 (lists targets v2)
    await rechain(1, 3); // ... now listing targets v1
    await refused('E_TRUST_ROLLBACK', /less than current version/);
  });

  for (const [role, file] of [
    ['timestamp', 'timestamp.json'],
    ['snapshot', '1.snapshot.json'],
    ['targets', '1.targets.json'],
  ] as const) {
    it(`freeze: expired ${role} metadata`, async () => {
      await rig.forge(file, role, (s) => void (s['expires'] = PAST), role === 'targets' ? rig.keys.priv.targets : role === 'snapshot' ? rig.keys.priv.snapshot : rig.keys.priv.timestamp);
      if (role === 'targets') await rechain(1, 1);
      if (role === 'snapshot') {
        const sn = await readFile(`${dir.path}/repo/repo/metadata/1.snapshot.json`);
        await rig.forge('timestamp.json', 'timestamp', (s) => {
          s['version'] = 2;
          s['meta'] = { 'snapshot.json': { version: 1, length: sn.length, hashes: { sha256: createHash('sha256').update(sn).digest('hex') } } };
        }, rig.keys.priv.timestamp);
      }
      await refused('E_TRUST_EXPIRED', /expired/);
    });
  }

  it('freeze: an expired root', async () => {
    await rig.repo.rotate('timestamp', {});
    await rig.repo.sign('root', rig.keys.priv.root);
    await rig.repo.publish(rig.online()); // root v2
    await rig.forge('2.root.json', 'root', (s) => void (s['expires'] = PAST), rig.keys.priv.root);
    await refused('E_TRUST_EXPIRED', /root.json is expired/);
  });

  it('mix-and-match: a validly signed snapshot of another version served in place of the current one', async () => {
    await rig.publishFile('models/press/2/model.onnx', new Uint8Array(10)); // snapshot v2
    const old = await readFile(`${dir.path}/repo/repo/metadata/1.snapshot.json`, 'utf8');
    await rig.write('2.snapshot.json', JSON.parse(old));
    await refused('E_TRUST_HASH');
  });

  it('rotation: a key the new root removed no longer signs; a new root needs both thresholds', async () => {
    const fresh = await keyring(`${dir.path}/keys2`, { root: 1, targets: 0, snapshot: 0, timestamp: 1 });
    const oldTimestamp = rig.keys.priv.timestamp;
    await rig.repo.rotate('timestamp', { add: fresh.pub.timestamp, remove: oldTimestamp.map((k) => k.keyid), threshold: 1 });
    await rig.repo.sign('root', rig.keys.priv.root);
    await rig.repo.publish({ snapshot: rig.keys.priv.snapshot, timestamp: fresh.priv.timestamp });
    const c = rig.client();
    await c.refresh(); // follows root v2, accepts the new timestamp key
    await rig.forge('timestamp.json', 'timestamp', (s) => void (s['version'] = 9), oldTimestamp);
    await refused('E_TRUST_SIGNATURE', /timestamp was signed by 0\/1/);

    // A root v3 signed only by a new root key, or only by the old: both refused.
    await rig.repo.publish({ snapshot: rig.keys.priv.snapshot, timestamp: fresh.priv.timestamp });
    await rig.repo.rotate('root', { add: fresh.pub.root, remove: rig.keys.priv.root.map((k) => k.keyid), threshold: 1 });
    await rig.repo.sign('root', [...rig.keys.priv.root, ...fresh.priv.root]);
    await rig.repo.publish({ snapshot: rig.keys.priv.snapshot, timestamp: fresh.priv.timestamp }); // a proper root v3
    const proper = await rig.read('3.root.json');
    await rig.pin('gw2');
    await rig.pin('gw3');
    await rig.forge('3.root.json', 'root', () => undefined, fresh.priv.root);
    await refused('E_TRUST_SIGNATURE', /root was signed by/, 'gw2');
    await rig.forge('3.root.json', 'root', () => undefined, rig.keys.priv.root);
    await refused('E_TRUST_SIGNATURE', /root was signed by/, 'gw3');
    await rig.write('3.root.json', proper);
  });

  describe('delegations (a team signs its own models under a path the targets role delegates)', () => {
    const DELEGATED = 'models/press-team/1/model.onnx';
    const body = new Uint8Array(500).fill(9);

    /** Targets v1 delegates models/press-team/* to one key; the team's role file lists one model. */
    async function delegate(signedBy: 'the team' | 'a stranger'): Promise<void> {
      const team = foreignKey();
      const pub = tufPublicKey((await import('node:crypto')).createPublicKey(team.key));
      const { mkdir, writeFile } = await import('node:fs/promises');
      const sha = createHash('sha256').update(body).digest('hex');
      await mkdir(`${dir.path}/repo/repo/targets/models/press-team/1`, { recursive: true });
      await writeFile(`${dir.path}/repo/repo/targets/models/press-team/1/${sha}.model.onnx`, body);
      await rig.forge('1.targets.json', 'targets', (s) => {
        s['delegations'] = { keys: { [team.keyid]: pub }, roles: [{ name: 'press-team', keyids: [team.keyid], threshold: 1, terminating: true, paths: ['models/press-team/*/*'] }] }; // TUF patterns: '*' stops at '/'
      }, rig.keys.priv.targets);
      await rig.write('1.press-team.json', { signed: { _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2099-01-01T00:00:00Z', targets: { [DELEGATED]: { length: body.length, hashes: { sha256: sha } } } }, signatures: [] });
      await rig.forge('1.press-team.json', 'targets', () => undefined, [signedBy === 'the team' ? team : foreignKey()]);
      const t = await readFile(`${dir.path}/repo/repo/metadata/1.targets.json`);
      const pt = await readFile(`${dir.path}/repo/repo/metadata/1.press-team.json`);
      const h = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      await rig.forge('1.snapshot.json', 'snapshot', (s) => {
        s['meta'] = { 'targets.json': { version: 1, length: t.length, hashes: { sha256: h(t) } }, 'press-team.json': { version: 1, length: pt.length, hashes: { sha256: h(pt) } } };
      }, rig.keys.priv.snapshot);
      const sn = await readFile(`${dir.path}/repo/repo/metadata/1.snapshot.json`);
      await rig.forge('timestamp.json', 'timestamp', (s) => {
        s['version'] = 2;
        s['meta'] = { 'snapshot.json': { version: 1, length: sn.length, hashes: { sha256: h(sn) } } };
      }, rig.keys.priv.timestamp);
    }

    it('finds and verifies a model listed by the delegated role', async () => {
      await delegate('the team');
      const c = rig.client();
      await c.refresh();
      const got = await c.download(await c.target(DELEGATED));
      expect(Buffer.from(await readFile(got.path)).equals(Buffer.from(body))).toBe(true);
    });

    it('refuses a delegated role signed by a key the delegation does not name', async () => {
      await delegate('a stranger');
      const c = rig.client();
      await c.refresh();
      const err = await c.target(DELEGATED).then(() => undefined, (e: unknown) => e as { code: string; message: string });
      expect(err?.code, err?.message).toBe('E_TRUST_SIGNATURE');
    });

    /**
     * A diamond: targets delegates models/team-a/* to parent-a and models/team-b/* to parent-b;
     * each delegates its paths on to a role named "release", under its own key for it. The
     * release file lists a model under each path but is signed only with parent-a's release
     * key: its team-a model is authorised, its team-b model is not (parent-b's key never
     * signed it). tuf-conformance's test_cached_role_is_verified_against_current_delegator.
     */
    async function diamond(): Promise<{ a: string; b: string }> {
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { createPublicKey } = await import('node:crypto');
      const pub = (k: SigningKey): ReturnType<typeof tufPublicKey> => tufPublicKey(createPublicKey(k.key));
      const h = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
      const [parentA, parentB, releaseA, releaseB] = [foreignKey(), foreignKey(), foreignKey(), foreignKey()];
      const models = { a: 'models/team-a/1/model.onnx', b: 'models/team-b/1/model.onnx' };
      const files: Record<string, { length: number; hashes: { sha256: string } }> = {};
      for (const [team, path] of Object.entries(models)) {
        const bytes = Buffer.from(`model of team ${team}`);
        await mkdir(`${dir.path}/repo/repo/targets/models/team-${team}/1`, { recursive: true });
        await writeFile(`${dir.path}/repo/repo/targets/models/team-${team}/1/${h(bytes)}.model.onnx`, bytes);
        files[path] = { length: bytes.length, hashes: { sha256: h(bytes) } };
      }
      const role = (name: string, key: SigningKey, team: string): Record<string, unknown> => ({ name, keyids: [key.keyid], threshold: 1, terminating: false, paths: [`models/team-${team}/*/*`] });
      const targetsRole = (extra: Record<string, unknown>): unknown => ({ signed: { _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2099-01-01T00:00:00Z', targets: {}, ...extra }, signatures: [] });
      await rig.forge('1.targets.json', 'targets', (s) => {
        s['delegations'] = { keys: { [parentA.keyid]: pub(parentA), [parentB.keyid]: pub(parentB) }, roles: [role('parent-a', parentA, 'a'), role('parent-b', parentB, 'b')] };
      }, rig.keys.priv.targets);
      await rig.write('1.parent-a.json', targetsRole({ delegations: { keys: { [releaseA.keyid]: pub(releaseA) }, roles: [role('release', releaseA, 'a')] } }));
      await rig.forge('1.parent-a.json', 'targets', () => undefined, [parentA]);
      await rig.write('1.parent-b.json', targetsRole({ delegations: { keys: { [releaseB.keyid]: pub(releaseB) }, roles: [role('release', releaseB, 'b')] } }));
      await rig.forge('1.parent-b.json', 'targets', () => undefined, [parentB]);
      await rig.write('1.release.json', targetsRole({ targets: files }));
      await rig.forge('1.release.json', 'targets', () => undefined, [releaseA]); // not releaseB
      const meta: Record<string, unknown> = {};
      for (const name of ['targets', 'parent-a', 'parent-b', 'release']) {
        const b = await readFile(`${dir.path}/repo/repo/metadata/1.${name}.json`);
        meta[`${name}.json`] = { version: 1, length: b.length, hashes: { sha256: h(b) } };
      }
      await rig.forge('1.snapshot.json', 'snapshot', (s) => void (s['meta'] = meta), rig.keys.priv.snapshot);
      const sn = await readFile(`${dir.path}/repo/repo/metadata/1.snapshot.json`);
      await rig.forge('timestamp.json', 'timestamp', (s) => {
        s['version'] = 2;
        s['meta'] = { 'snapshot.json': { version: 1, length: sn.length, hashes: { sha256: h(sn) } } };
      }, rig.keys.priv.timestamp);
      return models;
    }

    it('a role two delegators share is verified against the delegator of each search, not reused from the first', async () => {
      const models = await diamond();
      const c = rig.client();
      await c.refresh();
      // Through parent-a, release is signed by the key parent-a names for it: trusted.
      expect((await c.download(await c.target(models.a))).cached).toBe(false);
      // Through parent-b, the same (already verified) release lacks the key parent-b names.
      const err = await c.target(models.b).then((t) => t, (e: unknown) => e as { code: string; message: string });
      expect((err as { code?: string }).code, `the team-b model was accepted: ${JSON.stringify(err)}`).toBe('E_TRUST_SIGNATURE');
      expect((err as { message: string }).message).toMatch(/release was signed by 0\/1 keys/);
      // A new client (release.json now cached on disk, verified through parent-a) refuses it too.
      const fresh = rig.client();
      await fresh.refresh();
      const again = await fresh.target(models.b).then((t) => t, (e: unknown) => e as { code: string; message: string });
      expect((again as { code?: string }).code, JSON.stringify(again)).toBe('E_TRUST_SIGNATURE');
    });
  });

  it('endless data: oversized metadata stops at its limit', async () => {
    rig.intercept = (path, res) => {
      if (!path.endsWith('/timestamp.json')) return false;
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', pump);
      };
      res.on('error', () => undefined);
      pump();
      return true;
    };
    const started = Date.now();
    await refused('E_TRUST_LENGTH', /Max length/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
