import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRecord, encodeState, gatewayTopics } from '../../../fleet/protocol/index.js';
import { FleetProcess } from '../../support/fleet-process.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { runCli } from '../../support/gateway-process.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { fleetApi, testAlert, useFleetTestRig } from '../../support/fleet-test-rig.js';
import { waitFor } from '../../support/wait-for.js';

describe('fleet with an external Mosquitto', () => {
  const rig = useFleetTestRig();

  it('runs on the files `fleet acl` writes: ingests what a provisioned gateway publishes, and a revoked one is shut out after a reload', async () => {
    const data = join(rig.dir.path, 'fleet');
    // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    const files = join(rig.dir.path, 'mosquitto');
    // Before the fleet ever ran: the files (with the fleet's own login) come straight from the database.
    const first = await runCli(['fleet', 'acl', '--data', data, '--format', 'mosquitto', '--out', files], 60_000);
    expect(first.code, first.stderr).toBe(0);
    const mosquitto = await Mosquitto.create(rig.dir.path, {
      anonymous: false,
      perListenerSettings: true,
      passwordFile: join(files, 'passwd'),
      aclFile: join(files, 'acl'),
      listener: ['use_username_as_clientid true'],
    });
    rig.onCleanup(() => mosquitto.stop());

    // Ports 0: the fleet binds what it gets and reports it in fleet.json.
    const { fleet, endpoints } = await FleetProcess.start(data, undefined, ['--broker', mosquitto.url]);
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    const api = await fleetApi(endpoints.localApiUrl, data);
    await waitFor(async () => ((await api('/health'))['broker'] as { ok: boolean }).ok, 'the fleet connected to Mosquitto', 20_000, 100);

    const out = join(rig.dir.path, 'gw-1');
    const p = await runCli(['fleet', 'provision', '--data', data, '--id', 'gw-1', '--out', out]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`url: ${mosquitto.url}`);
    const password = (await readFile(join(out, 'mqtt-password'), 'utf8')).trim();
    // The running fleet hands `acl` the registry through its API; Mosquitto reloads on SIGHUP.
    const again = await runCli(['fleet', 'acl', '--data', data, '--out', files]);
    expect(again.code, again.stderr).toBe(0);
    await mosquitto.reload();

    const gw = await waitFor(
      () => mqtt.connectAsync(mosquitto.url, { clientId: 'edgewise-gw-1', username: 'gw-1', password, protocolVersion: 4, reconnectPeriod: 0 }).catch(() => undefined),
      'gw-1 accepted by Mosquitto after the reload',
      10_000,
      100,
    );
    await gw.publishAsync(gatewayTopics.state('gw-1'), Buffer.from(encodeState({ gw: 'gw-1', state: 'online', ts: Date.now(), clean: true, runtimeVersion: '0.1.0' })), { qos: 1, retain: true });
    await gw.publishAsync(gatewayTopics.records('gw-1'), Buffer.from(encodeBatch('gw-1', Date.now(), [testAlert('a.1.0'), testAlert('a.1.1')].map(encodeRecord))), { qos: 1 });
    await waitFor(async () => ((await api('/v1/events?gateway=gw-1')) ['items'] as unknown[]).length === 2, 'the alerts in the fleet database', 20_000, 100);
    await waitFor(async () => (await api('/v1/gateways/gw-1'))['status'] === 'online', 'gw-1 online in the registry', 20_000, 100);

    const r = await runCli(['fleet', 'revoke', '--data', data, 'gw-1']);
    expect(r.code, r.stderr).toBe(0);
    expect((await runCli(['fleet', 'acl', '--data', data, '--out', files])).code).toBe(0);
    await mosquitto.reload();
    await waitFor(() => !gw.connected, 'Mosquitto to drop the revoked gateway', 10_000, 50);
    const refused = await mqtt.connectAsync(mosquitto.url, { clientId: 'edgewise-gw-1', username: 'gw-1', password, protocolVersion: 4, reconnectPeriod: 0 }).catch((err: unknown) => err as Error);
    expect(refused).toBeInstanceOf(Error);
    gw.end(true);
  }, 180_000); // a fleet, mosquitto, provisioning and a gateway: over 60 s on a loaded 2-core box
});
