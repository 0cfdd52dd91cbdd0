import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../../../fleet/api/problem.js';
import { BACKENDS } from '../../support/fleet-db.js';
import { ROUTES, addGateway, useApi } from './rig.js';

/** Runs per route and backend; FUZZ_RUNS=1000 for a long session. */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const KIB = 1024;

const QUERY_KEYS = ['selector', 'site', 'status', 'model', 'release', 'after', 'limit', 'gateway', 'kind', 'stream', 'from', 'to', 'before'];
const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/merge-patch+json', 'image/png', 'application/json; charset=utf-16', 'APPLICATION/JSON', ''];

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.integer().map(String),
  fc.constantFrom('', ' ', '0', '-1', '1e3', '1.5', 'null', 'true', '%', '..', '/', 'gw-1', 'alert', 'online', 'line in (a', 'a=b', '1001', 'ewt_', '__proto__', 'constructor'),
);
const huge = fc.integer({ min: 1, max: 200 * KIB }).map((n) => 'x'.repeat(n));
const validId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const unknownFields = fc.dictionary(
  fc.string({ minLength: 1 }).filter((k) => !['id', 'site', 'labels', 'replace', 'role', 'name', '__proto__'].includes(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { minKeys: 1, maxKeys: 3 },
);

/** Path parameters: real ids, near misses, arbitrary text (percent-encoded), and raw broken escapes. */
const pathParam = fc.oneof(
  fc.constantFrom('gw-1', 'gw-2', 'summary', 'nope').map(encodeURIComponent),
  validId.map(encodeURIComponent),
  text.map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2F', '%00', 'a%20b', 'x'.repeat(300)),
);

/** Query strings: known and unknown keys with arbitrary values, repeated keys, and raw junk. */
const query = fc.oneof(
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), text), fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 * KIB }).map((n) => 'q'.repeat(n)) })), { maxLength: 4 }).map((pairs) =>
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
  ),
  fc.string().map((raw) => raw.replace(/[^A-Za-z0-9=&%._~+-]/g, (c) => encodeURIComponent(c))),
);

interface Body {
  readonly payload?: string;
  readonly contentType?: string;
  /** True when the body is a JSON object with a field no schema knows: it must be refused. */
  readonly unknownField?: boolean;
}

function validish(path: string): fc.Arbitrary<Record<string, unknown>> {
  if (path === '/v1/gateways') {
    return fc.record(
      {
        id: fc.oneof(validId, text, fc.jsonValue({ maxDepth: 1 })),
        site: fc.oneof(fc.string({ maxLength: 64 }), text, huge),
        labels: fc.oneof(fc.dictionary(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,10}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/), { maxKeys: 40 }), fc.jsonValue({ maxDepth: 2 })),
        replace: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    );
  }
  if (path === '/v1/tokens') return fc.record({ role: fc.oneof(fc.constantFrom('read-write', 'read-only'), text), name: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), text, huge) }, { requiredKeys: [] });
  return fc.constant({});
}

function bodies(path: string): fc.Arbitrary<Body> {
  return fc.oneof(
    fc.constant<Body>({}),
    fc.jsonValue().map((v): Body => ({ payload: JSON.stringify(v), contentType: 'application/json' })),
    validish(path).map((v): Body => ({ payload: JSON.stringify(v), contentType: 'application/json' })),
    fc.tuple(validish(path), unknownFields).map(([v, extra]): Body => ({ payload: JSON.stringify({ ...v, ...extra }), contentType: 'application/json', unknownField: true })),
    fc.string().map((s): Body => ({ payload: s, contentType: 'application/json' })),
    fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)))).map(([contentType, payload]): Body => ({ payload, contentType })),
    fc.tuple(huge, fc.boolean()).map(([s, wrapped]): Body => ({ payload: wrapped ? JSON.stringify({ id: 'gw-9', site: s }) : s, contentType: 'application/json' })),
  );
}

describe.each(BACKENDS)('fleet HTTP API on %s under arbitrary requests', (backend) => {
  const api = useApi(backend);

  // The event stream answers a good request with a stream that does not end (its own test reads it).
  it.each(ROUTES.filter((r) => !r.path.endsWith('/stream') && r.path !== '/v1/live'))('$method $path: every reply is a 2xx or 4xx in JSON, and refused requests change nothing', async (route) => {
    await addGateway(api, 'gw-1', { labels: { line: 'press' } });
    await addGateway(api, 'gw-2');
    await api.deps.events.insert([
      { gatewayId: 'gw-1', recordId: 'r1', kind: 'alert', class: 'alert', stream: 'motor', model: 'm', ts: 1000, receivedMs: 1001, data: { text: 'ünï\u2028', nested: [null, { a: 1.5 }] } },
      { gatewayId: 'gw-2', recordId: 'r1', kind: 'event', class: 'result', stream: 'cam', model: null, ts: 2000, receivedMs: 2001, data: 'plain' },
    ]);
    const ro = (await api.deps.tokens.verify(api.ro))?.id ?? '';
    const auths = fc.oneof({ weight: 6, arbitrary: fc.constant(`Bearer ${api.rw}`) }, fc.constantFrom(`Bearer ${api.ro}`, 'Bearer ewt_nope', `bearer  ${api.rw}`, `Basic ${api.rw}`, 'Bearer', ''));
    const param = route.path.includes('/v1/tokens/') ? fc.oneof(fc.constant(ro), pathParam) : pathParam;

    await fc.assert(
      fc.asyncProperty(param, query, bodies(route.path), auths, async (id, q, body, auth) => {
        const url = `${route.path.replace(':id', id)}${q === '' ? '' : `?${q}`}`;
        const headers: Record<string, string> = { ...(auth === '' ? {} : { authorization: auth }), ...(body.contentType === undefined ? {} : { 'content-type': body.contentType }) };
        const before = await api.snapshot();
        const res = await api.app.inject({ method: route.method, url, headers, ...(body.payload === undefined ? {} : { payload: body.payload }) });
        const where = `${route.method} ${url.slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;

        expect(res.statusCode, where).toBeGreaterThanOrEqual(200);
        expect(res.statusCode, where).toBeLessThan(500);
        const type = String(res.headers['content-type']);
        if (res.statusCode >= 400) {
          expect(type, where).toMatch(/^application\/problem\+json/);
          const p = JSON.parse(res.body) as { status: number; code: string; detail: string; title: string; type: string };
          expect(p.status, where).toBe(res.statusCode);
          expect(PROBLEM_CODES, where).toContain(p.code);
          expect(p.detail.length, where).toBeGreaterThan(0);
          expect(await api.snapshot(), `${where}: a refused request changed the registry`).toBe(before);
        } else if (route.path === '/metrics') {
          expect(type, where).toMatch(/^text\/plain/);
        } else {
          expect(type, where).toMatch(/^application\/json/);
          expect(() => JSON.parse(res.body) as unknown, where).not.toThrow();
        }
        // An unknown field is refused wherever the request gets as far as its body (not a 404 route, not a 413 body).
        if (body.unknownField === true && route.method === 'POST' && auth === `Bearer ${api.rw}` && res.statusCode !== 404 && res.statusCode !== 413) expect(res.statusCode, where).toBe(400);
      }),
      { numRuns: RUNS },
    );
    expect((await api.call('GET', '/health', { token: null })).statusCode).toBe(200);
  });
});
