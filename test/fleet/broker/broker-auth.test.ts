import type { Client, PublishPacket } from 'aedes';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { BrokerAuth } from '../../../fleet/broker/broker-auth.js';
import { FleetMetrics } from '../../../fleet/metrics.js';
import { gatewayTopic } from '../../../fleet/protocol/index.js';
import * as credentials from '../../../fleet/registry/credentials.js';
import type { GatewayCredentials } from '../../../fleet/registry/gateway-store.js';
import { gatewayClientId } from '../../../fleet/registry/registry.js';

// Count scrypt verifications, keeping the real implementation.
vi.mock('../../../fleet/registry/credentials.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../fleet/registry/credentials.js')>();
  return { ...real, verifyPassword: vi.fn(real.verifyPassword) };
});
const verifySpy = vi.mocked(credentials.verifyPassword);

/** The registry as a map, with a switch to make it fail like a lost database. */
class FakeRegistry {
  readonly rows = new Map<string, GatewayCredentials>();
  lookups = 0;
  down = false;
  /** Runs after a lookup has read its row, before the CONNECT is answered. */
  afterLookup: ((id: string) => void) | undefined;
  readonly lookup = async (id: string): Promise<GatewayCredentials | undefined> => {
    this.lookups += 1;
    if (this.down) throw new Error('connection terminated');
    const row = this.rows.get(id);
    this.afterLookup?.(id);
    return row;
  };
  async provision(id: string, password: string): Promise<void> {
    this.rows.set(id, { id, passwordScrypt: await credentials.hashPassword(password), revoked: false });
  }
}

const fakeClient = (id: string): Client => ({ id }) as unknown as Client;

function connect(auth: BrokerAuth, client: Client, username: string, password: string): Promise<{ ok: boolean; returnCode?: number }> {
  return new Promise((resolve) =>
    auth.hooks().authenticate(client, username, Buffer.from(password), (err, ok) => resolve(err === null ? { ok: ok === true } : { ok: false, returnCode: err.returnCode })),
  );
}

async function rejected(metrics: FleetMetrics, reason: string): Promise<number> {
  return (await metrics.rejectedConnections.get()).values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

describe('BrokerAuth', () => {
  let fleetHash: string;
  beforeAll(async () => {
    fleetHash = await credentials.hashPassword('fleet-pw');
  });

  function setup(maxCachedVerifications?: number): { auth: BrokerAuth; registry: FakeRegistry; metrics: FleetMetrics } {
    const registry = new FakeRegistry();
    const metrics = new FleetMetrics();
    const auth = new BrokerAuth({ credentials: registry.lookup, fleetPasswordScrypt: fleetHash, metrics, ...(maxCachedVerifications === undefined ? {} : { maxCachedVerifications }) });
    return { auth, registry, metrics };
  }

  it('refuses a CONNECT that was being checked while the gateway was revoked', async () => {
    const { auth, registry } = setup();
    await registry.provision('g1', 'pw1');
    // The revocation lands after the registry was read for this CONNECT, before it is answered.
    registry.afterLookup = (id) => auth.forget(id);
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'pw1')).toEqual({ ok: false, returnCode: 5 });
    registry.afterLookup = undefined;
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'pw1')).toEqual({ ok: true });
  });

  it('reads the registry on every connect but runs scrypt only the first time', async () => {
    const { auth, registry } = setup();
    await registry.provision('g1', 'pw1');
    verifySpy.mockClear();
    for (let i = 0; i < 20; i++) expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'pw1')).toEqual({ ok: true });
    expect(registry.lookups).toBe(20);
    expect(verifySpy).toHaveBeenCalledTimes(1);
  });

  it('lets a changed or revoked credential fail at once, cache or not', async () => {
    const { auth, registry, metrics } = setup();
    await registry.provision('g1', 'old');
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'old')).toEqual({ ok: true });
    await registry.provision('g1', 'new'); // re-provisioned: a new stored hash
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'old')).toEqual({ ok: false, returnCode: 5 });
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'new')).toEqual({ ok: true });
    const row = registry.rows.get('g1') as GatewayCredentials;
    registry.rows.set('g1', { ...row, revoked: true });
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'new')).toEqual({ ok: false, returnCode: 5 });
    expect(await rejected(metrics, 'revoked')).toBe(1);
    expect(await rejected(metrics, 'bad-credentials')).toBe(1);
  });

  it('keeps at most maxCachedVerifications entries, dropping the least recently used', async () => {
    const { auth, registry } = setup(2);
    for (const id of ['a', 'b', 'c']) await registry.provision(id, `pw-${id}`);
    verifySpy.mockClear();
    for (const id of ['a', 'b', 'a', 'c']) await connect(auth, fakeClient(gatewayClientId(id)), id, `pw-${id}`);
    expect(verifySpy).toHaveBeenCalledTimes(3); // a, b, c; the second a was cached
    verifySpy.mockClear();
    await connect(auth, fakeClient(gatewayClientId('a')), 'a', 'pw-a'); // a was used after b: still cached
    await connect(auth, fakeClient(gatewayClientId('b')), 'b', 'pw-b'); // b was evicted by c
    expect(verifySpy).toHaveBeenCalledTimes(1);
  });

  it('answers server unavailable when the registry cannot be read, and refuses non-gateway usernames without asking it', async () => {
    const { auth, registry, metrics } = setup();
    registry.down = true;
    expect(await connect(auth, fakeClient(gatewayClientId('g1')), 'g1', 'x')).toEqual({ ok: false, returnCode: 3 });
    expect(await rejected(metrics, 'error')).toBe(1);
    registry.down = false;
    const before = registry.lookups;
    expect(await connect(auth, fakeClient('x'), 'a/#', 'x')).toEqual({ ok: false, returnCode: 5 });
    expect(registry.lookups).toBe(before);
  });

  it('remembers the identity on the client object, not the username of a later packet', async () => {
    const { auth, registry } = setup();
    await registry.provision('g1', 'pw1');
    const client = fakeClient(gatewayClientId('g1'));
    await connect(auth, client, 'g1', 'pw1');
    expect(auth.principalOf(client)).toEqual({ kind: 'gateway', gatewayId: 'g1' });
    expect(auth.principalOf(fakeClient(gatewayClientId('g1')))).toBeUndefined();
    const publish = (c: Client | null, topic: string) =>
      new Promise<Error | null>((resolve) => auth.hooks().authorizePublish(c, { cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, dup: false } as PublishPacket, (err) => resolve(err ?? null)));
    expect(await publish(client, gatewayTopic('g1', 'records'))).toBeNull();
    expect((await publish(client, gatewayTopic('g2', 'records')))?.message).toMatch(/may not publish/);
    // A client that never authenticated may publish nothing; the broker itself (null) anything.
    expect(await publish(fakeClient('stranger'), gatewayTopic('g1', 'records'))).not.toBeNull();
    expect(await publish(null, gatewayTopic('g2', 'release'))).toBeNull();
  });
});
