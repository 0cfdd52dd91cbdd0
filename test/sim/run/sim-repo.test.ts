import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPrivateKey } from '../../../fleet/repo/keys.js';
import { listReleases } from '../../../fleet/repo/releases.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { TrustClient, initTrust } from '../../../runtime/updater/trust.js';
import { SimRepo } from '../../../sim/run/sim-repo.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('SimRepo', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let repo: SimRepo | undefined;
  beforeEach(async () => {
    dir = await makeTempDir('edgewise-sim-repo-');
  });
  afterEach(async () => {
    await repo?.stop();
    await dir.remove();
  });

  it('publishes a model release that a gateway pinned to its root verifies and downloads over HTTP; the fleet lists it', async () => {
    repo = await SimRepo.start(join(dir.path, 'sim'));
    const d = await repo.inputDir();
    const model = buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y', dims: [1, 2] }], initializers: [{ name: 'f', dims: [1], data: [2] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] });
    await writeFile(join(d, 'm.onnx'), model);
    await writeFile(join(d, 'gi.bin'), new Uint8Array(Float32Array.of(1, 2).buffer));
    await writeFile(join(d, 'go.bin'), new Uint8Array(Float32Array.of(2, 4).buffer));
    const target = await repo.publishModel({ model: join(d, 'm.onnx'), goldenInput: join(d, 'gi.bin'), goldenOutput: join(d, 'go.bin'), release: { model: 'twice', release: 1, version: '1', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 2], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });

    expect((await listReleases(repo.fleetOptions().repoDir)).map((r) => [r.model, r.release, r.target])).toEqual([['twice', 1, target]]);
    const gw = join(dir.path, 'gw');
    await initTrust(join(gw, 'metadata'), await repo.pinRoot(gw));
    const client = new TrustClient({ metadataDir: join(gw, 'metadata'), metadataUrl: repo.updates().metadataUrl, targetBaseUrl: repo.updates().targetBaseUrl, targetDir: join(gw, 'targets'), idleTimeoutMs: 5000 });
    await client.refresh();
    const got = await client.download(await client.target(target));
    expect(Buffer.compare(await readFile(got.path), Buffer.from(model))).toBe(0);
  });

  it('keeps the online keys apart, where the fleet reads them (snapshot-*.key, timestamp-*.key, owner-only)', async () => {
    repo = await SimRepo.start(join(dir.path, 'sim'));
    const names = (await readdir(repo.onlineKeysDir)).filter((n) => n.endsWith('.key')).sort();
    expect(names.map((n) => n.split('-')[0])).toEqual(['snapshot', 'timestamp']);
    for (const n of names) {
      expect((await stat(join(repo.onlineKeysDir, n))).mode & 0o077).toBe(0);
      expect((await loadPrivateKey(join(repo.onlineKeysDir, n))).keyid).toBe(n.startsWith('snapshot') ? repo.keys.priv.snapshot[0]?.keyid : repo.keys.priv.timestamp[0]?.keyid);
    }
  });
});
