import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll } from 'vitest';
import { writeMosquittoFiles } from '../../../fleet/broker/mosquitto-files.js';
import { generateSecret, mosquittoPasswordHash } from '../../../fleet/registry/credentials.js';
import { FLEET_USERNAME, Registry } from '../../../fleet/registry/registry.js';
import { useFleetDb } from '../../support/fleet-db.js';
import { Mosquitto } from '../../support/mosquitto.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { describeBrokerSecurity, type BrokerUnderTest, type TestGateway } from './broker-security-contract.js';
import { TestClients, type Received } from './mqtt-test-clients.js';

/**
 * The same cases against Debian's Mosquitto 2.0, configured only by the files that
 * `writeMosquittoFiles` generates from the registry (what `edgewise fleet acl --format
 * mosquitto` writes), reloaded with SIGHUP after every provision and revocation.
 */
const db = useFleetDb('pglite');

let registry: Registry;
let dir: { path: string; remove: () => Promise<void> } | undefined;
let mosquitto: Mosquitto | undefined;
let fleet: MqttClient;
let fleetPasswordMosquitto: string;
const seen: Received[] = [];
const probes = new TestClients();
const fleetPassword = generateSecret();

async function writeFiles(): Promise<{ passwordFile: string; aclFile: string }> {
  if (dir === undefined) throw new Error('no temp dir');
  return writeMosquittoFiles(dir.path, { gateways: await registry.store.mosquittoCredentials(), fleetPasswordMosquitto });
}

async function probe(url: string, g: TestGateway): Promise<number | string> {
  const outcome = await probes.connect(url, { username: g.id, password: g.password, clientId: `${g.clientId}-probe` });
  if (outcome.ok) {
    await outcome.client.endAsync();
    return 0;
  }
  return outcome.code;
}

beforeAll(async () => {
  registry = new Registry(db.sql);
  fleetPasswordMosquitto = await mosquittoPasswordHash(fleetPassword);
  dir = await makeTempDir();
  const files = await writeFiles();
  mosquitto = await Mosquitto.create(dir.path, { anonymous: false, perListenerSettings: true, passwordFile: files.passwordFile, aclFile: files.aclFile, listener: ['use_username_as_clientid true'] });
  fleet = await probes.connected(mosquitto.url, { username: FLEET_USERNAME, password: fleetPassword, clientId: 'fleet-observer' });
  fleet.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await fleet.subscribeAsync('edgewise/v1/#', { qos: 1 });
});
afterAll(async () => {
  await probes.closeAll();
  await mosquitto?.stop();
  await dir?.remove();
});

function broker(): Mosquitto {
  if (mosquitto === undefined) throw new Error('mosquitto did not start');
  return mosquitto;
}

async function sync(): Promise<void> {
  await writeFiles();
  broker().reload();
}

describeBrokerSecurity('Mosquitto 2.0 with generated files', (): BrokerUnderTest => ({
  url: broker().url,
  registry,
  seen,
  fleetPublish: async (topic, payload) => {
    await fleet.publishAsync(topic, payload, { qos: 1 });
  },
  sync: async (canConnect) => {
    await sync();
    // SIGHUP is handled in Mosquitto's loop, not at once: wait until the new users log in.
    for (const g of canConnect) await waitFor(async () => (await probe(broker().url, g)) === 0, `mosquitto accepting ${g.id} after SIGHUP (log: ${broker().log})`, 10_000);
  },
  revoke: async (g) => {
    await registry.revoke(g.id);
    await sync();
    await waitFor(async () => (await probe(broker().url, g)) === 5, `mosquitto refusing revoked ${g.id} after SIGHUP`, 10_000);
  },
  deniedPublish: 'acknowledged-and-discarded',
  deniedSubscribe: 'granted-delivers-nothing',
  bindsClientId: false,
}));
