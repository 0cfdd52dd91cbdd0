import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { buildApi } from '../../../fleet/api/app.js';
import type { ApiDeps, ApiOptions, ServiceHealth } from '../../../fleet/api/deps.js';
import { Rollouts } from '../../../fleet/rollouts/rollouts.js';
import { TokenStore } from '../../../fleet/api/tokens.js';
import { ChangeFeed } from '../../../fleet/events/change-feed.js';
import { EventStore } from '../../../fleet/events/event-store.js';
import { FederatedService } from '../../../fleet/federated/service/federated-service.js';
import { serviceError } from '../../../fleet/federated/service/service-error.js';
import { FleetMetrics } from '../../../fleet/metrics.js';
import { Registry } from '../../../fleet/registry/registry.js';
import type { ReleaseInfo } from '../../../fleet/repo/releases.js';
import { useFleetDb, type BackendName, type FleetDbRig } from '../../support/fleet-db.js';

export const HEALTHY: ServiceHealth = {
  status: 'ok',
  broker: { ok: true, detail: 'embedded broker on 127.0.0.1:1883' },
  database: { ok: true, latencyMs: 1.5, detail: 'in-memory PGlite' },
  ingest: { ok: true, queued: 0, lagMs: 12, detail: 'keeping up' },
};

export const ROOT_JSON = { signed: { _type: 'root', version: 1 }, signatures: [] };

/** What a test may change about the fleet behind the API. */
export interface Stubs {
  health: ServiceHealth;
  releases: () => Promise<readonly ReleaseInfo[]>;
  root: unknown;
}

export interface ApiRig {
  db: FleetDbRig;
  app: FastifyInstance;
  deps: ApiDeps;
  stubs: Stubs;
  /** A read-write and a read-only token, made fresh for each test. */
  rw: string;
  ro: string;
  /** Sends a request; `token` goes in as a bearer token, `json` as an application/json body. */
  call(method: InjectOptions['method'], url: string, o?: { token?: string | null; json?: unknown; payload?: string | Buffer; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** Every row of the registry's and the tokens' tables, to compare before and after a request. */
  snapshot(): Promise<string>;
}

/**
 * The API over a real fleet database on one backend (one per test file), with the other
 * dependencies stubbed. The tables are emptied before each test and two tokens made.
 */
export function useApi(backend: BackendName, options: () => ApiOptions = () => ({})): ApiRig {
  const db = useFleetDb(backend);
  const rig = { db } as ApiRig;
  beforeAll(async () => {
    rig.stubs = { health: HEALTHY, releases: async () => [], root: ROOT_JSON };
    const stubs = rig.stubs;
    const changes = new ChangeFeed();
    const registry = new Registry(db.sql, changes);
    const metrics = new FleetMetrics();
    // The real round service over the same database; no broker: what it would publish is dropped here.
    const learning = await FederatedService.start({
      sql: db.sql,
      registry,
      releases: { list: () => stubs.releases(), read: async () => Promise.reject(serviceError('E_RELEASE_UNKNOWN', 'no model files behind the API rig')) },
      publisher: { publish: async () => Promise.reject(new Error('no signer behind the API rig')) },
      transport: { publish: async () => undefined },
      metrics,
      changes,
    });
    rig.deps = {
      registry,
      learning,
      events: new EventStore(db.sql),
      changes,
      tokens: new TokenStore(db.sql),
      rollouts: new Rollouts(db.sql, () => stubs.releases()),
      metrics,
      provisioning: { brokerUrl: 'mqtt://fleet.example:1883', updates: { metadataUrl: 'http://fleet.example:8080/metadata', targetBaseUrl: 'http://fleet.example:8080/targets' } },
      releases: () => stubs.releases(),
      health: async () => stubs.health,
      rootJson: async () => stubs.root,
      fleetMosquittoHash: async () => '$7$101$fleet$hash',
    };
    rig.app = await buildApi(rig.deps, options());
    await rig.app.ready();
  });
  beforeEach(async () => {
    await db.reset();
    rig.stubs.health = HEALTHY;
    rig.stubs.releases = async () => [];
    rig.stubs.root = ROOT_JSON;
    rig.rw = (await rig.deps.tokens.create('read-write', 'test admin')).token;
    rig.ro = (await rig.deps.tokens.create('read-only', 'test viewer')).token;
  });
  afterAll(async () => {
    await rig.app?.close();
    await (rig.deps?.learning as FederatedService | undefined)?.close();
  });
  rig.call = (method, url, o = {}) => {
    const token = o.token === undefined ? rig.rw : o.token;
    const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(o.json === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers };
    const payload = o.json === undefined ? o.payload : JSON.stringify(o.json);
    return rig.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  };
  rig.snapshot = async () => {
    const gateways = await db.sql.query('SELECT * FROM gateways ORDER BY id');
    const tokens = await db.sql.query('SELECT * FROM operator_tokens ORDER BY id');
    const steps = await db.sql.query('SELECT * FROM update_steps ORDER BY gateway_id, seq');
    const tasks = await db.sql.query('SELECT * FROM learning_tasks ORDER BY id');
    const rounds = await db.sql.query('SELECT * FROM learning_rounds ORDER BY task_id, round');
    return JSON.stringify({ gateways, tokens, steps, tasks, rounds });
  };
  return rig;
}

/** Every route of the API; the OpenAPI test checks that the document lists exactly these. */
export const ROUTES = [
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/v1/gateways' },
  { method: 'GET', path: '/v1/gateway-counts' },
  { method: 'GET', path: '/v1/gateways/:id' },
  { method: 'GET', path: '/v1/gateways/:id/metrics' },
  { method: 'POST', path: '/v1/gateways' },
  { method: 'POST', path: '/v1/gateways/:id/revoke' },
  { method: 'GET', path: '/v1/events' },
  { method: 'GET', path: '/v1/events/:gateway/:recordId' },
  { method: 'GET', path: '/v1/releases' },
  { method: 'GET', path: '/v1/me' },
  { method: 'GET', path: '/v1/tokens' },
  { method: 'POST', path: '/v1/tokens' },
  { method: 'POST', path: '/v1/tokens/:id/revoke' },
  { method: 'GET', path: '/v1/broker/mosquitto-credentials' },
  { method: 'POST', path: '/v1/rollouts' },
  { method: 'POST', path: '/v1/rollouts/preview' },
  { method: 'GET', path: '/v1/rollouts' },
  { method: 'GET', path: '/v1/rollouts/:id' },
  { method: 'POST', path: '/v1/rollouts/:id/:action' },
  { method: 'GET', path: '/v1/rollout-events' },
  { method: 'GET', path: '/v1/rollout-events/stream' },
  { method: 'GET', path: '/v1/live' },
  { method: 'POST', path: '/v1/learning/tasks' },
  { method: 'GET', path: '/v1/learning/tasks' },
  { method: 'GET', path: '/v1/learning/tasks/:id' },
  { method: 'POST', path: '/v1/learning/tasks/:id/stop' },
  { method: 'GET', path: '/v1/learning/tasks/:id/rounds' },
  { method: 'GET', path: '/v1/learning/tasks/:id/rounds/:round' },
] as const;

/** A gateway straight into the table (provisioning hashes passwords: slow for dozens). */
export async function addGateway(api: ApiRig, id: string, o: { site?: string; labels?: Record<string, string>; nowMs?: number } = {}): Promise<void> {
  await api.deps.registry.store.insert({ id, site: o.site ?? '', labels: o.labels ?? {}, passwordScrypt: 'scrypt$x', passwordMosquitto: '$7$x', nowMs: o.nowMs ?? 1_795_000_000_000 });
}

export function json<T = Record<string, unknown>>(res: { readonly body: string }): T {
  return JSON.parse(res.body) as T;
}
