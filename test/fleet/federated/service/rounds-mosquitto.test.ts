import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSecAggMessage } from '../../../../fleet/protocol/federated/index.js';
import { learningTopics } from '../../../../fleet/protocol/topics.js';
import { FleetProcess } from '../../../support/fleet-process.js';
import { seedFleetDatabase } from '../../../support/pglite-template.js';
import { useFleetTestRig } from '../../../support/fleet-test-rig.js';
import { runCli } from '../../../support/gateway-process.js';
import { Mosquitto } from '../../../support/mosquitto.js';
import { PostgresServer } from '../../../support/postgres.js';
import { waitFor } from '../../../support/wait-for.js';
import { INITIAL_LAYOUT, ScriptedGateway, repositoryWithRelease, taskBody } from './round-service-rig.js';
import { SecureScript } from './secure-script.js';

type Call = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<Record<string, unknown>>;

async function apiOf(apiUrl: string, dataDir: string): Promise<Call> {
  const token = (await readFile(join(dataDir, 'operator-token'), 'utf8')).trim();
  return async (method, path, body) => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return (await res.json()) as Record<string, unknown>;
  };
}

/** The round's record once it closed (its outcome no longer `open`). */
async function closedRound(call: Call, round: number, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const r = await call('GET', `/v1/learning/tasks/press-ae/rounds/${round}`);
    return r['outcome'] === 'open' || r['outcome'] === undefined ? undefined : r;
  }, `round ${round} closed`, timeoutMs, 100);
}

async function metric(apiUrl: string, series: string): Promise<number> {
  const line = (await (await fetch(`${apiUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const ACCEPTED = 'edgewise_fleet_learning_updates_total{outcome="accepted",reason=""}';

/**
 * Federated rounds with Debian's Mosquitto in place of the embedded broker: the fleet (`--broker`)
 * reads the gateways' update chunks through its own session and publishes announcements,
 * invitations and chunk acks through it; Mosquitto runs on the password and ACL files
 * `edgewise fleet acl` writes, and the gateways (scripted, with the protocol's codecs) log in
 * with their own credentials. Only the instance holding the lease runs rounds.
 */
describe('federated rounds through Mosquitto', () => {
  const rig = useFleetTestRig();

  /** Regenerates Mosquitto's files from the database, reloads it, and connects each gateway once Mosquitto takes its login. */
  async function connectGateways(m: Mosquitto, aclArgs: readonly string[], passwords: Map<string, string>): Promise<ScriptedGateway[]> {
    const acl = await runCli(['fleet', 'acl', ...aclArgs]);
    expect(acl.code, acl.stderr).toBe(0);
    m.reload();
    const gws: ScriptedGateway[] = [];
    for (const [id, password] of passwords) {
      const gw = new ScriptedGateway(id, password, m.url, INITIAL_LAYOUT);
      await waitFor(() => gw.connect().then(() => true, () => undefined), `${id} accepted by Mosquitto after the reload`, 10_000, 100);
      rig.onCleanup(() => gw.close());
      gws.push(gw);
    }
    return gws;
  }

  /** Mosquitto on the files `fleet acl` writes before the fleet ever ran (with the fleet's own login, straight from the database), and one fleet process using it. */
  async function fleetOnMosquitto(): Promise<{ dir: string; data: string; files: string; m: Mosquitto; apiUrl: string; call: Call }> {
    const dir = rig.dir.path;
    await repositoryWithRelease(dir);
    const data = join(dir, 'fleet');
    // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    const files = join(dir, 'mosquitto');
    const acl = await runCli(['fleet', 'acl', '--data', data, '--format', 'mosquitto', '--out', files], 60_000);
    expect(acl.code, acl.stderr).toBe(0);
    const m = await Mosquitto.create(dir, { anonymous: false, perListenerSettings: true, passwordFile: join(files, 'passwd'), aclFile: join(files, 'acl'), listener: ['use_username_as_clientid true'] });
    rig.onCleanup(() => m.stop());
    const { fleet, endpoints } = await FleetProcess.start(data, undefined, ['--broker', m.url, '--repo', join(dir, 'repo')]);
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    expect(endpoints.brokerUrl).toBe(m.url);
    return { dir, data, files, m, apiUrl: endpoints.localApiUrl, call: await apiOf(endpoints.localApiUrl, data) };
  }

  it('runs a round: chunks in through the leader\'s session, acks and invitations out; a gateway cannot send an update as another', async () => {
    const { data, files, m, apiUrl, call } = await fleetOnMosquitto();
    const passwords = new Map<string, string>();
    for (const id of ['gw-0', 'gw-1']) passwords.set(id, ((await call('POST', '/v1/gateways', { id, labels: { line: 'press' } })) as { credentials: { password: string } }).credentials.password);
    const [gw0, gw1] = (await connectGateways(m, ['--data', data, '--format', 'mosquitto', '--out', files], passwords)) as [ScriptedGateway, ScriptedGateway];

    expect(await call('POST', '/v1/learning/tasks', taskBody({ minClients: 2 }, { rounds: 1 }))).toMatchObject({ id: 'press-ae', state: 'active' });
    for (const gw of [gw0, gw1]) await waitFor(() => gw.invitedTo('press-ae', 1), `${gw.id} invited`);
    expect(gw0.announcements.at(-1)).toMatchObject({ task: 'press-ae', round: 1 });

    // gw-1 sends an update on gw-0's topic: Mosquitto acknowledges and drops it. Then its own,
    // on the same connection: it arrives, and the impostor (sent before it) would have too.
    for (const c of gw1.chunks({ task: 'press-ae', round: 1, updateId: 'impostor', value: 0.5 })) await gw1.client.publishAsync(learningTopics.update('gw-0'), Buffer.from(c), { qos: 1 });
    await gw1.send(gw1.chunks({ task: 'press-ae', round: 1 }));
    await gw1.ack('press-ae.1', 'complete');
    expect(await metric(apiUrl, ACCEPTED)).toBe(1);
    expect(gw0.acks).toEqual([]);
    expect((await call('GET', '/v1/learning/tasks/press-ae/rounds/1'))['outcome']).toBe('open');

    await gw0.send(gw0.chunks({ task: 'press-ae', round: 1 }));
    await gw0.ack('press-ae.1', 'complete');
    const r1 = await closedRound(call, 1);
    expect(r1).toMatchObject({ outcome: 'model', participants: 2, record: { participants: ['gw-0', 'gw-1'] } });
    // No signer here: the model is made and not released, and the record says why.
    expect(String(r1['releaseError'])).toMatch(/no signer for federated global models/);
    expect(await metric(apiUrl, ACCEPTED)).toBe(2);
    expect(await metric(apiUrl, 'edgewise_fleet_messages_in_total{kind="learning-update"}')).toBeGreaterThanOrEqual(2 * gw0.chunks({ task: 'press-ae', round: 1 }).length);
    // The task's one round done: the retained announcement is cleared.
    await waitFor(async () => (await call('GET', '/v1/learning/tasks/press-ae'))['state'] === 'finished', 'the task finished');
    await waitFor(() => gw0.announcements.at(-1) === null, 'the announcement cleared');
  }, 120_000);

  it('runs a secure-aggregation round: the gateways\' protocol messages in through the leader\'s session, the relay out; one sent on another gateway\'s topic never arrives', async () => {
    const { data, files, m, apiUrl, call } = await fleetOnMosquitto();
    const passwords = new Map<string, string>();
    for (const id of ['gw-0', 'gw-1', 'gw-2']) passwords.set(id, ((await call('POST', '/v1/gateways', { id, labels: { line: 'press' } })) as { credentials: { password: string } }).credentials.password);
    const gws = await connectGateways(m, ['--data', data, '--format', 'mosquitto', '--out', files], passwords);
    expect(await call('POST', '/v1/learning/tasks', taskBody({ minClients: 3, secureAggregation: true }, { rounds: 1 }))).toMatchObject({ id: 'press-ae', state: 'active' });
    const scripts = gws.map((gw, i) => new SecureScript(gw, 'press-ae', 1, Float64Array.from({ length: 6824 }, (_, j) => ((i + 1) * ((j % 7) - 3)) / 4000)));
    // gw-1 speaks for gw-0 on gw-0's topic: Mosquitto acknowledges and drops it, so the round never counts it.
    await waitFor(() => gws[1]?.relay.find((x) => x.step === 'round-params'), 'round params');
    const forged = encodeSecAggMessage({ task: 'press-ae', round: 1, step: 'advertise-keys', body: { round: 'press-ae:1', from: 'gw-0', maskPublicKey: new Uint8Array(32).fill(9), encryptionPublicKey: new Uint8Array(32).fill(7) } });
    await gws[1]?.client.publishAsync(learningTopics.secAgg('gw-0'), Buffer.from(forged), { qos: 1 });
    await Promise.all(scripts.map((s) => s.run()));
    const r1 = await closedRound(call, 1);
    expect(r1).toMatchObject({ outcome: 'model', participants: 3, record: { participants: ['gw-0', 'gw-1', 'gw-2'], closedBy: 'all-answered', secureAggregation: { advertised: 3, masked: 3, responded: 3, refusals: {} } } });
    expect(await metric(apiUrl, 'edgewise_fleet_messages_in_total{kind="learning-secagg"}')).toBe(12);
  }, 120_000);

  it('runs rounds on the leader only; a task made through the other instance runs, and when the leader dies the survivor abandons its round and opens the next', async () => {
    const dir = rig.dir.path;
    await repositoryWithRelease(dir);
    const pg = await PostgresServer.start();
    rig.onCleanup(() => pg.stop());
    const db = pg.createDatabase('fleet_rounds');
    const [dataA, dataB, files] = [join(dir, 'a'), join(dir, 'b'), join(dir, 'mosquitto')];
    const acl = await runCli(['fleet', 'acl', '--data', dataA, '--db', db, '--out', files], 60_000);
    expect(acl.code, acl.stderr).toBe(0);
    await mkdir(dataB, { recursive: true });
    await copyFile(join(dataA, 'fleet-mqtt-password'), join(dataB, 'fleet-mqtt-password'));
    const m = await Mosquitto.create(dir, { anonymous: false, perListenerSettings: true, passwordFile: join(files, 'passwd'), aclFile: join(files, 'acl'), listener: ['use_username_as_clientid true'], persistence: true });
    rig.onCleanup(() => m.stop());
    const args = ['--db', db, '--broker', m.url, '--repo', join(dir, 'repo')];
    const a = await FleetProcess.start(dataA, undefined, args);
    rig.onCleanup(() => a.fleet.kill('SIGKILL'));
    const b = await FleetProcess.start(dataB, undefined, args);
    rig.onCleanup(() => b.fleet.kill('SIGKILL'));
    const callA = await apiOf(a.endpoints.localApiUrl, dataA);
    const callB = await apiOf(b.endpoints.localApiUrl, dataB);
    const leads = async (call: Call): Promise<boolean> => !String(((await call('GET', '/health'))['broker'] as { detail: string }).detail).includes('another fleet instance leads');
    await waitFor(async () => (await leads(callA)) !== (await leads(callB)), 'exactly one leader', 30_000, 200);
    const [leader, follower, callLeader, callFollower] = (await leads(callA)) ? [a, b, callA, callB] : [b, a, callB, callA];

    const passwords = new Map<string, string>();
    for (const id of ['gw-0', 'gw-1']) passwords.set(id, ((await callFollower('POST', '/v1/gateways', { id, labels: { line: 'press' } })) as { credentials: { password: string } }).credentials.password);
    const gws = await connectGateways(m, ['--data', dataB, '--db', db, '--out', files], passwords);
    const [gw0, gw1] = gws as [ScriptedGateway, ScriptedGateway];

    // Made through the instance that does not lead: the leader finds it and runs it.
    expect(await callFollower('POST', '/v1/learning/tasks', taskBody({ minClients: 2 }, { rounds: 2 }))).toMatchObject({ id: 'press-ae', state: 'active' });
    for (const gw of gws) await waitFor(() => gw.invitedTo('press-ae', 1), `${gw.id} invited to round 1`, 30_000);
    // Half of round 1, then the leader dies with it open.
    await gw0.send(gw0.chunks({ task: 'press-ae', round: 1 }));
    await gw0.ack('press-ae.1', 'complete');
    expect(await metric(leader.endpoints.localApiUrl, ACCEPTED)).toBe(1);
    // One instance ran the round: one announcement and one invitation each, nothing of a round 2.
    expect((await callLeader('GET', '/v1/learning/tasks/press-ae/rounds?limit=10'))['items']).toHaveLength(1);
    for (const gw of gws) {
      expect(gw.invitations.map((i) => i.round)).toEqual([1]);
      expect(gw.announcements.filter((x) => x !== null).map((x) => x?.round)).toEqual([1]);
    }
    await leader.fleet.kill('SIGKILL');

    // The lease is 10 s: the survivor leads about 11 s later (the wait allows three leases).
    await waitFor(() => leads(callFollower), 'the survivor to lead once the dead leader\'s lease ran out', 30_000, 200);
    for (const gw of gws) await waitFor(() => gw.invitedTo('press-ae', 2), `${gw.id} invited to round 2 by the survivor`, 30_000);
    const r1 = await callFollower('GET', '/v1/learning/tasks/press-ae/rounds/1');
    expect(r1).toMatchObject({ outcome: 'abandoned' });
    expect(gw0.announcements.at(-1)).toMatchObject({ round: 2 });
    for (const gw of gws) {
      await gw.send(gw.chunks({ task: 'press-ae', round: 2 }));
      await gw.ack('press-ae.2', 'complete');
    }
    const r2 = await closedRound(callFollower, 2);
    expect(r2).toMatchObject({ outcome: 'model', participants: 2, record: { participants: ['gw-0', 'gw-1'] } });
    expect(await metric(follower.endpoints.localApiUrl, ACCEPTED)).toBe(2);
    await waitFor(async () => (await callFollower('GET', '/v1/learning/tasks/press-ae'))['state'] === 'finished', 'the task finished after its two rounds');
    expect(follower.fleet.child.exitCode).toBeNull();
  }, 240_000);
});
