import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repository } from '../../../../fleet/repo/repository.js';
import { FleetProcess } from '../../../support/fleet-process.js';
import { useFleetTestRig } from '../../../support/fleet-test-rig.js';
import { keyring } from '../../../support/tuf-rig.js';
import { waitFor } from '../../../support/wait-for.js';
import { INITIAL_LAYOUT, INITIAL_ONNX, MODEL, ScriptedGateway, taskBody } from './round-service-rig.js';

/**
 * The round service as `edgewise fleet` runs it: update chunks reach it through the embedded
 * broker's publish hook (everything else still goes to ingest), its messages go out through the
 * broker, its state through the fleet database, and the API serves it. No signer for global
 * models is wired into the fleet yet: the round's record says its model was not released, and
 * the next round starts from the same release.
 */
describe('the round service inside the fleet service', () => {
  const rig = useFleetTestRig();

  it('runs a round through the embedded broker and the API; without a signer the model is not released and the next round starts from the same release', async () => {
    const dir = rig.dir.path;
    const keys = await keyring(join(dir, 'keys'), { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    const repo = new Repository(join(dir, 'repo'));
    await repo.init(keys.pub);
    await repo.sign('root', keys.priv.root);
    await mkdir(join(dir, 'in'));
    await writeFile(join(dir, 'in', 'model.onnx'), INITIAL_ONNX);
    await writeFile(join(dir, 'in', 'golden.bin'), new Uint8Array(16));
    await repo.addModel({
      model: join(dir, 'in', 'model.onnx'),
      goldenInput: join(dir, 'in', 'golden.bin'),
      goldenOutput: join(dir, 'in', 'golden.bin'),
      release: { model: MODEL, release: 1, version: 'v1', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0', golden: { inputName: 'x', dims: [1, 96], outputName: 'reconstruction', tolerance: '0.0001' }, budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 } },
    });
    await repo.sign('targets', keys.priv.targets);
    await repo.publish({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });

    const data = join(dir, 'fleet');
    const { fleet, endpoints } = await FleetProcess.start(data, undefined, ['--repo', join(dir, 'repo')]);
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${endpoints.localApiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return (await res.json()) as Record<string, unknown>;
    };
    const gws: ScriptedGateway[] = [];
    for (const id of ['gw-0', 'gw-1']) {
      const p = (await call('POST', '/v1/gateways', { id, labels: { line: 'press' } })) as { credentials: { password: string } };
      const gw = new ScriptedGateway(id, p.credentials.password, endpoints.brokerUrl, INITIAL_LAYOUT);
      await gw.connect();
      rig.onCleanup(() => gw.close());
      gws.push(gw);
    }
    expect(await call('POST', '/v1/learning/tasks', taskBody({ minClients: 2 }, { rounds: 2 }))).toMatchObject({ id: 'press-ae', state: 'active' });
    for (const gw of gws) {
      await waitFor(() => gw.invitedTo('press-ae', 1), `${gw.id} invited`);
      await gw.send(gw.chunks({ task: 'press-ae', round: 1 }));
      await gw.ack('press-ae.1', 'complete');
    }
    const r1 = await waitFor(async () => {
      const r = await call('GET', '/v1/learning/tasks/press-ae/rounds/1');
      return r['outcome'] === 'open' || r['outcome'] === undefined ? undefined : r;
    }, 'round 1 closed', 30_000, 100);
    expect(r1).toMatchObject({ outcome: 'model', participants: 2, released: null, record: { participants: ['gw-0', 'gw-1'] } });
    expect(String(r1['releaseError'])).toMatch(/no signer for federated global models/);
    const a2 = await waitFor(() => gws[0]?.announcements.find((a) => a?.round === 2), 'announcement of round 2', 30_000);
    expect(a2?.model.release).toBe(1);
    // The broker counted the chunks under their own kind; the service took both updates.
    const metrics = await (await fetch(`${endpoints.localApiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^edgewise_fleet_learning_updates_total\{outcome="accepted",reason=""\} 2$/m);
    expect(metrics).toMatch(/^edgewise_fleet_messages_in_total\{kind="learning-update"\} [1-9]/m);
    expect(await call('POST', '/v1/learning/tasks/press-ae/stop', {})).toMatchObject({ state: 'stopped' });
  });
});
