import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../models/onnx/builder.js';
import { decodeReleaseNotice, encodeState, encodeUpdateReport, gatewayTopics } from '../../../fleet/protocol/index.js';
import { FleetProcess } from '../../support/fleet-process.js';
import { fleetApi, useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { PostgresServer } from '../../support/postgres.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';

const N = 10;

/**
 * Two fleet instances on one PostgreSQL and one Mosquitto: the one holding the lease leads
 * (drives rollouts, reads the broker); kill it with -9 mid-rollout and the other takes over
 * within the lease (10 s) and finishes the rollout. The gateways here speak the protocol
 * over MQTT with their own logins: a notice in, update reports out.
 */
describe('two fleet instances', () => {
  const rig = useFleetTestRig();

  it('hand rollouts over when the leader dies, and no gateway is told twice', async () => {
    const pg = await PostgresServer.start();
    rig.onCleanup(() => pg.stop());
    const db = pg.createDatabase('fleet_takeover');
    const tuf = new TufRig(join(rig.dir.path, 'tuf'));
    await tuf.start();
    rig.onCleanup(() => tuf.stop());
    const d = join(rig.dir.path, 'in');
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/m.onnx`, buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [2] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] }));
    await writeFile(`${d}/gi.bin`, new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer));
    await writeFile(`${d}/go.bin`, new Uint8Array(Float32Array.of(2, 4, 6, 8).buffer));
    const target = await tuf.repo.addModel({ model: `${d}/m.onnx`, goldenInput: `${d}/gi.bin`, goldenOutput: `${d}/go.bin`, release: { model: 'press', release: 2, version: '1.2', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());

    // The broker's files (with the fleet's own login) straight from the database, before any fleet runs.
    const [dataA, dataB, files] = [join(rig.dir.path, 'a'), join(rig.dir.path, 'b'), join(rig.dir.path, 'mosquitto')];
    const acl = await runCli(['fleet', 'acl', '--data', dataA, '--db', db, '--out', files], 60_000);
    expect(acl.code, acl.stderr).toBe(0);
    await mkdir(dataB, { recursive: true });
    await copyFile(join(dataA, 'fleet-mqtt-password'), join(dataB, 'fleet-mqtt-password'));
    const mosquitto = await Mosquitto.create(rig.dir.path, { anonymous: false, perListenerSettings: true, passwordFile: join(files, 'passwd'), aclFile: join(files, 'acl'), listener: ['use_username_as_clientid true'], persistence: true });
    rig.onCleanup(() => mosquitto.stop());

    const args = ['--db', db, '--broker', mosquitto.url, '--repo', `${tuf.dir}/repo`, '--repo-url', tuf.url];
    const a = await FleetProcess.start(dataA, undefined, args);
    rig.onCleanup(() => a.fleet.kill('SIGKILL'));
    const b = await FleetProcess.start(dataB, undefined, args);
    rig.onCleanup(() => b.fleet.kill('SIGKILL'));
    const apiA = await fleetApi(a.endpoints.localApiUrl, dataA);
    const apiB = await fleetApi(b.endpoints.localApiUrl, dataB);
    const leads = async (api: typeof apiA): Promise<boolean> => !String(((await api('/health'))['broker'] as { detail: string }).detail).includes('another fleet instance leads');
    await waitFor(async () => (await leads(apiA)) !== (await leads(apiB)), 'exactly one leader', 30_000, 200);

    // Gateways, provisioned through either instance (one database), then allowed in by Mosquitto.
    const passwords: string[] = [];
    for (let i = 0; i < N; i += 1) {
      const p = await runCli(['fleet', 'provision', '--data', dataB, '--db', db, '--id', `gw-${i}`, '--out', join(rig.dir.path, `gw-${i}`)]);
      expect(p.code, p.stderr).toBe(0);
      passwords.push((await import('node:fs/promises').then((f) => f.readFile(join(rig.dir.path, `gw-${i}`, 'mqtt-password'), 'utf8'))).trim());
    }
    expect((await runCli(['fleet', 'acl', '--data', dataB, '--db', db, '--out', files])).code).toBe(0);
    await mosquitto.reload();

    const notices = new Map<string, number>();
    const clients: MqttClient[] = [];
    rig.onCleanup(async () => Promise.all(clients.map((c) => c.endAsync().catch(() => undefined))));
    for (let i = 0; i < N; i += 1) {
      const gw = `gw-${i}`;
      const c = await waitFor(() => mqtt.connectAsync(mosquitto.url, { clientId: `edgewise-${gw}`, username: gw, password: passwords[i], protocolVersion: 4, reconnectPeriod: 500 }).catch(() => undefined), `${gw} accepted`, 10_000, 100);
      clients.push(c);
      c.on('message', (_topic, payload) => {
        const t = decodeReleaseNotice(payload).target;
        notices.set(gw, (notices.get(gw) ?? 0) + 1);
        // An update takes a few seconds: the leader dies while the second wave is installing,
        // and the survivor gets these reports from the session Mosquitto kept for the fleet.
        setTimeout(() => {
          for (const step of ['download', 'install', 'health', 'activate'] as const) {
            void c.publishAsync(gatewayTopics.updateReport(gw), Buffer.from(encodeUpdateReport({ gw, model: 'press', target: t, release: 2, version: '1.2', step, outcome: 'ok', reason: null, ts: Date.now() })), { qos: 1 });
          }
        }, 3000);
      });
      await c.subscribeAsync(gatewayTopics.releaseNotice(gw), { qos: 1 });
      await c.publishAsync(gatewayTopics.state(gw), Buffer.from(encodeState({ gw, state: 'online', ts: Date.now(), clean: true, runtimeVersion: '0.1.0' })), { qos: 1, retain: true });
    }
    await waitFor(async () => ((await apiB('/v1/gateway-counts'))['online'] as number) === N, 'every gateway online in the registry', 30_000, 200);

    const res = await fetch(`${b.endpoints.localApiUrl}/v1/rollouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(await import('node:fs/promises').then((f) => f.readFile(join(dataB, 'operator-token'), 'utf8'))).trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }], ratePerMinute: 24, gatewayTimeoutMs: 20_000, gates: { maxTimeoutShare: 0.5 } }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const id = ((await res.json()) as { rollout: { id: string } }).rollout.id;
    await waitFor(async () => ((await apiB(`/v1/rollouts/${id}`))['rollout'] as { currentWave: number }).currentWave === 1, 'the canary passed', 60_000, 200);
    await waitFor(() => notices.size > 2, 'the second wave told', 20_000, 50);

    const leader = (await leads(apiA)) ? a : b;
    const survivor = leader === a ? b : a;
    const survivorApi = leader === a ? apiB : apiA;
    await leader.fleet.kill('SIGKILL');
    // The lease is 10 s and the survivor looks every second: it leads about 11 s after the kill.
    // The wait allows three leases (a loaded machine polls /health slowly); a survivor that never
    // takes over, or waits for something other than the lease to run out, fails here.
    await waitFor(() => leads(survivorApi), 'the survivor to lead once the dead leader\'s 10 s lease ran out', 30_000, 200);
    await waitFor(async () => ((await survivorApi(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state === 'completed', 'the survivor to finish the rollout', 120_000, 500);
    expect(survivor.fleet.child.exitCode).toBeNull();
    // No gateway heard of the release twice; a notice lost in the crash shows as a timeout, not a repeat.
    expect([...notices.values()].every((n) => n === 1)).toBe(true);
    const status = (await survivorApi(`/v1/rollouts/${id}`)) as { waves: { active: number; timedOut: number }[] };
    expect(status.waves.reduce((n, w) => n + w.active + w.timedOut, 0)).toBe(N);
    expect(status.waves.reduce((n, w) => n + w.active, 0)).toBe(notices.size);
  }, 240_000);
});
