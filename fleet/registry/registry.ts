import type { Sql } from '../db/open-database.js';
import type { ChangeFeed } from '../events/change-feed.js';
import { isGatewayId } from '../protocol/index.js';
import { generateSecret, hashPassword, mosquittoPasswordHash } from './credentials.js';
import { GatewayStore, type GatewayDetail } from './gateway-store.js';
import { checkLabels, type Labels } from './labels.js';

/** The MQTT username of the fleet service itself; no gateway may take it. */
export const FLEET_USERNAME = 'edgewise-fleet';
/** The client id a gateway connects with: fixed, so one gateway cannot take over another's session. */
export const gatewayClientId = (gatewayId: string): string => `edgewise-${gatewayId}`;

export type RegistryErrorCode = 'E_GATEWAY_ID_INVALID' | 'E_GATEWAY_EXISTS' | 'E_GATEWAY_UNKNOWN' | 'E_LABELS_INVALID';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ProvisionRequest {
  readonly id: string;
  readonly site?: string;
  readonly labels?: Readonly<Record<string, unknown>>;
  /** Provisioning a known gateway again replaces its credentials (and lifts a revocation). */
  readonly replace?: boolean;
}

/** What provisioning hands out once: the password is not kept anywhere in clear. */
export interface ProvisionResult {
  readonly gateway: GatewayDetail;
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
  /** True when the gateway existed and got new credentials. */
  readonly replaced: boolean;
}

/**
 * Every gateway the fleet knows: provisioning (identity and MQTT credentials), revocation,
 * and what the gateways report (through `store`). Revocation listeners (the broker) drop a
 * revoked gateway's live session.
 */
export class Registry {
  readonly store: GatewayStore;
  private readonly revokedListeners = new Set<(gatewayId: string) => void>();

  /** `changes`: told of each gateway provisioned or revoked here (the live stream). */
  constructor(
    readonly sql: Sql,
    private readonly changes?: ChangeFeed,
  ) {
    this.store = new GatewayStore(sql);
  }

  /** Called when a gateway's credentials are withdrawn: revoked, or replaced by provisioning it again. */
  onRevoked(listener: (gatewayId: string) => void): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  async provision(req: ProvisionRequest, nowMs = Date.now()): Promise<ProvisionResult> {
    if (!isGatewayId(req.id)) throw new RegistryError('E_GATEWAY_ID_INVALID', `gateway id ${JSON.stringify(req.id)}: expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
    if (req.id === FLEET_USERNAME || gatewayClientId(req.id) === FLEET_USERNAME) throw new RegistryError('E_GATEWAY_ID_INVALID', `gateway id ${JSON.stringify(req.id)} is reserved for the fleet service`);
    let labels: Labels;
    try {
      labels = checkLabels(req.labels ?? {});
    } catch (err) {
      throw new RegistryError('E_LABELS_INVALID', (err as Error).message);
    }
    const site = req.site ?? labels['site'] ?? '';
    if (site.length > 64) throw new RegistryError('E_LABELS_INVALID', 'site: at most 64 characters');
    const password = generateSecret();
    const [scrypt, mosquitto] = await Promise.all([hashPassword(password), mosquittoPasswordHash(password)]);
    let replaced = false;
    const inserted = await this.store.insert({ id: req.id, site, labels, passwordScrypt: scrypt, passwordMosquitto: mosquitto, nowMs });
    if (!inserted) {
      if (req.replace !== true) throw new RegistryError('E_GATEWAY_EXISTS', `gateway ${req.id} is provisioned already; provision it again with replace (CLI: --replace) to issue new credentials`);
      await this.store.replaceCredentials(req.id, scrypt, mosquitto);
      if (req.labels !== undefined || req.site !== undefined) await this.store.setLabels(req.id, site, labels);
      replaced = true;
      // A session opened with the old password must not outlive it.
      for (const l of this.revokedListeners) l(req.id);
    }
    this.changes?.gateway(req.id);
    const gateway = await this.store.get(req.id);
    if (gateway === undefined) throw new RegistryError('E_GATEWAY_UNKNOWN', `gateway ${req.id} vanished while being provisioned`);
    return { gateway, username: req.id, password, clientId: gatewayClientId(req.id), replaced };
  }

  /** Revokes a gateway: it can no longer connect, and its live session is dropped. */
  async revoke(id: string, nowMs = Date.now()): Promise<GatewayDetail> {
    if (!(await this.store.revoke(id, nowMs))) throw new RegistryError('E_GATEWAY_UNKNOWN', `gateway ${id} is not provisioned`);
    for (const l of this.revokedListeners) l(id);
    this.changes?.gateway(id);
    const gateway = await this.store.get(id);
    if (gateway === undefined) throw new RegistryError('E_GATEWAY_UNKNOWN', `gateway ${id} is not provisioned`);
    return gateway;
  }
}
