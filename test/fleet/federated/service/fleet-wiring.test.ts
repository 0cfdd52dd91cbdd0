import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelPathPattern } from '../../../../fleet/repo/delegation.js';
import { loadPublicKey } from '../../../../fleet/repo/keys.js';
import { Repository } from '../../../../fleet/repo/repository.js';
import { useFleetTestRig } from '../../../support/fleet-test-rig.js';
import { waitFor } from '../../../support/wait-for.js';
import { MODEL, fleetWithScriptedGateways, repositoryWithRelease, taskBody } from './round-service-rig.js';

/**
 * The round service as `edgewise fleet` runs it: update chunks reach it through the embedded
 * broker's publish hook (everything else still goes to ingest), its messages go out through the
 * broker, its state through the fleet database, and the API serves it. Without the repository's
 * online keys the fleet cannot sign a global model: the round's record says its model was not
 * released, and the next round starts from the same release. With them, the task's delegated
 * role signs it and the task's rollout plan sends it out.
 */
describe('the round service inside the fleet service', () => {
  const rig = useFleetTestRig();

  it('runs a round through the embedded broker and the API; without a signer the model is not released and the next round starts from the same release', async () => {
    const dir = rig.dir.path;
    await repositoryWithRelease(dir);
    const { endpoints, call, gateways: gws } = await fleetWithScriptedGateways(rig, ['--repo', join(dir, 'repo')], ['gw-0', 'gw-1']);
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

  it('with --repo-online-keys releases each round\'s model as the task\'s delegated role and rolls it out with the task\'s plan', async () => {
    const dir = rig.dir.path;
    const keys = await repositoryWithRelease(dir);
    const { data, call, gateways: gws } = await fleetWithScriptedGateways(rig, ['--repo', join(dir, 'repo'), '--repo-online-keys', join(dir, 'keys')], ['gw-0', 'gw-1']);
    // A bad plan is refused with the task, not after its first round.
    const bad = await call('POST', '/v1/learning/tasks', taskBody({ minClients: 2 }, { rounds: 1, rollout: { selector: { kind: 'labels', selector: 'line=press' }, waves: [{ kind: 'share', share: 1 }], gates: { minSuccess: 2 } } }));
    expect(bad).toMatchObject({ status: 400, code: 'E_VALIDATION' });
    expect(String(bad['detail'])).toMatch(/gates/);
    const plan = { selector: { kind: 'labels', selector: 'line=press' }, waves: [{ kind: 'share', share: 1 }] };
    expect(await call('POST', '/v1/learning/tasks', taskBody({ minClients: 2 }, { rounds: 1, rollout: plan }))).toMatchObject({ id: 'press-ae', schedule: { rollout: plan } });
    // The operator delegates the model to the task's role, with the key the fleet made at the task's creation.
    const role = 'federated-press-ae';
    const pub = JSON.parse(await readFile(join(data, 'federated', 'press-ae', `${role}.pub.json`), 'utf8')) as { keyval: { public: string }; keytype: string; scheme: string };
    const repo = new Repository(join(dir, 'repo'));
    await repo.delegate({ role, keys: [(await loadPublicKey(join(data, 'federated', 'press-ae', `${role}.pub.json`))).publicKey], paths: [modelPathPattern(MODEL)] });
    expect(pub.keytype).toBe('ed25519');
    await repo.sign('targets', keys.priv.targets);
    await repo.publish({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });

    for (const gw of gws) {
      await waitFor(() => gw.invitedTo('press-ae', 1), `${gw.id} invited`);
      await gw.send(gw.chunks({ task: 'press-ae', round: 1 }));
      await gw.ack('press-ae.1', 'complete');
    }
    const r1 = await waitFor(async () => {
      const r = await call('GET', '/v1/learning/tasks/press-ae/rounds/1');
      return r['outcome'] === 'open' || r['outcome'] === undefined ? undefined : r;
    }, 'round 1 closed', 30_000, 100);
    expect(r1, JSON.stringify(r1)).toMatchObject({ outcome: 'model', releaseError: null, released: { name: MODEL, release: 2, fetch: { target: `models/${MODEL}/2/model.onnx` } } });
    const releases = (await call('GET', `/v1/releases?model=${MODEL}`)) as { items: { release: number; signedBy: string }[] };
    expect(releases.items[0]).toMatchObject({ release: 2, signedBy: role });
    const rollout = await waitFor(async () => ((await call('GET', '/v1/rollouts')) as { items: { name: string; target: string; release: number }[] }).items.find((x) => x.name === 'learning press-ae round 1'), 'the rollout of round 1\'s model', 30_000, 100);
    expect(rollout).toMatchObject({ target: `models/${MODEL}/2/model.onnx`, release: 2 });
  });
});
