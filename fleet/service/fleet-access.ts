import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenStore, type CreatedToken, type TokenInfo, type TokenRole } from '../api/tokens.js';
import type { MosquittoFilesInput } from '../broker/mosquitto-files.js';
import { openDatabase, type Sql } from '../db/open-database.js';
import type { GatewayDetail } from '../registry/gateway-store.js';
import { Registry, type ProvisionRequest } from '../registry/registry.js';
import { lockDataDir, lockHolder } from './data-dir-lock.js';
import { fleetMqttIdentity } from './fleet-identity.js';
import type { FleetEndpoints } from './fleet-service.js';
import { readSecretFile } from './secrets.js';

/** A freshly provisioned gateway, as the CLI writes it out. */
export interface Provisioned {
  readonly gateway: GatewayDetail;
  readonly credentials: { readonly username: string; readonly password: string; readonly clientId: string };
  /** The config section the fleet made (broker URL, credentials inline, updates). */
  readonly config: string;
  readonly brokerUrl: string;
  readonly root: unknown;
}

/**
 * What the operator commands (`fleet provision`, `revoke`, `acl`) need, whether the fleet is
 * running or not. Running (its data directory is locked by a live process): through its HTTP
 * API with the operator token, so the running broker drops a revoked gateway at once and
 * PGlite is never opened twice. Not running: straight on the database.
 */
export interface FleetAccess {
  readonly via: 'api' | 'database';
  provision(req: ProvisionRequest): Promise<Provisioned>;
  revoke(id: string): Promise<GatewayDetail>;
  mosquittoInput(): Promise<MosquittoFilesInput>;
  createToken(role: TokenRole, name: string): Promise<CreatedToken>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string): Promise<TokenInfo>;
  close(): Promise<void>;
}

export class FleetAccessError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FleetAccessError';
  }
}

export interface AccessOptions {
  readonly dataDir: string;
  readonly db: string;
  /** Operator token file for the API (default DATA_DIR/operator-token). */
  readonly tokenFile?: string;
}

export async function openFleetAccess(o: AccessOptions): Promise<FleetAccess> {
  const api = await runningFleetApi(o.dataDir, o.tokenFile);
  return api === undefined ? databaseAccess(o) : apiAccess(api);
}

/** Calls the running fleet's API; rejects with the API's code and detail. */
export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/**
 * The API of the fleet running on this data directory, with the operator token; undefined
 * when no fleet runs there.
 */
export async function runningFleetApi(dataDir: string, tokenFile?: string): Promise<ApiCall | undefined> {
  const running = await lockHolder(dataDir);
  if (running === undefined) return undefined;
  const endpoints = JSON.parse(await readFile(join(dataDir, 'fleet.json'), 'utf8')) as FleetEndpoints;
  const file = tokenFile ?? join(dataDir, 'operator-token');
  const token = await readSecretFile(file);
  if (token === undefined) throw new FleetAccessError('E_TOKEN_MISSING', `the fleet (pid ${running}) is running, and its API needs an operator token: none in ${file} (give --token-file)`);
  const apiUrl = endpoints.localApiUrl;
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const reply = (await res.json().catch(() => ({}))) as { code?: string; detail?: string };
    if (!res.ok) throw new FleetAccessError(reply.code ?? `E_HTTP_${res.status}`, reply.detail ?? `${method} ${path}: HTTP ${res.status}`);
    return reply as T;
  };
}

function apiAccess(call: ApiCall): FleetAccess {
  return {
    via: 'api',
    provision: (req) => call<Provisioned>('POST', '/v1/gateways', req),
    revoke: (id) => call<GatewayDetail>('POST', `/v1/gateways/${encodeURIComponent(id)}/revoke`),
    mosquittoInput: () => call<MosquittoFilesInput>('GET', '/v1/broker/mosquitto-credentials'),
    createToken: (role, name) => call<CreatedToken>('POST', '/v1/tokens', { role, name }),
    listTokens: async () => (await call<{ items: TokenInfo[] }>('GET', '/v1/tokens')).items,
    revokeToken: (id) => call<TokenInfo>('POST', `/v1/tokens/${encodeURIComponent(id)}/revoke`),
    close: async () => undefined,
  };
}

async function databaseAccess(o: AccessOptions): Promise<FleetAccess> {
  // Hold the lock while we use the database: a fleet starting meanwhile waits for us.
  const lock = o.db === 'embedded' ? await lockDataDir(o.dataDir) : undefined;
  let sql: Sql;
  try {
    sql = await openDatabase(o.db, o.dataDir);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const registry = new Registry(sql);
  const settings = async (): Promise<{ brokerUrl: string; updates?: { metadataUrl: string; targetBaseUrl: string } } | undefined> =>
    (await sql.query<{ value: { brokerUrl: string; updates?: { metadataUrl: string; targetBaseUrl: string } } }>(`SELECT value FROM fleet_settings WHERE key = 'fleet.provisioning'`))[0]?.value;
  return {
    via: 'database',
    async provision(req) {
      const ctx = await settings();
      if (ctx === undefined) throw new FleetAccessError('E_FLEET_NEVER_STARTED', 'this fleet has never run: start `edgewise fleet` once so that it knows its broker URL, then provision');
      const r = await registry.provision(req);
      const { gatewayConfigSection } = await import('../registry/gateway-config.js');
      return { gateway: r.gateway, credentials: { username: r.username, password: r.password, clientId: r.clientId }, config: gatewayConfigSection(r, ctx), brokerUrl: ctx.brokerUrl, root: null };
    },
    revoke: (id) => registry.revoke(id),
    createToken: (role, name) => new TokenStore(sql).create(role, name),
    listTokens: () => new TokenStore(sql).list(),
    async revokeToken(id) {
      const t = await new TokenStore(sql).revoke(id);
      if (t === undefined) throw new FleetAccessError('E_NOT_FOUND', `no token has id ${id}; edgewise fleet token list shows them`);
      return t;
    },
    async mosquittoInput() {
      const identity = await fleetMqttIdentity(sql, o.dataDir);
      return { gateways: await registry.store.mosquittoCredentials(), fleetPasswordMosquitto: identity.mosquitto };
    },
    async close() {
      await sql.close();
      await lock?.release();
    },
  };
}
