import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../../fleet/registry/credentials.js';
import { matches, parseSelector, type Labels, type Selector } from '../../../fleet/registry/labels.js';
import { Registry } from '../../../fleet/registry/registry.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';

describe.each(BACKENDS)('registry on %s', (backend) => {
  const db = useFleetDb(backend);
  let registry: Registry;
  beforeEach(async () => {
    await db.reset();
    registry = new Registry(db.sql);
  });

  it('provisions a gateway with labels and hands out a password that verifies against the stored hash, once', async () => {
    const r = await registry.provision({ id: 'press-1', labels: { site: 'plant-2', line: 'press' } }, 1000);
    expect(r.gateway).toMatchObject({ id: 'press-1', site: 'plant-2', labels: { site: 'plant-2', line: 'press' }, status: 'never-seen', createdMs: 1000, revokedMs: null });
    expect(r.clientId).toBe('edgewise-press-1');
    const creds = await registry.store.credentials('press-1');
    expect(creds?.passwordScrypt).not.toContain(r.password);
    expect(await verifyPassword(r.password, creds?.passwordScrypt ?? '')).toBe(true);
    expect(await verifyPassword(`${r.password}x`, creds?.passwordScrypt ?? '')).toBe(false);
  });

  it('refuses a second provisioning of the same id unless asked to replace, which issues new credentials and lifts a revocation', async () => {
    const first = await registry.provision({ id: 'gw-1' });
    await expect(registry.provision({ id: 'gw-1' })).rejects.toMatchObject({ code: 'E_GATEWAY_EXISTS' });
    await registry.revoke('gw-1');
    const second = await registry.provision({ id: 'gw-1', replace: true });
    expect(second.replaced).toBe(true);
    expect(second.gateway.status).toBe('never-seen');
    const creds = await registry.store.credentials('gw-1');
    expect(await verifyPassword(first.password, creds?.passwordScrypt ?? '')).toBe(false);
    expect(await verifyPassword(second.password, creds?.passwordScrypt ?? '')).toBe(true);
  });

  it('refuses bad ids, the fleet\'s own name and bad labels, naming what is wrong', async () => {
    await expect(registry.provision({ id: '../etc' })).rejects.toMatchObject({ code: 'E_GATEWAY_ID_INVALID' });
    await expect(registry.provision({ id: 'fleet' })).rejects.toMatchObject({ code: 'E_GATEWAY_ID_INVALID', message: expect.stringContaining('reserved') as unknown });
    await expect(registry.provision({ id: 'ok', labels: { 'bad key': 'x' } })).rejects.toMatchObject({ code: 'E_LABELS_INVALID' });
    await expect(registry.provision({ id: 'ok', labels: { k: 5 } })).rejects.toMatchObject({ code: 'E_LABELS_INVALID' });
    expect(await registry.store.list({ limit: 10 })).toEqual([]);
  });

  it('revokes: the gateway is marked, listeners hear of it, and an unknown id is an error', async () => {
    await registry.provision({ id: 'gw-1' });
    const heard: string[] = [];
    registry.onRevoked((id) => heard.push(id));
    const g = await registry.revoke('gw-1', 5000);
    expect(g).toMatchObject({ status: 'revoked', revokedMs: 5000 });
    expect(heard).toEqual(['gw-1']);
    expect((await registry.store.credentials('gw-1'))?.revoked).toBe(true);
    await expect(registry.revoke('nope')).rejects.toMatchObject({ code: 'E_GATEWAY_UNKNOWN' });
  });

  it('lists by selector, site and status, a page at a time in id order', async () => {
    for (let i = 0; i < 12; i += 1) {
      await registry.provision({ id: `gw-${String(i).padStart(2, '0')}`, labels: { site: i % 3 === 0 ? 'plant-1' : 'plant-2', ...(i % 2 === 0 ? { canary: 'yes' } : {}) } });
    }
    await registry.revoke('gw-03');
    const page1 = await registry.store.list({ limit: 5 });
    const page2 = await registry.store.list({ limit: 5, after: page1.at(-1)?.id as string });
    expect([...page1, ...page2].map((g) => g.id)).toEqual(Array.from({ length: 10 }, (_, i) => `gw-${String(i).padStart(2, '0')}`));
    expect((await registry.store.list({ limit: 100, selector: parseSelector('site=plant-1,canary') })).map((g) => g.id)).toEqual(['gw-00', 'gw-06']);
    expect((await registry.store.list({ limit: 100, site: 'plant-1', status: 'revoked' })).map((g) => g.id)).toEqual(['gw-03']);
    expect(await registry.store.count({ selector: parseSelector('site=plant-1') })).toMatchObject({ revoked: 1, 'never-seen': 3, online: 0 });
  });

  // The same selector must mean the same in SQL (fleet queries) and in memory (rollout waves).
  it('selects in SQL exactly the gateways the in-memory matcher selects', async () => {
    const key = fc.constantFrom('site', 'line', 'canary', 'hw');
    const value = fc.constantFrom('a', 'b', 'c', '');
    const labelsArb = fc.dictionary(key, value, { maxKeys: 4 });
    const requirement = fc.oneof(
      fc.tuple(key, value).map(([k, v]) => `${k}=${v}`),
      fc.tuple(key, value).map(([k, v]) => `${k}!=${v}`),
      fc.tuple(key, fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 })).map(([k, vs]) => `${k} in (${vs.join(',')})`),
      fc.tuple(key, fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 })).map(([k, vs]) => `${k} notin (${vs.join(',')})`),
      key,
      key.map((k) => `!${k}`),
    );
    const gateways: { id: string; labels: Labels }[] = fc.sample(labelsArb, { numRuns: 30, seed: 7 }).map((labels, i) => ({ id: `g${i}`, labels }));
    for (const g of gateways) await registry.provision({ id: g.id, labels: g.labels });
    await fc.assert(
      fc.asyncProperty(fc.array(requirement, { maxLength: 3 }), async (reqs) => {
        const selector: Selector = parseSelector(reqs.join(','));
        const inSql = (await registry.store.list({ limit: 1000, selector })).map((g) => g.id).sort();
        const inMemory = gateways.filter((g) => matches(selector, g.labels)).map((g) => g.id).sort();
        expect(inSql).toEqual(inMemory);
      }),
      { numRuns: 60, seed: 11 },
    );
  });
});
