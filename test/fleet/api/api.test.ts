import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../../../fleet/api/problem.js';
import { BACKENDS } from '../../support/fleet-db.js';
import { HEALTHY, ROUTES, json, useApi } from './rig.js';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

describe.each(BACKENDS)('fleet HTTP API on %s: auth, tokens, errors, system routes', (backend) => {
  const api = useApi(backend);

  function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string, detail?: RegExp): Problem {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = JSON.parse(res.body) as Problem;
    expect(p).toMatchObject({ status, code, type: `urn:edgewise:problem:${code}` });
    expect(p.title.length).toBeGreaterThan(0);
    if (detail !== undefined) expect(p.detail).toMatch(detail);
    return p;
  }

  describe('tokens and roles', () => {
    it('refuses requests without a live token with 401 and a Bearer challenge', async () => {
      const none = await api.call('GET', '/v1/gateways', { token: null });
      expectProblem(none, 401, 'E_UNAUTHORIZED', /Authorization: Bearer/);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expectProblem(await api.call('GET', '/v1/gateways', { headers: { authorization: `Basic ${api.rw}` }, token: null }), 401, 'E_UNAUTHORIZED', /must be "Bearer <token>"/);
      expectProblem(await api.call('GET', '/v1/gateways', { token: `ewt_${'A'.repeat(43)}` }), 401, 'E_UNAUTHORIZED', /not a live operator token/);
      expectProblem(await api.call('GET', '/v1/gateways', { token: 'garbage' }), 401, 'E_UNAUTHORIZED');
    });

    it('tells a token who it is (GET /v1/me), and a missing or dead one nothing', async () => {
      const rw = json<{ id: string; name: string; role: string }>(await api.call('GET', '/v1/me'));
      const ro = json<{ id: string; name: string; role: string }>(await api.call('GET', '/v1/me', { token: api.ro }));
      expect(rw).toMatchObject({ name: 'test admin', role: 'read-write' });
      expect(ro).toMatchObject({ name: 'test viewer', role: 'read-only' });
      const listed = json<{ items: { id: string; name: string }[] }>(await api.call('GET', '/v1/tokens')).items;
      expect(listed.find((t) => t.name === 'test viewer')?.id).toBe(ro.id);
      expect(Object.keys(ro).sort()).toEqual(['id', 'name', 'role']);
      expectProblem(await api.call('GET', '/v1/me', { token: null }), 401, 'E_UNAUTHORIZED');
      await api.call('POST', `/v1/tokens/${ro.id}/revoke`);
      expectProblem(await api.call('GET', '/v1/me', { token: api.ro }), 401, 'E_UNAUTHORIZED');
    });

    it('lets a read-only token read and refuses its writes with 403', async () => {
      expect((await api.call('GET', '/v1/gateways', { token: api.ro })).statusCode).toBe(200);
      expect((await api.call('GET', '/v1/events', { token: api.ro })).statusCode).toBe(200);
      expectProblem(await api.call('POST', '/v1/gateways', { token: api.ro, json: { id: 'gw-1' } }), 403, 'E_FORBIDDEN', /read-only.*needs a read-write token/);
      expectProblem(await api.call('POST', '/v1/tokens', { token: api.ro, json: { role: 'read-write', name: 'me too' } }), 403, 'E_FORBIDDEN');
      expectProblem(await api.call('GET', '/v1/tokens', { token: api.ro }), 403, 'E_FORBIDDEN');
      expect(await api.deps.registry.store.exists('gw-1')).toBe(false);
    });

    it('guards the HEAD twins of GET routes like the GET routes', async () => {
      expect((await api.call('HEAD', '/v1/gateways', { token: null })).statusCode).toBe(401);
      expect((await api.call('HEAD', '/v1/gateways', { token: api.ro })).statusCode).toBe(200);
      expect((await api.call('HEAD', '/v1/tokens', { token: api.ro })).statusCode).toBe(403);
      expect((await api.call('HEAD', '/health', { token: null })).statusCode).toBe(200);
    });

    it('checks the token before reading the body: a stranger gets 401, not 413 or 400', async () => {
      expectProblem(await api.call('POST', '/v1/gateways', { token: null, payload: 'x'.repeat(100_000), headers: { 'content-type': 'application/json' } }), 401, 'E_UNAUTHORIZED');
      expectProblem(await api.call('POST', '/v1/gateways', { token: null, payload: '{nope', headers: { 'content-type': 'application/json' } }), 401, 'E_UNAUTHORIZED');
    });

    it('creates a token shown once, which then works with its role, and lists tokens without secrets', async () => {
      const res = await api.call('POST', '/v1/tokens', { json: { role: 'read-only', name: 'grafana' } });
      expect(res.statusCode, res.body).toBe(201);
      const created = json<{ id: string; token: string; role: string; name: string; revokedMs: null }>(res);
      expect(created).toMatchObject({ role: 'read-only', name: 'grafana', revokedMs: null });
      expect(created.token).toMatch(/^ewt_[A-Za-z0-9_-]{43}$/);
      expect((await api.call('GET', '/v1/gateways', { token: created.token })).statusCode).toBe(200);
      expectProblem(await api.call('POST', '/v1/gateways', { token: created.token, json: { id: 'gw-1' } }), 403, 'E_FORBIDDEN');

      const list = await api.call('GET', '/v1/tokens');
      expect(list.statusCode).toBe(200);
      const items = json<{ items: { id: string; name: string }[] }>(list).items;
      expect(items.map((t) => t.name).sort()).toEqual(['grafana', 'test admin', 'test viewer']);
      expect(list.body).not.toContain(created.token);
      expect(list.body).not.toMatch(/ewt_|hash/);
      const stored = await api.db.sql.query<{ token_hash: string }>('SELECT token_hash FROM operator_tokens WHERE id = $1', [created.id]);
      expect(stored[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    });

    it('revokes a token: it stops working at once; unknown ids are 404', async () => {
      const created = json<{ id: string; token: string }>(await api.call('POST', '/v1/tokens', { json: { role: 'read-write', name: 'ci' } }));
      const res = await api.call('POST', `/v1/tokens/${created.id}/revoke`);
      expect(res.statusCode, res.body).toBe(200);
      expect(json<{ revokedMs: number | null }>(res).revokedMs).toEqual(expect.any(Number));
      expectProblem(await api.call('GET', '/v1/gateways', { token: created.token }), 401, 'E_UNAUTHORIZED');
      expect(await api.deps.tokens.verify(created.token)).toBeUndefined();
      expectProblem(await api.call('POST', '/v1/tokens/0123456789abcdef/revoke'), 404, 'E_NOT_FOUND', /GET \/v1\/tokens/);
    });

    it('refuses a token request with a bad role or name, naming the field', async () => {
      expectProblem(await api.call('POST', '/v1/tokens', { json: { role: 'admin', name: 'x' } }), 400, 'E_VALIDATION', /^body\.role: expected one of "read-write", "read-only"/);
      expectProblem(await api.call('POST', '/v1/tokens', { json: { role: 'read-only', name: '' } }), 400, 'E_VALIDATION', /^body\.name: /);
      expectProblem(await api.call('POST', '/v1/tokens', { json: { role: 'read-only' } }), 400, 'E_VALIDATION', /^body\.name: .*required/);
    });
  });

  describe('requests the API cannot take', () => {
    it('refuses unknown fields in bodies, queries and empty-bodied actions instead of dropping them', async () => {
      const body = await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', colour: 'blue' } });
      expectProblem(body, 400, 'E_VALIDATION', /^body\.colour: expected one of the known keys \(id, site, labels, replace\), got unknown key "colour"/);
      expect(await api.deps.registry.store.exists('gw-1')).toBe(false);
      expectProblem(await api.call('POST', '/v1/tokens', { json: { role: 'read-only', name: 'x', expires: 5 } }), 400, 'E_VALIDATION', /^body\.expires: /);
      expectProblem(await api.call('GET', '/v1/gateways?colour=blue'), 400, 'E_VALIDATION', /^query\.colour: .*unknown key "colour"/);
      expectProblem(await api.call('GET', '/health?verbose=1', { token: null }), 400, 'E_VALIDATION', /^query\.verbose: expected no keys here/);
      await api.call('POST', '/v1/gateways', { json: { id: 'gw-1' } });
      expectProblem(await api.call('POST', '/v1/gateways/gw-1/revoke', { json: { force: true } }), 400, 'E_VALIDATION', /^body\.force: /);
      expect((await api.deps.registry.store.get('gw-1'))?.status).toBe('never-seen');
      expect((await api.call('POST', '/v1/gateways/gw-1/revoke', { json: {} })).statusCode).toBe(200);
    });

    it('does not coerce JSON bodies: "true" is not true, 5 is not "5"', async () => {
      expectProblem(await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', replace: 'true' } }), 400, 'E_VALIDATION', /^body\.replace: expected true or false/);
      expectProblem(await api.call('POST', '/v1/gateways', { json: { id: 5 } }), 400, 'E_VALIDATION', /^body\.id: expected a gateway id/);
    });

    it('answers malformed JSON, empty JSON, other content types and huge bodies with a clear 4xx', async () => {
      const ct = { 'content-type': 'application/json' };
      expectProblem(await api.call('POST', '/v1/gateways', { payload: '{"id": "gw-1",', headers: ct }), 400, 'E_BAD_JSON', /not valid JSON \(.+\)/);
      expectProblem(await api.call('POST', '/v1/gateways', { payload: '', headers: ct }), 400, 'E_BAD_JSON', /empty/);
      expectProblem(await api.call('POST', '/v1/gateways', { payload: '{"__proto__": {"admin": true}, "id": "gw-1"}', headers: ct }), 400, 'E_BAD_JSON', /__proto__/);
      expectProblem(await api.call('POST', '/v1/gateways', { payload: 'id=gw-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'E_UNSUPPORTED_MEDIA_TYPE', /application\/json/);
      expectProblem(await api.call('POST', '/v1/gateways', { payload: '{"id":"gw-1"}', headers: { 'content-type': 'text/plain' } }), 415, 'E_UNSUPPORTED_MEDIA_TYPE');
      expectProblem(await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', site: 'x'.repeat(70_000) } }), 413, 'E_BODY_TOO_LARGE', /65536 bytes/);
      expectProblem(await api.call('POST', '/v1/gateways', { json: [1, 2] }), 400, 'E_VALIDATION', /^body: expected a JSON object/);
      expectProblem(await api.call('POST', '/v1/gateways'), 400, 'E_VALIDATION', /^body: /);
      expect(await api.deps.registry.store.exists('gw-1')).toBe(false);
    });

    it('answers unknown routes and malformed URLs with problems too', async () => {
      expectProblem(await api.call('GET', '/v1/nothing-here'), 404, 'E_NOT_FOUND', /openapi\.json/);
      expectProblem(await api.call('DELETE', '/v1/gateways/gw-1'), 404, 'E_NOT_FOUND');
      expectProblem(await api.call('GET', '/v1/gateways/%E0%A4%A'), 400, 'E_BAD_REQUEST', /%-escape/);
    });

    it('says which query parameter is wrong and what it should be', async () => {
      expectProblem(await api.call('GET', '/v1/gateways?limit=0'), 400, 'E_VALIDATION', /^query\.limit: expected an integer >= 1, got/);
      expectProblem(await api.call('GET', '/v1/gateways?limit=ten'), 400, 'E_VALIDATION', /^query\.limit: expected an integer 1-1000/);
      expectProblem(await api.call('GET', '/v1/gateways?status=sleeping'), 400, 'E_VALIDATION', /^query\.status: expected one of "online", "offline"/);
      expectProblem(await api.call('GET', '/v1/events?kind=alert&kind=event'), 400, 'E_VALIDATION', /^query\.kind: /);
    });

    it('gives every problem one of the documented codes', () => {
      expect(PROBLEM_CODES).toEqual(expect.arrayContaining(['E_VALIDATION', 'E_UNAUTHORIZED', 'E_FORBIDDEN', 'E_NOT_FOUND', 'E_GATEWAY_EXISTS', 'E_BODY_TOO_LARGE', 'E_BAD_JSON', 'E_INTERNAL']));
    });
  });

  describe('system routes', () => {
    it('serves /health without a token: 200 when ok, 503 with the reasons when degraded', async () => {
      const ok = await api.call('GET', '/health', { token: null });
      expect(ok.statusCode).toBe(200);
      expect(json(ok)).toEqual(HEALTHY);
      api.stubs.health = { ...HEALTHY, status: 'degraded', broker: { ok: false, detail: 'external broker unreachable: ECONNREFUSED' } };
      const bad = await api.call('GET', '/health', { token: null });
      expect(bad.statusCode).toBe(503);
      expect(bad.headers['content-type']).toMatch(/^application\/json/);
      expect(json(bad)).toMatchObject({ status: 'degraded', broker: { ok: false, detail: expect.stringMatching(/ECONNREFUSED/) as unknown } });
    });

    it('turns a failing dependency into a 500 problem that does not leak its message', async () => {
      api.stubs.health = undefined as never;
      api.deps.health = async () => {
        throw new Error('password=hunter2 connection refused');
      };
      try {
        const res = await api.call('GET', '/health', { token: null });
        expectProblem(res, 500, 'E_INTERNAL', /request id/);
        expect(res.body).not.toContain('hunter2');
      } finally {
        api.deps.health = async () => api.stubs.health;
      }
    });

    it('serves Prometheus text at /metrics, counting requests by route template and status', async () => {
      await api.call('GET', '/v1/gateways/gw-x');
      await api.call('GET', '/v1/nothing-here');
      const res = await api.call('GET', '/metrics', { token: null });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toMatch(/edgewise_fleet_http_requests_total\{route="\/v1\/gateways\/:id",status="404"\} [1-9]/);
      expect(res.body).toMatch(/edgewise_fleet_http_requests_total\{route="unmatched",status="404"\} [1-9]/);
      expect(res.body).not.toContain('gw-x');
    });

    it('serves an OpenAPI 3.1 document listing every route with its schemas and security', async () => {
      const res = await api.call('GET', '/openapi.json', { token: null });
      expect(res.statusCode).toBe(200);
      const doc = json<{ openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown>; parameters?: { name: string; in: string }[]; requestBody?: unknown }>>; components: { securitySchemes: Record<string, unknown> } }>(res);
      expect(doc.openapi).toMatch(/^3\.1\./);
      expect(doc.components.securitySchemes['bearerAuth']).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
      const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      const expected = ROUTES.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
      expect(listed.sort()).toEqual([...expected].sort());
      for (const r of ROUTES) {
        const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
        expect(op, r.path).toBeDefined();
        expect(Object.keys(op?.responses ?? {}), `${r.method} ${r.path}`).toEqual(expect.arrayContaining(['4XX']));
        const isPublic = ['/health', '/metrics', '/openapi.json'].includes(r.path);
        expect(op?.security, `${r.method} ${r.path}`).toEqual(isPublic ? [] : [{ bearerAuth: [] }]);
      }
      const provision = doc.paths['/v1/gateways']?.['post'];
      expect(JSON.stringify(provision?.requestBody)).toContain('"additionalProperties":false');
      expect(doc.paths['/v1/gateways']?.['get']?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['selector', 'site', 'status', 'model', 'release', 'after', 'limit']));
    });

    it('serves real HTTP when it listens on a port', async () => {
      await api.app.listen({ port: 0, host: '127.0.0.1' });
      const address = api.app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const base = `http://127.0.0.1:${port}`;
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      const created = await fetch(`${base}/v1/gateways`, { method: 'POST', headers: { authorization: `Bearer ${api.rw}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'gw-http', labels: { line: 'press' } }) });
      expect(created.status).toBe(201);
      expect((await created.json()) as unknown).toMatchObject({ gateway: { id: 'gw-http', labels: { line: 'press' } } });
      const refused = await fetch(`${base}/v1/gateways`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const huge = await fetch(`${base}/v1/gateways`, { method: 'POST', headers: { authorization: `Bearer ${api.rw}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'x', site: 'y'.repeat(200_000) }) });
      expect(huge.status).toBe(413);
      expect(((await huge.json()) as Problem).code).toBe('E_BODY_TOO_LARGE');
    });
  });
});
