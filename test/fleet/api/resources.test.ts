import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEventCursor } from '../../../fleet/api/cursor.js';
import type { StoredEvent } from '../../../fleet/events/event-store.js';
import { verifyPassword } from '../../../fleet/registry/credentials.js';
import { listReleases, type ReleaseInfo } from '../../../fleet/repo/releases.js';
import { Repository } from '../../../fleet/repo/repository.js';
import { BACKENDS } from '../../support/fleet-db.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { keyring, type Keyring } from '../../support/tuf-rig.js';
import { ROOT_JSON, addGateway, json, useApi } from './rig.js';

interface Page<T> {
  items: T[];
  next: string | null;
}
interface Gw {
  id: string;
  site: string;
  labels: Record<string, string>;
  status: string;
}

const RELEASE = {
  version: '2026.11.1',
  hardware: { arch: ['x64', 'arm64'] as ('x64' | 'arm64')[], accelerators: ['cpu'] },
  minRuntimeVersion: '0.1.0',
  golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' },
  budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 },
};

/** A signed, published TUF repository: anomaly-motor 1 and 2, defect-cls 1, and a file that is no release. */
async function buildRepository(dir: string): Promise<void> {
  const keys: Keyring = await keyring(`${dir}/keys`, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
  const repo = new Repository(`${dir}/repo`);
  await repo.init(keys.pub);
  await repo.sign('root', keys.priv.root);
  await mkdir(`${dir}/in`, { recursive: true });
  await writeFile(`${dir}/in/g.bin`, new Uint8Array(16));
  const online = { snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp };
  const publish = async (model: string, release: number, bytes: Uint8Array): Promise<void> => {
    await writeFile(`${dir}/in/${model}-${release}.onnx`, bytes);
    await repo.addModel({ model: `${dir}/in/${model}-${release}.onnx`, goldenInput: `${dir}/in/g.bin`, goldenOutput: `${dir}/in/g.bin`, release: { ...RELEASE, model, release, version: `v${release}` } });
    await repo.sign('targets', keys.priv.targets);
    await repo.publish(online);
  };
  await publish('anomaly-motor', 1, new Uint8Array(100));
  await publish('anomaly-motor', 2, new Uint8Array(200).fill(7));
  await publish('defect-cls', 1, new Uint8Array(300));
  await writeFile(`${dir}/in/notes.txt`, 'not a model');
  await repo.addTargets([{ path: 'docs/notes.txt', file: `${dir}/in/notes.txt` }]);
  await repo.sign('targets', keys.priv.targets);
  await repo.publish(online);
}

describe('listReleases', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
    await buildRepository(dir.path);
  });
  afterAll(async () => dir?.remove());

  it('lists the model releases of the newest targets metadata, newest release first, golden files and other targets left out', async () => {
    const releases = await listReleases(`${dir.path}/repo`);
    expect(releases.map((r) => `${r.model}@${r.release}`)).toEqual(['anomaly-motor@2', 'anomaly-motor@1', 'defect-cls@1']);
    const newest = releases[0] as ReleaseInfo;
    expect(newest).toEqual({
      target: 'models/anomaly-motor/2/model.onnx',
      model: 'anomaly-motor',
      release: 2,
      version: 'v2',
      length: 200,
      sha256: createHash('sha256').update(new Uint8Array(200).fill(7)).digest('hex'),
      hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] },
      minRuntimeVersion: '0.1.0',
      budgets: RELEASE.budgets,
      golden: { ...RELEASE.golden, input: 'models/anomaly-motor/2/golden-input.bin', output: 'models/anomaly-motor/2/golden-output.bin' },
      evaluationSet: null,
      signedBy: 'targets',
      targetsVersion: 4,
    });
  });

  it('gives an empty list when there is no repository, or nothing published', async () => {
    expect(await listReleases(`${dir.path}/no-such-repo`)).toEqual([]);
    await mkdir(`${dir.path}/empty/metadata`, { recursive: true });
    expect(await listReleases(`${dir.path}/empty`)).toEqual([]);
  });
});

describe.each(BACKENDS)('fleet HTTP API on %s: gateways, events, releases', (backend) => {
  const api = useApi(backend);

  describe('provisioning and revocation', () => {
    it('provisions a gateway: 201 with credentials that verify, its config section and the pinned root', async () => {
      const res = await api.call('POST', '/v1/gateways', { json: { id: 'press-01', labels: { site: 'plant-2', line: 'press' } } });
      expect(res.statusCode, res.body).toBe(201);
      const body = json<{ gateway: Gw; replaced: boolean; credentials: { username: string; password: string; clientId: string }; brokerUrl: string; config: string; root: unknown }>(res);
      expect(body.gateway).toMatchObject({ id: 'press-01', site: 'plant-2', labels: { site: 'plant-2', line: 'press' }, status: 'never-seen' });
      expect(body).toMatchObject({ replaced: false, brokerUrl: 'mqtt://fleet.example:1883', root: ROOT_JSON, credentials: { username: 'press-01', clientId: 'edgewise-press-01' } });
      expect(body.config).toContain(`password: ${body.credentials.password}`);
      expect(body.config).toContain('metadataUrl: http://fleet.example:8080/metadata');
      const stored = await api.deps.registry.store.credentials('press-01');
      expect(await verifyPassword(body.credentials.password, stored?.passwordScrypt ?? '')).toBe(true);
    });

    it('gives root null when the fleet has no repository', async () => {
      api.stubs.root = null;
      const res = await api.call('POST', '/v1/gateways', { json: { id: 'gw-1' } });
      expect(res.statusCode).toBe(201);
      expect(json(res)['root']).toBeNull();
    });

    it('refuses a second provisioning with 409, and with replace issues new credentials and lifts a revocation', async () => {
      const first = json<{ credentials: { password: string } }>(await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', site: 'a' } }));
      const again = await api.call('POST', '/v1/gateways', { json: { id: 'gw-1' } });
      expect(again.statusCode).toBe(409);
      expect(json(again)).toMatchObject({ code: 'E_GATEWAY_EXISTS', detail: expect.stringMatching(/replace/) as unknown });
      expect((await api.call('POST', '/v1/gateways/gw-1/revoke')).statusCode).toBe(200);
      const replaced = await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', replace: true } });
      expect(replaced.statusCode, replaced.body).toBe(201);
      const body = json<{ replaced: boolean; gateway: Gw & { revokedMs: number | null }; credentials: { password: string } }>(replaced);
      expect(body.replaced).toBe(true);
      expect(body.gateway).toMatchObject({ status: 'never-seen', revokedMs: null, site: 'a' });
      expect(body.credentials.password).not.toBe(first.credentials.password);
      const stored = await api.deps.registry.store.credentials('gw-1');
      expect(await verifyPassword(first.credentials.password, stored?.passwordScrypt ?? '')).toBe(false);
      expect(await verifyPassword(body.credentials.password, stored?.passwordScrypt ?? '')).toBe(true);
    });

    it('hands an external broker the Mosquitto hashes (read-write tokens only), revoked gateways marked', async () => {
      await api.call('POST', '/v1/gateways', { json: { id: 'gw-1' } });
      await api.call('POST', '/v1/gateways', { json: { id: 'gw-2' } });
      await api.call('POST', '/v1/gateways/gw-2/revoke');
      expect((await api.call('GET', '/v1/broker/mosquitto-credentials', { token: api.ro })).statusCode).toBe(403);
      const res = await api.call('GET', '/v1/broker/mosquitto-credentials');
      expect(res.statusCode, res.body).toBe(200);
      const body = json<{ gateways: { id: string; hash: string; revoked: boolean }[]; fleetPasswordMosquitto: string }>(res);
      expect(body.gateways.map((g) => [g.id, g.revoked, g.hash.startsWith('$7$101$')])).toEqual([
        ['gw-1', false, true],
        ['gw-2', true, true],
      ]);
      expect(body.fleetPasswordMosquitto).toBe('$7$101$fleet$hash');
    });

    it('refuses invalid ids and labels with 400 naming the field, and stores nothing', async () => {
      const cases: [unknown, RegExp][] = [
        [{ id: '-bad' }, /^body\.id: expected a gateway id/],
        [{ id: 'a'.repeat(65) }, /^body\.id: /],
        [{ id: 'edgewise-fleet' }, /^body\.id: .*reserved/],
        [{ id: 'gw-1', labels: { 'bad key': 'x' } }, /^body\.labels: expected keys that are 1-63 letters.*got key "bad key"/],
        [{ id: 'gw-1', labels: { line: 'bad value!' } }, /^body\.labels\.line: expected a label value/],
        [{ id: 'gw-1', labels: { line: 7 } }, /^body\.labels\.line: /],
        [{ id: 'gw-1', labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }, /^body\.labels: /],
        [{ id: 'gw-1', site: 's'.repeat(65) }, /^body\.site: /],
        [{}, /^body\.id: .*required/],
      ];
      for (const [body, detail] of cases) {
        const res = await api.call('POST', '/v1/gateways', { json: body });
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(json(res)['code']).toBe('E_VALIDATION');
        expect(json(res)['detail'], JSON.stringify(body)).toMatch(detail);
      }
      expect(await api.db.sql.query('SELECT id FROM gateways')).toEqual([]);
    });

    it('revokes a gateway (idempotently) and answers 404 for an unknown one', async () => {
      await addGateway(api, 'gw-1');
      let revokedAt = 0;
      api.deps.registry.onRevoked((id) => {
        if (id === 'gw-1') revokedAt += 1;
      });
      const res = await api.call('POST', '/v1/gateways/gw-1/revoke');
      expect(res.statusCode, res.body).toBe(200);
      const first = json<Gw & { revokedMs: number }>(res);
      expect(first.status).toBe('revoked');
      expect(revokedAt).toBe(1);
      const again = json<Gw & { revokedMs: number }>(await api.call('POST', '/v1/gateways/gw-1/revoke'));
      expect(again.revokedMs).toBe(first.revokedMs);
      const unknown = await api.call('POST', '/v1/gateways/gw-9/revoke');
      expect(unknown.statusCode).toBe(404);
      expect(json(unknown)['code']).toBe('E_NOT_FOUND');
    });
  });

  describe('reading the registry', () => {
    async function fleet(): Promise<void> {
      const t = 1_795_000_000_000;
      await addGateway(api, 'a-online', { site: 'plant-1', labels: { line: 'press', env: 'prod' } });
      await addGateway(api, 'b-offline', { site: 'plant-1', labels: { line: 'paint', env: 'prod' } });
      await addGateway(api, 'c-degraded', { site: 'plant-2', labels: { line: 'press', canary: 'yes' } });
      await addGateway(api, 'd-never', { site: 'plant-2', labels: { line: 'weld' } });
      await addGateway(api, 'e-revoked', { site: 'plant-2', labels: { line: 'press', env: 'test' } });
      const store = api.deps.registry.store;
      await store.applyStates([
        { gw: 'a-online', online: true, clean: true, ts: t, runtimeVersion: '0.1.0', receivedMs: t },
        { gw: 'b-offline', online: false, clean: false, ts: t, runtimeVersion: '0.1.0', receivedMs: t },
        { gw: 'c-degraded', online: true, clean: true, ts: t, runtimeVersion: '0.1.0', receivedMs: t },
      ]);
      const releases = { 'anomaly-motor': { active: { release: 2, version: 'v2', sha256: 'ab'.repeat(32) }, standby: null } };
      await store.applyHealth([
        { gw: 'c-degraded', ts: t, status: 'degraded', reasons: ['queue full'], runtimeVersion: '0.1.0', hardware: null, releases: null, report: { any: 'thing' }, receivedMs: t },
        { gw: 'a-online', ts: t, status: 'ok', reasons: [], runtimeVersion: '0.1.0', hardware: { arch: 'arm64', platform: 'linux', cpus: 4, memoryBytes: 4e9, accelerators: ['cpu'] }, releases, report: { ok: true }, receivedMs: t },
      ]);
      await store.revoke('e-revoked', t);
    }
    const ids = (res: { body: string }): string[] => json<Page<Gw>>(res).items.map((g) => g.id);

    it('lists gateways filtered by label selector, site, status and model release', async () => {
      await fleet();
      expect(ids(await api.call('GET', '/v1/gateways'))).toEqual(['a-online', 'b-offline', 'c-degraded', 'd-never', 'e-revoked']);
      expect(ids(await api.call('GET', `/v1/gateways?selector=${encodeURIComponent('line=press,env!=test')}`))).toEqual(['a-online', 'c-degraded']);
      expect(ids(await api.call('GET', `/v1/gateways?selector=${encodeURIComponent('line in (paint,weld),!canary')}`))).toEqual(['b-offline', 'd-never']);
      expect(ids(await api.call('GET', '/v1/gateways?site=plant-2&selector=line%3Dpress'))).toEqual(['c-degraded', 'e-revoked']);
      for (const [status, id] of [['online', 'a-online'], ['offline', 'b-offline'], ['degraded', 'c-degraded'], ['never-seen', 'd-never'], ['revoked', 'e-revoked']]) {
        expect(ids(await api.call('GET', `/v1/gateways?status=${status}`)), status).toEqual([id]);
      }
      expect(ids(await api.call('GET', '/v1/gateways?model=anomaly-motor'))).toEqual(['a-online']);
      expect(ids(await api.call('GET', '/v1/gateways?model=anomaly-motor&release=2'))).toEqual(['a-online']);
      expect(ids(await api.call('GET', '/v1/gateways?model=anomaly-motor&release=1'))).toEqual([]);
      const online = json<Page<Record<string, unknown>>>(await api.call('GET', '/v1/gateways?status=online')).items[0];
      expect(online).toMatchObject({ hardware: { arch: 'arm64', cpus: 4 }, releases: { 'anomaly-motor': { active: { release: 2 } } }, health: { status: 'ok', reasons: [] }, runtimeVersion: '0.1.0' });
    });

    it('refuses a bad selector with the parser\'s message, and release without model', async () => {
      const bad = await api.call('GET', `/v1/gateways?selector=${encodeURIComponent('line in (press')}`);
      expect(bad.statusCode).toBe(400);
      expect(json(bad)).toMatchObject({ code: 'E_VALIDATION', detail: 'query.selector: unbalanced "("' });
      const odd = await api.call('GET', `/v1/gateways?selector=${encodeURIComponent('a=b=c=')}`);
      expect(odd.statusCode).toBe(400);
      expect(json(odd)['detail']).toMatch(/^query\.selector: /);
      expect(json(await api.call('GET', '/v1/gateways?release=2'))['detail']).toMatch(/^query\.release: needs query\.model/);
    });

    it('pages through gateways with limit and the next cursor', async () => {
      for (let i = 0; i < 23; i += 1) await addGateway(api, `gw-${String(i).padStart(2, '0')}`);
      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const res = await api.call('GET', `/v1/gateways?limit=10${next === null ? '' : `&after=${next}`}`);
        const page = json<Page<Gw>>(res);
        seen.push(...page.items.map((g) => g.id));
        next = page.next;
        pages += 1;
      } while (next !== null);
      expect(pages).toBe(3);
      expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `gw-${String(i).padStart(2, '0')}`));
      const exact = json<Page<Gw>>(await api.call('GET', '/v1/gateways?limit=23'));
      expect(exact.items).toHaveLength(23);
      expect(exact.next).toBeNull();
    });

    it('counts gateways per status, with the same filters', async () => {
      await fleet();
      const all = await api.call('GET', '/v1/gateway-counts');
      expect(all.statusCode).toBe(200);
      expect(json(all)).toEqual({ total: 5, online: 1, offline: 1, degraded: 1, 'never-seen': 1, revoked: 1 });
      expect(json(await api.call('GET', '/v1/gateway-counts?site=plant-2&selector=line%3Dpress'))).toEqual({ total: 2, online: 0, offline: 0, degraded: 1, 'never-seen': 0, revoked: 1 });
      expect((await api.call('GET', '/v1/gateway-counts?status=online')).statusCode).toBe(400);
    });

    it('gives one gateway in detail, with its health report and update steps, or 404', async () => {
      await fleet();
      await api.deps.registry.store.addUpdateSteps([{ gw: 'c-degraded', model: 'anomaly-motor', target: 'models/anomaly-motor/2/model.onnx', release: 2, version: 'v2', step: 'download', outcome: 'ok', reason: null, ts: 1, receivedMs: 2 }]);
      const res = await api.call('GET', '/v1/gateways/c-degraded', { token: api.ro });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toMatchObject({ id: 'c-degraded', status: 'degraded', health: { status: 'degraded', reasons: ['queue full'] }, healthReport: { any: 'thing' }, updateSteps: [{ step: 'download', outcome: 'ok', release: 2 }] });
      const missing = await api.call('GET', '/v1/gateways/nope');
      expect(missing.statusCode).toBe(404);
      expect(json(missing)).toMatchObject({ code: 'E_NOT_FOUND', detail: expect.stringMatching(/nope is not provisioned/) as unknown });
      expect((await api.call('GET', '/v1/gateways/bad%20id')).statusCode).toBe(400);
    });
  });

  describe('events', () => {
    const event = (gatewayId: string, recordId: string, ts: number, kind: StoredEvent['kind'], o: Partial<StoredEvent> = {}): StoredEvent => ({
      gatewayId,
      recordId,
      kind,
      class: kind === 'alert' ? 'alert' : 'result',
      stream: 'motor',
      model: null,
      ts,
      receivedMs: ts + 5,
      data: { value: ts },
      ...o,
    });

    it('filters by gateway, kind, model, stream and time', async () => {
      await api.deps.events.insert([
        event('gw-1', 'r1', 1000, 'alert', { model: 'anomaly-motor' }),
        event('gw-1', 'r2', 2000, 'summary', { model: 'anomaly-motor' }),
        event('gw-2', 'r1', 3000, 'event', { stream: 'camera', model: 'defect-cls', data: { event: 'defect', box: [1, 2, 3, 4] } }),
        event('gw-2', 'r2', 4000, 'alert'),
      ]);
      const keys = async (q: string): Promise<string[]> => {
        const res = await api.call('GET', `/v1/events${q}`, { token: api.ro });
        expect(res.statusCode, res.body).toBe(200);
        return json<Page<StoredEvent>>(res).items.map((e) => `${e.gatewayId}/${e.recordId}`);
      };
      expect(await keys('')).toEqual(['gw-2/r2', 'gw-2/r1', 'gw-1/r2', 'gw-1/r1']);
      expect(await keys('?gateway=gw-1')).toEqual(['gw-1/r2', 'gw-1/r1']);
      expect(await keys('?kind=alert')).toEqual(['gw-2/r2', 'gw-1/r1']);
      expect(await keys('?model=anomaly-motor&kind=summary')).toEqual(['gw-1/r2']);
      expect(await keys('?stream=camera')).toEqual(['gw-2/r1']);
      expect(await keys('?from=2000&to=4000')).toEqual(['gw-2/r1', 'gw-1/r2']);
      const one = json<Page<StoredEvent>>(await api.call('GET', '/v1/events?stream=camera')).items[0];
      expect(one).toEqual({ gatewayId: 'gw-2', recordId: 'r1', kind: 'event', class: 'result', stream: 'camera', model: 'defect-cls', ts: 3000, receivedMs: 3005, data: { event: 'defect', box: [1, 2, 3, 4] } });
    });

    it('gives one event by gateway and record id, a read-only token too; 404 for one it does not have', async () => {
      await api.deps.events.insert([event('gw-2', 'r1', 3000, 'event', { stream: 'camera', data: { event: 'defect', crop: { png: 'AAAA' } } }), event('gw-2', 'r/2', 4000, 'alert')]);
      const res = await api.call('GET', '/v1/events/gw-2/r1', { token: api.ro });
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res)).toEqual({ gatewayId: 'gw-2', recordId: 'r1', kind: 'event', class: 'result', stream: 'camera', model: null, ts: 3000, receivedMs: 3005, data: { event: 'defect', crop: { png: 'AAAA' } } });
      // A record id with a slash is one path segment once encoded.
      expect(json(await api.call('GET', `/v1/events/gw-2/${encodeURIComponent('r/2')}`))['recordId']).toBe('r/2');
      const missing = await api.call('GET', '/v1/events/gw-1/r1');
      expect(missing.statusCode).toBe(404);
      expect(json(missing)['detail']).toMatch(/no event r1 of gateway gw-1/);
      expect((await api.call('GET', '/v1/events/gw-2/r1', { token: null })).statusCode).toBe(401);
    });

    it('pages newest first with an opaque cursor, without gaps or repeats when timestamps tie', async () => {
      const all: StoredEvent[] = [];
      for (let i = 0; i < 25; i += 1) all.push(event(`gw-${i % 3}`, `r${String(i).padStart(2, '0')}`, 1000 + Math.floor(i / 4) * 10, i % 2 === 0 ? 'alert' : 'summary'));
      await api.deps.events.insert(all);
      const seen: string[] = [];
      let next: string | null = null;
      do {
        const res = await api.call('GET', `/v1/events?limit=7${next === null ? '' : `&before=${next}`}`);
        expect(res.statusCode, res.body).toBe(200);
        const page = json<Page<StoredEvent>>(res);
        seen.push(...page.items.map((e) => `${e.ts}/${e.gatewayId}/${e.recordId}`));
        next = page.next;
        if (next !== null) expect(next).toMatch(/^[A-Za-z0-9_-]+$/);
      } while (next !== null);
      const expected = [...all].sort((a, b) => b.ts - a.ts || (a.gatewayId < b.gatewayId ? 1 : a.gatewayId > b.gatewayId ? -1 : a.recordId < b.recordId ? 1 : -1)).map((e) => `${e.ts}/${e.gatewayId}/${e.recordId}`);
      expect(seen).toEqual(expected);
      // A cursor keeps working with the same filters.
      const alerts = json<Page<StoredEvent>>(await api.call('GET', `/v1/events?kind=alert&limit=2&before=${encodeEventCursor({ ts: 1030, gatewayId: 'gw-0', recordId: 'r12' })}`));
      expect(alerts.items.every((e) => e.kind === 'alert' && e.ts <= 1030)).toBe(true);
    });

    it('refuses a malformed cursor with 400', async () => {
      for (const before of ['abc', Buffer.from('[1,2,3]').toString('base64url'), Buffer.from('{"ts":1}').toString('base64url'), `${encodeEventCursor({ ts: 1, gatewayId: 'gw-1', recordId: 'r1' })}A`, 'a.b']) {
        const res = await api.call('GET', `/v1/events?before=${encodeURIComponent(before)}`);
        expect(res.statusCode, before).toBe(400);
        expect(json(res)['detail'], before).toMatch(/^query\.before: /);
      }
    });
  });

  describe('releases', () => {
    let dir: { path: string; remove: () => Promise<void> };
    beforeAll(async () => {
      dir = await makeTempDir();
      await buildRepository(dir.path);
    });
    afterAll(async () => dir?.remove());

    it('lists the releases of a real TUF repository, filtered by model', async () => {
      api.stubs.releases = () => listReleases(`${dir.path}/repo`);
      const res = await api.call('GET', '/v1/releases', { token: api.ro });
      expect(res.statusCode, res.body).toBe(200);
      const items = json<{ items: ReleaseInfo[] }>(res).items;
      expect(items.map((r) => r.target)).toEqual(['models/anomaly-motor/2/model.onnx', 'models/anomaly-motor/1/model.onnx', 'models/defect-cls/1/model.onnx']);
      expect(items[0]).toMatchObject({ model: 'anomaly-motor', release: 2, version: 'v2', length: 200, hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0' });
      const one = json<{ items: ReleaseInfo[] }>(await api.call('GET', '/v1/releases?model=defect-cls')).items;
      expect(one.map((r) => `${r.model}@${r.release}`)).toEqual(['defect-cls@1']);
      expect((await api.call('GET', '/v1/releases?model=Bad%20Name')).statusCode).toBe(400);
    });

    it('lists nothing when the fleet has no repository', async () => {
      api.stubs.releases = () => listReleases(`${dir.path}/none`);
      expect(json(await api.call('GET', '/v1/releases'))).toEqual({ items: [] });
    });
  });
});
