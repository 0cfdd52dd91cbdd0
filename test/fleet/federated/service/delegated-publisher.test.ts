import { readFile, writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportAutoencoder } from '../../../../models/anomaly/autoencoder/onnx-export.js';
import { readFloatInitializers } from '../../../../models/onnx/initializers.js';
import { Mlp } from '../../../../models/train/mlp.js';
import { DelegatedModelPublisher } from '../../../../fleet/federated/service/delegated-publisher.js';
import { nextModelFile } from '../../../../fleet/federated/service/global-model.js';
import { parseModelRelease } from '../../../../fleet/protocol/model-release.js';
import { ensureDelegatedKey, federatedRole } from '../../../../fleet/repo/delegated-key.js';
import { modelPathPattern } from '../../../../fleet/repo/delegation.js';
import { listReleases } from '../../../../fleet/repo/releases.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { TufRig } from '../../../support/tuf-rig.js';

const RELEASE_FIELDS = {
  hardware: { arch: ['x64', 'arm64'] as ('x64' | 'arm64')[], accelerators: ['cpu'] },
  minRuntimeVersion: '0.1.0',
  golden: { inputName: 'x', dims: [2, 6], outputName: 'reconstruction', tolerance: '0.0001' },
  budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 },
};

/**
 * The fleet's signer of federated global models: each release is signed by the task's own
 * delegated role with the fleet's online key, and a gateway's TUF client takes it; until the
 * operator delegates the model to that role, the fleet says exactly what to run.
 */
describe('DelegatedModelPublisher', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let rig: TufRig;
  let publisher: DelegatedModelPublisher;
  const first = exportAutoencoder(new Mlp([6, 3, 6], 1), { kind: 'edgewise-autoencoder' });

  beforeEach(async () => {
    dir = await makeTempDir();
    rig = new TufRig(dir.path);
    await rig.start();
    await writeFile(`${dir.path}/m1.onnx`, first);
    await writeFile(`${dir.path}/g.bin`, new Uint8Array(48));
    await rig.repo.addModel({ model: `${dir.path}/m1.onnx`, goldenInput: `${dir.path}/g.bin`, goldenOutput: `${dir.path}/g.bin`, release: { ...RELEASE_FIELDS, model: 'motor', release: 1, version: 'initial' } });
    await rig.repo.sign('targets', rig.keys.priv.targets);
    await rig.repo.publish(rig.online());
    await rig.pin();
    publisher = new DelegatedModelPublisher({ repoDir: `${dir.path}/repo`, keysDir: `${dir.path}/fleet/federated`, online: rig.online() });
  });
  afterEach(async () => {
    await rig.stop();
    await dir.remove();
  });

  /** Round 1's model: the first one with every weight moved by 0.01. */
  function roundModel(): Uint8Array {
    const params = readFloatInitializers(first).map((t) => ({ name: t.name, shape: [...t.dims], values: t.data.map((v) => v + 0.01) }));
    return nextModelFile(first, params, 'line-3', 1);
  }

  it('says, before any round, what the operator must run to delegate the model to the task\'s role', async () => {
    const todo = await publisher.prepare('line-3', 'motor');
    expect(todo).toContain(`edgewise repo delegate --repo ${dir.path}/repo --role federated-line-3 --key ${dir.path}/fleet/federated/line-3/federated-line-3.pub.json --paths 'models/motor/*/*'`);
    await expect(publisher.publish({ task: 'line-3', round: 1, model: 'motor', bytes: roundModel() })).rejects.toMatchObject({ code: 'E_RELEASE_UNSIGNED', message: expect.stringContaining('edgewise repo delegate') });
    expect((await listReleases(`${dir.path}/repo`)).map((r) => r.release)).toEqual([1]);
  });

  it('releases the round\'s model as federated-<task>, and a gateway verifies it, its golden run included', async () => {
    const key = await ensureDelegatedKey(`${dir.path}/fleet/federated/line-3`, federatedRole('line-3'));
    await rig.repo.delegate({ role: key.role, keys: [key.publicKey], paths: [modelPathPattern('motor')] });
    await rig.repo.sign('targets', rig.keys.priv.targets);
    await rig.repo.publish(rig.online());
    expect(await publisher.prepare('line-3', 'motor')).toBeNull();

    const bytes = roundModel();
    const ref = await publisher.publish({ task: 'line-3', round: 1, model: 'motor', bytes });
    expect(ref).toMatchObject({ name: 'motor', release: 2, version: 'line-3 r1', fetch: { type: 'tuf', target: 'models/motor/2/model.onnx' } });
    expect((await listReleases(`${dir.path}/repo`))[0]).toMatchObject({ release: 2, signedBy: 'federated-line-3' });

    // The gateway's own TUF client: the model, its release fields and its golden files.
    const client = rig.client();
    const target = await client.target(ref.fetch.target);
    expect((await readFile((await client.download(target)).path)).equals(Buffer.from(bytes))).toBe(true);
    const release = parseModelRelease(target.custom, ref.fetch.target);
    const input = await readFile((await client.download(await client.target(release.golden.input))).path);
    const output = await readFile((await client.download(await client.target(release.golden.output))).path);
    // The golden run a gateway repeats before installing: the model on the golden input gives the golden output.
    const session = await ort.InferenceSession.create(bytes);
    const run = await session.run({ x: new ort.Tensor('float32', new Float32Array(input.buffer, input.byteOffset, input.byteLength / 4).slice(), [2, 6]) });
    await session.release();
    const expected = new Float32Array(output.buffer, output.byteOffset, output.byteLength / 4);
    expect(Array.from(run['reconstruction']?.data as Float32Array)).toEqual(Array.from(expected));
    expect(new Set(Array.from(new Float32Array(input.buffer, input.byteOffset, 12))).size).toBeGreaterThan(1);

    // The next round's release follows it, signed by the same role.
    const again = await publisher.publish({ task: 'line-3', round: 2, model: 'motor', bytes: nextModelFile(bytes, readFloatInitializers(bytes).map((t) => ({ name: t.name, shape: [...t.dims], values: t.data })), 'line-3', 2) });
    expect(again.release).toBe(3);
    await expect(rig.client().target(again.fetch.target)).resolves.toBeDefined();
  });

  it('signs nothing of another model: the task\'s role is refused for paths not delegated to it', async () => {
    const key = await ensureDelegatedKey(`${dir.path}/fleet/federated/line-3`, federatedRole('line-3'));
    await rig.repo.delegate({ role: key.role, keys: [key.publicKey], paths: [modelPathPattern('press')] });
    await rig.repo.sign('targets', rig.keys.priv.targets);
    await rig.repo.publish(rig.online());
    expect(await publisher.prepare('line-3', 'motor')).toContain("--paths 'models/motor/*/*'");
    await expect(publisher.publish({ task: 'line-3', round: 1, model: 'motor', bytes: roundModel() })).rejects.toMatchObject({ code: 'E_RELEASE_UNSIGNED' });
  });
});
