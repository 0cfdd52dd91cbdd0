import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerAuth } from '../../../fleet/broker/broker-auth.js';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { FleetMetrics } from '../../../fleet/metrics.js';
import { FLEET_RELEASE_TOPIC, gatewayTopic } from '../../../fleet/protocol/index.js';
import { generateSecret, hashPassword } from '../../../fleet/registry/credentials.js';
import { FLEET_USERNAME, Registry, gatewayClientId } from '../../../fleet/registry/registry.js';
import { useFleetDb } from '../../support/fleet-db.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { makeTlsFiles } from '../../support/tls-files.js';
import { waitFor } from '../../support/wait-for.js';
import { describeBrokerSecurity, type BrokerUnderTest } from './broker-security-contract.js';
import { TestClients, subscribeCode, type Received } from './mqtt-test-clients.js';

const db = useFleetDb('pglite');

type PublishHook = (gatewayId: string, topic: string, payload: Buffer) => Promise<void>;
const passThrough: PublishHook = async () => {};

let registry: Registry;
let metrics: FleetMetrics;
let auth: BrokerAuth;
let broker: EmbeddedBroker;
let onPublish: PublishHook = passThrough;
const seen: Received[] = [];
const connectionChanges: string[] = [];
const fleetPassword = generateSecret();

beforeAll(async () => {
  registry = new Registry(db.sql);
  metrics = new FleetMetrics();
  auth = new BrokerAuth({
    credentials: (id) => registry.store.credentials(id),
    fleetPasswordScrypt: await hashPassword(fleetPassword),
    metrics,
    onGatewayPublish: (gw, topic, payload) => onPublish(gw, topic, payload),
    onConnectionChange: (gw, up) => connectionChanges.push(`${gw}:${up ? 'up' : 'down'}`),
  });
  broker = await EmbeddedBroker.create({ auth });
  // How the fleet wires revocation: the registry tells the broker to end the live session.
  registry.onRevoked((id) => void broker.dropClient(gatewayClientId(id)));
  await broker.subscribe('edgewise/v1/#', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
});
afterAll(async () => {
  await broker?.close();
});
afterEach(() => {
  onPublish = passThrough;
});

describeBrokerSecurity('embedded aedes broker', (): BrokerUnderTest => ({
  url: broker.url,
  registry,
  seen,
  fleetPublish: (topic, payload) => broker.publish(topic, payload, { qos: 1 }),
  sync: async () => {},
  revoke: async (g) => {
    await registry.revoke(g.id);
  },
  deniedPublish: 'disconnects',
  deniedSubscribe: 'suback-0x80',
  bindsClientId: true,
}));

async function provision(id: string): Promise<{ id: string; username: string; password: string; clientId: string }> {
  const r = await registry.provision({ id });
  return { id, username: r.username, password: r.password, clientId: r.clientId };
}

async function counter(c: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> }, label: string, value: string): Promise<number> {
  return (await c.get()).values.find((v) => v.labels[label] === value)?.value ?? 0;
}

describe('embedded broker security specifics', () => {
  const clients = new TestClients();
  afterEach(async () => {
    await clients.closeAll();
  });

  it('counts refused connections by reason, ACL refusals, messages by kind and connected gateways', async () => {
    const a = await provision('metrics-a');
    const r = await provision('metrics-r');
    await registry.revoke(r.id);
    const reasons = ['bad-credentials', 'unknown-gateway', 'revoked', 'bad-client-id'] as const;
    const before = Object.fromEntries(await Promise.all(reasons.map(async (x) => [x, await counter(metrics.rejectedConnections, 'reason', x)] as const)));
    const acl0 = { pub: await counter(metrics.rejectedMessages, 'reason', 'publish-denied'), sub: await counter(metrics.rejectedMessages, 'reason', 'subscribe-denied') };
    const records0 = await counter(metrics.messagesIn, 'kind', 'records');
    const health0 = await counter(metrics.messagesIn, 'kind', 'health');
    const gauge0 = (await metrics.connectedGateways.get()).values[0]?.value ?? 0;

    expect(await clients.connect(broker.url, { username: a.id, password: 'wrong', clientId: a.clientId })).toMatchObject({ ok: false, code: 5 });
    expect(await clients.connect(broker.url, { username: 'nobody', password: 'x', clientId: gatewayClientId('nobody') })).toMatchObject({ ok: false, code: 5 });
    expect(await clients.connect(broker.url, { username: r.id, password: r.password, clientId: r.clientId })).toMatchObject({ ok: false, code: 5 });
    expect(await clients.connect(broker.url, { username: a.id, password: a.password, clientId: 'someone-else' })).toMatchObject({ ok: false, code: 2 });
    for (const x of reasons) expect(await counter(metrics.rejectedConnections, 'reason', x), x).toBe((before[x] ?? 0) + 1);

    const client = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId });
    await waitFor(async () => ((await metrics.connectedGateways.get()).values[0]?.value ?? 0) === gauge0 + 1, 'the gauge counting A', 5_000);
    await client.publishAsync(gatewayTopic(a.id, 'records'), 'r', { qos: 1 });
    await client.publishAsync(gatewayTopic(a.id, 'health'), 'h', { qos: 1 });
    expect(await subscribeCode(client, '#')).toBe(0x80);
    client.publish(FLEET_RELEASE_TOPIC, 'nope', { qos: 1 });
    await waitFor(() => !client.connected, 'A dropped for publishing to the fleet tree', 5_000);
    await waitFor(async () => ((await metrics.connectedGateways.get()).values[0]?.value ?? 0) === gauge0, 'the gauge back down', 5_000);

    expect(await counter(metrics.rejectedMessages, 'reason', 'publish-denied')).toBe(acl0.pub + 1);
    expect(await counter(metrics.rejectedMessages, 'reason', 'subscribe-denied')).toBe(acl0.sub + 1);
    expect(await counter(metrics.messagesIn, 'kind', 'records')).toBe(records0 + 1);
    expect(await counter(metrics.messagesIn, 'kind', 'health')).toBe(health0 + 1);
    expect(connectionChanges.filter((c) => c.startsWith(`${a.id}:`))).toEqual([`${a.id}:up`, `${a.id}:down`]);
  });

  it('sends the PUBACK only after onGatewayPublish has resolved', async () => {
    const a = await provision('slow-hook');
    let release: () => void = () => {};
    let hookCalledAt = 0;
    let resolvedAt = 0;
    // The order of the two events, which timestamps in the same millisecond cannot show.
    const order: string[] = [];
    onPublish = (_gw, _topic, payload) => {
      if (payload.toString() !== 'slow') return Promise.resolve();
      hookCalledAt = Date.now();
      return new Promise<void>((resolve) => {
        release = () => {
          resolvedAt = Date.now();
          order.push('hook resolved');
          resolve();
        };
      });
    };
    const client = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId });
    let ackedAt = 0;
    const acked = client.publishAsync(gatewayTopic(a.id, 'records'), 'slow', { qos: 1 }).then(() => {
      ackedAt = Date.now();
      order.push('PUBACK');
    });
    await waitFor(() => hookCalledAt > 0, 'the hook to be called', 5_000);
    // The hook is the slow part here (a database commit): 300 ms before it answers.
    setTimeout(() => release(), 300);
    await acked;
    expect(resolvedAt).toBeGreaterThan(0);
    expect(order).toEqual(['hook resolved', 'PUBACK']);
    // A lower bound only (load makes it longer, never shorter): the PUBACK waited for the hook.
    expect(ackedAt - hookCalledAt).toBeGreaterThanOrEqual(290);
  });

  it('keeps PUBACKs in arrival order when the hook answers out of order', async () => {
    const a = await provision('ordered-acks');
    const pending = new Map<string, () => void>();
    onPublish = (_gw, _topic, payload) => new Promise<void>((resolve) => pending.set(payload.toString(), resolve));
    const client = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId });
    const order: string[] = [];
    const all = ['m1', 'm2', 'm3'].map((m) => client.publishAsync(gatewayTopic(a.id, 'records'), m, { qos: 1 }).then(() => order.push(m)));
    await waitFor(() => pending.size === 3, 'three hook calls', 5_000);
    pending.get('m3')?.();
    pending.get('m2')?.();
    pending.get('m1')?.();
    await Promise.all(all);
    expect(order).toEqual(['m1', 'm2', 'm3']);
  });

  it('gives no PUBACK when onGatewayPublish rejects; the gateway reconnects, resends, and the fleet gets it once', async () => {
    const a = await provision('failing-hook');
    const calls: string[] = [];
    onPublish = async (_gw, _topic, payload) => {
      calls.push(payload.toString());
      if (calls.length === 1) throw new Error('database unavailable');
    };
    const client = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId, reconnectPeriod: 100 });
    let closes = 0;
    client.on('close', () => (closes += 1));
    await client.publishAsync(gatewayTopic(a.id, 'records'), 'must-arrive', { qos: 1 });
    expect(closes).toBeGreaterThanOrEqual(1);
    expect(calls).toEqual(['must-arrive', 'must-arrive']);
    await waitFor(() => seen.some((m) => m.payload === 'must-arrive'), 'the fleet receiving the resent message', 5_000);
    expect(seen.filter((m) => m.payload === 'must-arrive')).toHaveLength(1);
  });

  it('publishes a gateway\'s own Last Will through the hook, but not one aimed elsewhere, nor one after dropClient', async () => {
    const a = await provision('will-own');
    const b = await provision('will-other');
    const hooked: string[] = [];
    onPublish = async (_gw, topic, payload) => {
      hooked.push(`${topic}=${payload.toString()}`);
    };
    const will = (topic: string, payload: string) => ({ will: { topic, payload: Buffer.from(payload), qos: 1 as const, retain: false } });

    const own = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId, ...will(gatewayTopic(a.id, 'state'), 'a-offline') });
    own.stream.destroy();
    await waitFor(() => seen.some((m) => m.payload === 'a-offline'), 'A\'s Will at the fleet', 5_000);
    expect(hooked).toContain(`${gatewayTopic(a.id, 'state')}=a-offline`);

    const denied0 = await counter(metrics.rejectedMessages, 'reason', 'publish-denied');
    const aimed = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId, ...will(gatewayTopic(b.id, 'state'), 'b-forged') });
    aimed.stream.destroy();
    await waitFor(async () => (await counter(metrics.rejectedMessages, 'reason', 'publish-denied')) === denied0 + 1, 'the forged Will refused', 5_000);

    const dropped = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId, ...will(gatewayTopic(a.id, 'state'), 'a-dropped') });
    expect(await broker.dropClient(a.clientId)).toBe(true);
    await waitFor(() => !dropped.connected, 'A dropped', 5_000);
    // A marker published after the drop: had the Will gone out, it would be there first.
    await broker.publish(gatewayTopic(a.id, 'release'), 'after-drop', { qos: 1 });
    await waitFor(() => seen.some((m) => m.payload === 'after-drop'), 'the marker', 5_000);
    expect(seen.map((m) => m.payload)).not.toContain('b-forged');
    expect(seen.map((m) => m.payload)).not.toContain('a-dropped');
    expect(await broker.dropClient('not-connected')).toBe(false);
  });

  it('lets the fleet principal read and write under edgewise/v1/ only, with its own password', async () => {
    const a = await provision('fleet-target');
    expect(await clients.connect(broker.url, { username: FLEET_USERNAME, password: 'wrong', clientId: 'fleet-1' })).toMatchObject({ ok: false, code: 5 });
    // Not under a gateway's client id: that would take the gateway's session over.
    expect(await clients.connect(broker.url, { username: FLEET_USERNAME, password: fleetPassword, clientId: a.clientId })).toMatchObject({ ok: false, code: 2 });
    const fleet = await clients.connected(broker.url, { username: FLEET_USERNAME, password: fleetPassword, clientId: 'fleet-1' });
    expect(await subscribeCode(fleet, 'edgewise/v1/#')).toBe(1);
    expect(await subscribeCode(fleet, '#')).toBe(0x80);
    expect(await subscribeCode(fleet, '$SYS/#')).toBe(0x80);
    const gw = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId });
    await gw.subscribeAsync(gatewayTopic(a.id, 'release'), { qos: 1 });
    await fleet.publishAsync(gatewayTopic(a.id, 'release'), 'from-fleet-client', { qos: 1 });
    await waitFor(() => clients.messages(gw).some((m) => m.payload === 'from-fleet-client'), 'the gateway receiving the fleet\'s command', 5_000);
    await gw.publishAsync(gatewayTopic(a.id, 'records'), 'to-fleet-client', { qos: 1 });
    await waitFor(() => clients.messages(fleet).some((m) => m.payload === 'to-fleet-client'), 'the fleet client receiving records', 5_000);
  });

  it('closes a connection that sends more than 64 KiB before its CONNECT is accepted', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: broker.listeningPort }, () => {
        // A CONNECT announcing 256 MB, then bytes: aedes would buffer them all.
        s.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
        const chunk = Buffer.alloc(16_384, 0x41);
        for (let i = 0; i < 8; i += 1) s.write(chunk);
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
    });
    expect(closed).toBe(true);
    const a = await provision('after-flood');
    expect((await clients.connect(broker.url, { username: a.id, password: a.password, clientId: a.clientId })).ok).toBe(true);
  });

  it('survives garbage bytes, a bad protocol version and a broken socket without crashing', async () => {
    const a = await provision('after-garbage');
    const port = broker.listeningPort;
    const raw = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port }, () => s.end(bytes));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    await raw(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await raw(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]));
    // CONNECT with protocol level 9.
    await raw(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x09, 0x02, 0x00, 0x3c, 0x00, 0x00]));
    const half = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => half.once('connect', () => resolve()));
    half.write(Buffer.from([0x10, 0x20, 0x00]));
    half.destroy();
    const client = await clients.connected(broker.url, { username: a.id, password: a.password, clientId: a.clientId });
    await client.publishAsync(gatewayTopic(a.id, 'records'), 'still-up', { qos: 1 });
    await waitFor(() => seen.some((m) => m.payload === 'still-up'), 'a message after the garbage', 5_000);
  });

  it('serves gateways over TLS beside TCP, requiring a client certificate when given a CA', async () => {
    const a = await provision('tls-gw');
    const dir = await makeTempDir();
    let tlsBroker: EmbeddedBroker | undefined;
    try {
      const files = makeTlsFiles(dir.path);
      tlsBroker = await EmbeddedBroker.create({ auth, tls: { key: readFileSync(files.serverKey), cert: readFileSync(files.serverCert), ca: readFileSync(files.ca) } });
      expect(tlsBroker.listening).toBe(true);
      const url = tlsBroker.tlsUrl as string;
      expect(url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
      const login = { username: a.id, password: a.password, clientId: a.clientId, ca: readFileSync(files.ca) };
      const client = await clients.connected(url, { ...login, cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) });
      expect(client.connected).toBe(true);
      await client.endAsync();
      expect((await clients.connect(url, login)).ok).toBe(false);
      expect((await clients.connect(url, { ...login, ca: readFileSync(files.otherCa), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) })).ok).toBe(false);
      expect(await clients.connect(url, { ...login, password: 'wrong', cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) })).toMatchObject({ ok: false, code: 5 });
      // The plain listener is there as well.
      expect((await clients.connect(tlsBroker.url, { username: a.id, password: a.password, clientId: a.clientId })).ok).toBe(true);
      await tlsBroker.stop();
      expect(tlsBroker.listening).toBe(false);
    } finally {
      await clients.closeAll();
      await tlsBroker?.close();
      await dir.remove();
    }
  });
});
