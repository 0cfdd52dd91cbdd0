import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildModel } from '../../../models/onnx/builder.js';
import { FLEET_RELEASE_TOPIC, encodeReleaseNotice, gatewayTopics } from '../../../fleet/protocol/index.js';
import { FLEET_USERNAME } from '../../../fleet/registry/registry.js';
import type { FleetEndpoints } from '../../../fleet/service/fleet-service.js';
import type { Gateway } from '../../../runtime/gateway.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';
import { createRollout, rolloutState, startFleetAndGateways } from './e2e-rig.js';

const GOLDEN = Float32Array.of(1, 2, 3, 4);
const N = 8;

type Step = { step: string; target: string; outcome: string };

/**
 * Test 1 of rollout-e2e.test.ts, with Debian's Mosquitto in place of the embedded broker:
 * Mosquitto runs on the password and ACL files `edgewise fleet acl --format mosquitto`
 * writes from the registry, the fleet reads and publishes through it with its own login
 * (`--broker`), and the gateways (the real updater, in this process) log in with the
 * credentials `fleet provision` gave them.
 */
describe('rollouts through Mosquitto', () => {
  const rig = useFleetTestRig();
  let tuf: TufRig;
  const gateways: Gateway[] = [];
  const clients: MqttClient[] = [];

  beforeEach(async () => {
    tuf = new TufRig(join(rig.dir.path, 'tuf'));
    await tuf.start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    for (const g of gateways.splice(0)) await g.stop().catch(() => undefined);
    await tuf.stop();
  });

  /** Release 2 of model `press` (output = input x 2), signed and published. */
  async function publishRelease(): Promise<string> {
    const d = join(rig.dir.path, 'in');
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/m.onnx`, buildModel({ name: 's', inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }], initializers: [{ name: 'f', dims: [1], data: [2] }], nodes: [{ op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] }] }));
    await writeFile(`${d}/gi.bin`, new Uint8Array(GOLDEN.buffer));
    await writeFile(`${d}/go.bin`, new Uint8Array(GOLDEN.map((v) => v * 2).buffer));
    const path = await tuf.repo.addModel({ model: `${d}/m.onnx`, goldenInput: `${d}/gi.bin`, goldenOutput: `${d}/go.bin`, release: { model: 'press', release: 2, version: '1.2', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.0.1', golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' }, budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: 0 } } });
    await tuf.repo.sign('targets', tuf.keys.priv.targets);
    await tuf.repo.publish(tuf.online());
    return path;
  }

  /** A client of the test's own, ended after the test. */
  async function connect(url: string, username: string, password: string, clientId: string): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url, { clientId, username, password, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  it('takes a release to 100% in three waves with the generated ACL; every gateway reports it active, each told once', async () => {
    const target = await publishRelease();
    const files = join(rig.dir.path, 'mosquitto');
    let mosquitto: Mosquitto | undefined;
    const broker = (): Mosquitto => mosquitto as Mosquitto;
    const password = async (id: string): Promise<string> => (await readFile(join(rig.dir.path, id, 'mqtt-password'), 'utf8')).trim();

    const { data, api, fleet } = await startFleetAndGateways(rig, tuf, N, gateways, undefined, {
      // Before the fleet ever ran: the files (with the fleet's own login) come straight from the database.
      beforeFleet: async (dataDir) => {
        const acl = await runCli(['fleet', 'acl', '--data', dataDir, '--format', 'mosquitto', '--out', files], 60_000);
        expect(acl.code, acl.stderr).toBe(0);
        const m = await Mosquitto.create(rig.dir.path, { anonymous: false, perListenerSettings: true, passwordFile: join(files, 'passwd'), aclFile: join(files, 'acl'), listener: ['use_username_as_clientid true'] });
        mosquitto = m;
        rig.onCleanup(() => m.stop());
        return ['--broker', m.url];
      },
      // Provisioned through the running fleet: regenerate the files, SIGHUP, and wait until Mosquitto takes the new logins.
      beforeGateways: async (dataDir, ids) => {
        expect(await readFile(join(rig.dir.path, 'gw-0', 'gateway.yaml'), 'utf8')).toContain(`url: ${broker().url}`);
        const acl = await runCli(['fleet', 'acl', '--data', dataDir, '--format', 'mosquitto', '--out', files]);
        expect(acl.code, acl.stderr).toBe(0);
        const passwd = await readFile(join(files, 'passwd'), 'utf8');
        for (const id of ids) expect(passwd).toMatch(new RegExp(`^${id}:\\$7\\$`, 'm'));
        broker().reload();
        const last = ids[ids.length - 1] as string;
        const pw = await password(last);
        const accepted = await waitFor(() => mqtt.connectAsync(broker().url, { clientId: `edgewise-${last}`, username: last, password: pw, protocolVersion: 4, reconnectPeriod: 0 }).catch(() => undefined), `${last} accepted by Mosquitto after the reload`, 10_000, 100);
        await accepted.endAsync(true);
      },
    });
    const m = broker();
    // No embedded broker: everything went through Mosquitto.
    const endpoints = JSON.parse(await readFile(join(data, 'fleet.json'), 'utf8')) as FleetEndpoints;
    expect(endpoints.brokerUrl).toBe(m.url);
    expect(fleet.output).toContain('(external)');

    const id = await createRollout(data, ['--target', target, '--wave', '1', '--wave', '50%', '--wave', '100%']);
    await waitFor(async () => (await rolloutState(api, id)) === 'completed', 'the rollout to complete', 90_000, 200);
    const status = await runCli(['fleet', 'rollout', 'status', '--data', data, id]);
    expect(status.stdout).toContain('completed');
    expect(status.stdout).toMatch(/wave 3: \d+ gateways: \d+ active, 0 failed/);
    await waitFor(async () => ((await api('/v1/gateways?model=press&release=2'))['items'] as unknown[]).length === N, 'every gateway reporting release 2 active in its health', 20_000, 200);
    for (const g of gateways) expect(g.health().releases?.['press']?.active?.release).toBe(2);

    // Told exactly once. The fleet published N notices in all, and each gateway's update
    // reports show one attempt: a second notice would show as a second refresh and a refused
    // check (release 2 is no longer newer than the active one).
    const metrics = await (await fetch(`${endpoints.localApiUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^edgewise_fleet_messages_out_total\\{kind="release"\\} ${N}$`, 'm'));
    const stepsOf = async (gw: string): Promise<Step[]> => ((await api(`/v1/gateways/${gw}`))['updateSteps'] as Step[]).filter((s) => s.target === target);
    await waitFor(async () => (await Promise.all(gateways.map((_, i) => stepsOf(`gw-${i}`)))).every((s) => s.some((x) => x.step === 'activate' && x.outcome === 'ok')), 'every activation reported', 20_000, 200);
    for (let i = 0; i < N; i += 1) {
      const steps = await stepsOf(`gw-${i}`);
      expect(steps.filter((s) => s.step === 'refresh'), `gw-${i}: ${JSON.stringify(steps)}`).toHaveLength(1);
      expect(steps.filter((s) => s.step === 'download'), `gw-${i}`).toHaveLength(1);
      expect(steps.filter((s) => s.outcome !== 'ok'), `gw-${i}`).toEqual([]);
    }

    // The ACL is Mosquitto's to enforce. Probed with the fleet's login and a gateway's, after
    // the fleet and the gateways stopped: Mosquitto (use_username_as_clientid) gives a session
    // per login, so a second client as `edgewise-fleet` or `gw-0` would take over theirs.
    for (const g of gateways.splice(0)) await g.stop();
    await fleet.kill('SIGTERM');
    const fleetPassword = (await readFile(join(data, 'fleet-mqtt-password'), 'utf8')).trim();
    const observer = await connect(m.url, FLEET_USERNAME, fleetPassword, 'acl-observer');
    const seen: { topic: string; payload: string }[] = [];
    observer.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString('latin1') }));
    await observer.subscribeAsync(['edgewise/v1/gw/+/release', FLEET_RELEASE_TOPIC, gatewayTopics.updateReport('gw-0')], { qos: 1 });
    const intruder = await connect(m.url, 'gw-0', await password('gw-0'), 'edgewise-gw-0');

    // gw-0 may not tell gw-1 (or the whole fleet) to install anything: Mosquitto acknowledges and drops it.
    const notice = Buffer.from(encodeReleaseNotice({ target }));
    await intruder.publishAsync(gatewayTopics.releaseNotice('gw-1'), notice, { qos: 1 });
    await intruder.publishAsync(FLEET_RELEASE_TOPIC, notice, { qos: 1 });
    // The positive control, after them on the same connection: what gw-0 may publish arrives.
    const control = `control-${randomBytes(4).toString('hex')}`;
    await intruder.publishAsync(gatewayTopics.updateReport('gw-0'), Buffer.from(control), { qos: 1 });
    await waitFor(() => seen.some((s) => s.payload === control), 'the control message from gw-0', 10_000, 20);
    expect(seen.filter((s) => s.topic !== gatewayTopics.updateReport('gw-0'))).toEqual([]);

    // Nor may gw-0 read gw-1's notices, though Mosquitto grants the subscription; fleet-wide ones it reads.
    const overheard: string[] = [];
    intruder.on('message', (topic) => overheard.push(topic));
    await intruder.subscribeAsync([gatewayTopics.releaseNotice('gw-1'), FLEET_RELEASE_TOPIC], { qos: 1 });
    await observer.publishAsync(gatewayTopics.releaseNotice('gw-1'), notice, { qos: 1 });
    await observer.publishAsync(FLEET_RELEASE_TOPIC, notice, { qos: 1 });
    await waitFor(() => overheard.includes(FLEET_RELEASE_TOPIC), 'the fleet-wide notice at gw-0', 10_000, 20);
    expect(overheard).toEqual([FLEET_RELEASE_TOPIC]);
    expect(m.log).not.toMatch(/error/i);
  }, 180_000);
});
