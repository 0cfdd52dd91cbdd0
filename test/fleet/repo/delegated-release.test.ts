import { createHash, sign } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { Metadata, MetadataKind, Signature } from '@tufjs/models';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseModelRelease } from '../../../fleet/protocol/model-release.js';
import { ensureDelegatedKey, federatedRole, type DelegatedKey } from '../../../fleet/repo/delegated-key.js';
import { modelPathPattern } from '../../../fleet/repo/delegation.js';
import { listReleases } from '../../../fleet/repo/releases.js';
import type { SigningKey } from '../../../fleet/repo/repository.js';
import type { TrustClient, TrustErrorCode } from '../../../runtime/updater/trust.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig } from '../../support/tuf-rig.js';
import { releaseInput } from './release-input.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function expectRefused(p: Promise<unknown>, code: TrustErrorCode): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e as { code?: string; message: string });
  expect(err, 'refused').toBeDefined();
  expect(err?.code, err?.message).toBe(code);
}

/** A targets role's metadata, signed by `keys` (@tufjs/models' signing, as the fleet's). */
function signedTargets(signed: Record<string, unknown>, keys: readonly SigningKey[]): unknown {
  const md = Metadata.fromJSON(MetadataKind.Targets, { signed, signatures: [] } as never);
  for (const k of keys) md.sign((bytes) => new Signature({ keyID: k.keyid, sig: sign(null, bytes, k.key).toString('hex') }), true);
  return md.toJSON();
}

/**
 * Issue 14's test 6: a global model signed by the federated task's delegated role reaches a
 * gateway through TUF (the gateway's own client, over HTTP on loopback), and that role's key
 * signs nothing for any other model's path that a gateway would take.
 */
describe('a release signed by a federated task\'s delegated role, on a gateway', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let rig: TufRig;
  let fed: DelegatedKey;
  const pressBytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
  const motorBytes = Uint8Array.from({ length: 4000 }, (_, i) => (i * 13) & 255);

  /**
   * Makes the newest snapshot list `role.json` at `version` (the file's bytes as they are) and
   * the timestamp match it, signed with the online snapshot and timestamp keys: what an attacker
   * holding those keys, besides the federated one, can do.
   */
  async function relist(snapshotVersion: number, role: string, version: number): Promise<void> {
    const bytes = await readFile(`${dir.path}/repo/metadata/${version}.${role}.json`);
    await rig.forge(`${snapshotVersion}.snapshot.json`, 'snapshot', (s) => {
      (s['meta'] as Record<string, unknown>)[`${role}.json`] = { version, length: bytes.length, hashes: { sha256: sha256(bytes) } };
    }, rig.keys.priv.snapshot);
    const snapshot = await readFile(`${dir.path}/repo/metadata/${snapshotVersion}.snapshot.json`);
    await rig.forge('timestamp.json', 'timestamp', (t) => {
      t['meta'] = { 'snapshot.json': { version: snapshotVersion, length: snapshot.length, hashes: { sha256: sha256(snapshot) } } };
    }, rig.keys.priv.timestamp);
  }

  async function fetched(c: TrustClient, path: string): Promise<Buffer> {
    return readFile((await c.download(await c.target(path))).path);
  }

  beforeEach(async () => {
    dir = await makeTempDir();
    rig = new TufRig(dir.path);
    await rig.start();
    // The operator: a release of press through the offline targets key, and the delegation of
    // motor's releases to the task's role, whose online key the fleet made.
    await rig.repo.addModel(await releaseInput(dir.path, 'press', 1, pressBytes));
    fed = await ensureDelegatedKey(`${dir.path}/fleet-data/federated/line-3`, federatedRole('line-3'));
    await rig.repo.delegate({ role: fed.role, keys: [fed.publicKey], paths: [modelPathPattern('motor')] });
    await rig.repo.sign('targets', rig.keys.priv.targets);
    await rig.repo.publish(rig.online());
    // The fleet, after a round: the global model as a release, signed and published with online keys only.
    await rig.repo.addDelegatedModel(fed.role, await releaseInput(dir.path, 'motor', 1, motorBytes), [fed]);
    await rig.repo.publish(rig.online());
    await rig.pin();
  });
  afterEach(async () => {
    await rig.stop();
    await dir.remove();
  });

  it('verifies and downloads the federated release (model and golden files), and the next round\'s release after it', async () => {
    const c = rig.client();
    await c.refresh();
    const info = await c.target('models/motor/1/model.onnx');
    expect(parseModelRelease(info.custom, info.path)).toMatchObject({ model: 'motor', release: 1, golden: { input: 'models/motor/1/golden-input.bin' } });
    expect(Buffer.from(await fetched(c, 'models/motor/1/model.onnx')).equals(Buffer.from(motorBytes))).toBe(true);
    expect(Buffer.from(await fetched(c, 'models/motor/1/golden-input.bin')).equals(Buffer.from(new Uint8Array(16).fill(1)))).toBe(true);
    expect(await readdir(`${dir.path}/gw/metadata`)).toContain(`${fed.role}.json`);

    const next = Uint8Array.from(motorBytes, (b) => b ^ 0x5a);
    await rig.repo.addDelegatedModel(fed.role, await releaseInput(dir.path, 'motor', 2, next), [fed]);
    await rig.repo.publish(rig.online());
    const later = rig.client();
    await later.refresh();
    expect(Buffer.from(await fetched(later, 'models/motor/2/model.onnx')).equals(Buffer.from(next))).toBe(true);
    expect((await later.target('models/motor/1/model.onnx')).hashes['sha256']).toBe(sha256(motorBytes));

    // The fleet lists what the gateways can find, with the role that signed it.
    expect((await listReleases(`${dir.path}/repo`)).map((r) => `${r.model}@${r.release} ${r.signedBy} v${r.targetsVersion}`)).toEqual([`motor@2 ${fed.role} v2`, `motor@1 ${fed.role} v2`, 'press@1 targets v1']);
  });

  it('refuses what the federated key signs for another model\'s paths (directly or through a further delegation), and the other model\'s real release still verifies', async () => {
    // A leaked federated key: the attacker writes the role's next version by hand (the fleet's
    // refusal bypassed), listing press paths, one of them press's real release with other bytes,
    // and delegating press's paths on to a role of its own.
    const evilBytes = new Uint8Array(3000).fill(0xee);
    await writeFile(`${dir.path}/evil.onnx`, evilBytes);
    const current = (JSON.parse(await readFile(`${dir.path}/repo/metadata/1.${fed.role}.json`, 'utf8')) as { signed: { targets: Record<string, unknown> } }).signed;
    const release2 = (await releaseInput(dir.path, 'press', 2, evilBytes)).release;
    const forged = { length: evilBytes.length, hashes: { sha256: sha256(evilBytes) } };
    const edgewise = { ...release2, golden: { ...release2.golden, input: 'models/press/2/golden-input.bin', output: 'models/press/2/golden-output.bin' } };
    await writeFile(`${dir.path}/repo/targets/models/press/${sha256(evilBytes)}.x`, evilBytes); // the bytes are there to fetch: only trust stands in the way
    const evilKey = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: fed.publicKey.keyval.public } };
    const role = signedTargets(
      {
        ...current,
        version: 2,
        targets: { ...current.targets, 'models/press/2/model.onnx': { ...forged, custom: { edgewise } }, 'models/press/1/model.onnx': forged },
        delegations: { keys: { [fed.keyid]: evilKey }, roles: [{ name: 'evil', keyids: [fed.keyid], threshold: 1, terminating: true, paths: ['models/press/*/*'] }] },
      },
      [fed],
    );
    await writeFile(`${dir.path}/repo/metadata/2.${fed.role}.json`, `${JSON.stringify(role)}\n`);
    await writeFile(`${dir.path}/repo/metadata/1.evil.json`, `${JSON.stringify(signedTargets({ _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2099-01-01T00:00:00Z', targets: { 'models/press/2/model.onnx': { ...forged, custom: { edgewise } } } }, [fed]))}\n`);
    // The fleet publishes it (it is signed by the role's key), and the snapshot (an online key
    // too, so assume it leaked with the other) is made to list the attacker's role as well.
    const v = await rig.repo.publish(rig.online());
    expect(v.delegated).toEqual({ [fed.role]: 2 });
    await relist(v.snapshot, 'evil', 1);

    const c = rig.client();
    await c.refresh();
    // press's paths are searched in the top-level role and nowhere else: the federated role is never asked.
    await expectRefused(c.target('models/press/2/model.onnx'), 'E_TRUST_NOT_LISTED');
    await expectRefused(c.target('models/press/2/golden-input.bin'), 'E_TRUST_NOT_LISTED');
    const press = await c.target('models/press/1/model.onnx');
    expect(press.hashes['sha256']).toBe(sha256(pressBytes));
    expect(Buffer.from(await fetched(c, 'models/press/1/model.onnx')).equals(Buffer.from(pressBytes))).toBe(true);
    // What the role may sign still verifies, from the forged version, which the gateway took as the role's own: its press entries are ignored, not missed.
    expect(Buffer.from(await fetched(c, 'models/motor/1/model.onnx')).equals(Buffer.from(motorBytes))).toBe(true);
    const trusted = JSON.parse(await readFile(`${dir.path}/gw/metadata/${fed.role}.json`, 'utf8')) as { signed: { version: number; targets: Record<string, unknown> } };
    expect(trusted.signed.version).toBe(2);
    expect(Object.keys(trusted.signed.targets)).toContain('models/press/2/model.onnx');
    // And the fleet does not list the forged release either.
    expect((await listReleases(`${dir.path}/repo`)).map((r) => `${r.model}@${r.release} ${r.signedBy}`)).toEqual([`motor@1 ${fed.role}`, 'press@1 targets']);
  });

  it('refuses the federated release when the role\'s metadata is signed by a key the delegation does not name: the fleet will not publish it, a gateway will not take it', async () => {
    const current = JSON.parse(await readFile(`${dir.path}/repo/metadata/1.${fed.role}.json`, 'utf8')) as { signed: Record<string, unknown> };
    const stranger = await ensureDelegatedKey(`${dir.path}/attacker`, fed.role);
    await writeFile(`${dir.path}/repo/metadata/2.${fed.role}.json`, `${JSON.stringify(signedTargets({ ...current.signed, version: 2 }, [stranger]))}\n`);
    await expect(rig.repo.publish(rig.online())).rejects.toMatchObject({ code: 'E_REPO_THRESHOLD', message: expect.stringMatching(new RegExp(`^${fed.role} v2: .*signed by 0/1`)) as unknown });
    await relist(await rig.repo.publishedVersion('snapshot'), fed.role, 2);
    const c = rig.client();
    await c.refresh();
    await expectRefused(c.target('models/motor/1/model.onnx'), 'E_TRUST_SIGNATURE');
    expect((await c.target('models/press/1/model.onnx')).hashes['sha256']).toBe(sha256(pressBytes));
  });
});
