import { timingSafeEqual } from 'node:crypto';
import type { Aedes, AedesOptions, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { ConnectRejection, FleetMetrics } from '../metrics.js';
import { isGatewayId } from '../protocol/index.js';
import { sha256Hex, verifyPassword } from '../registry/credentials.js';
import type { GatewayCredentials } from '../registry/gateway-store.js';
import { FLEET_USERNAME, gatewayClientId } from '../registry/registry.js';
import { mayPublish, maySubscribe, ownPublishKind, type Principal } from './acl.js';

export type BrokerAuthErrorCode = 'E_MQTT_CLIENT_ID' | 'E_MQTT_UNKNOWN_GATEWAY' | 'E_MQTT_REVOKED' | 'E_MQTT_BAD_CREDENTIALS' | 'E_MQTT_UNAVAILABLE' | 'E_MQTT_PUBLISH_DENIED' | 'E_MQTT_INGEST';

/** Why the broker refused a client or a message; aedes reports it in 'clientError'. */
export class BrokerAuthError extends Error {
  override readonly name = 'BrokerAuthError';
  constructor(
    readonly code: BrokerAuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A pino-compatible logger, or anything with `warn`. */
export interface BrokerLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface BrokerAuthOptions {
  /** The registry's credential lookup (`GatewayStore.credentials`), asked on every CONNECT. */
  readonly credentials: (gatewayId: string) => Promise<GatewayCredentials | undefined>;
  /** `hashPassword` of the fleet principal's password (username FLEET_USERNAME). */
  readonly fleetPasswordScrypt: string;
  readonly metrics: FleetMetrics;
  /**
   * Called for every message a gateway publishes to its own topics (and its Last Will),
   * before aedes acknowledges it: resolve once the message is committed. A rejection means
   * no PUBACK and a dropped connection, so the gateway keeps the message and sends it again.
   */
  readonly onGatewayPublish?: (gatewayId: string, topic: string, payload: Buffer) => Promise<void>;
  /** A gateway's connection was registered (true) or ended (false) on this broker. */
  readonly onConnectionChange?: (gatewayId: string, connected: boolean) => void;
  /** Successful verifications remembered, so reconnects skip scrypt. Default 10,000. */
  readonly maxCachedVerifications?: number;
  readonly log?: BrokerLog;
}

interface CachedVerification {
  /** SHA-256 of the password that verified. */
  readonly passwordSha: Buffer;
  /** The stored scrypt hash it verified against: a re-provisioned gateway has another. */
  readonly storedHash: string;
}

type Callback = (error?: Error | null) => void;

/** A gateway publish waiting for its answer: `outcome` is undefined until ingest settles, then null (committed) or the error. */
interface PendingAnswer {
  outcome: Error | null | undefined;
  readonly done: Callback;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3) that we send. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

function authError(code: BrokerAuthErrorCode, returnCode: number, message: string, cause?: unknown): AuthenticateError {
  const err = new BrokerAuthError(code, message, cause === undefined ? undefined : { cause }) as BrokerAuthError & { returnCode: number };
  err.returnCode = returnCode;
  return err as unknown as AuthenticateError;
}

function payloadBuffer(payload: PublishPacket['payload']): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

/**
 * Authentication and authorisation for the embedded aedes broker: who a client is (checked
 * against the registry on every CONNECT) and what it may publish and subscribe to (acl.ts).
 * `hooks()` goes into `Aedes.createBroker`, `attach(aedes)` follows connections for the
 * connected-gateways gauge.
 */
export class BrokerAuth {
  private readonly principals = new WeakMap<Client, Principal>();
  /** Per client: its gateway publishes not answered yet, in arrival order (PUBACKs go out in this order). */
  private readonly unanswered = new WeakMap<Client, PendingAnswer[]>();
  /** Clients whose publish failed: everything after it on that connection fails too. */
  private readonly failed = new WeakSet<Client>();
  /** gatewayId -> last good verification; Map order is insertion order, refreshed on use (LRU). */
  private readonly verified = new Map<string, CachedVerification>();
  private fleetVerified: CachedVerification | undefined;
  private readonly connected = new Set<Client>();
  private readonly maxCached: number;

  constructor(private readonly options: BrokerAuthOptions) {
    this.maxCached = options.maxCachedVerifications ?? 10_000;
  }

  /** The aedes hooks; pass them to `Aedes.createBroker`. */
  hooks(): Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>> {
    return {
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (err: unknown) => done(err as AuthenticateError, false),
        );
      },
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const principal = this.principals.get(client);
        if (principal !== undefined && maySubscribe(principal, sub.topic)) return done(null, sub);
        this.options.metrics.rejectedMessages.inc({ reason: 'subscribe-denied' });
        // null grants nothing: SUBACK 0x80 for this filter, and the client stays connected.
        done(null, null as unknown as Subscription);
      },
    };
  }

  /** Follows connections for the gauge and `onConnectionChange`; returns a detach function. */
  attach(aedes: Aedes): () => void {
    const onClient = (client: Client): void => {
      const p = this.principals.get(client);
      if (p?.kind !== 'gateway' || this.connected.has(client)) return;
      this.connected.add(client);
      this.options.metrics.connectedGateways.inc();
      this.notify(p.gatewayId, true);
    };
    const onDisconnect = (client: Client): void => {
      const p = this.principals.get(client);
      if (p?.kind !== 'gateway' || !this.connected.delete(client)) return;
      this.options.metrics.connectedGateways.dec();
      this.notify(p.gatewayId, false);
    };
    aedes.on('client', onClient);
    aedes.on('clientDisconnect', onDisconnect);
    return () => {
      aedes.off('client', onClient);
      aedes.off('clientDisconnect', onDisconnect);
    };
  }

  /** Who `client` authenticated as, or undefined before (or without) a successful CONNECT. */
  principalOf(client: Client): Principal | undefined {
    return this.principals.get(client);
  }

  /**
   * The gateway's credentials changed (revoked, re-provisioned): forgets its cached
   * verification, and a CONNECT of it that is being checked right now is refused (it read
   * the registry before the change, and dropClient found no session to end yet).
   */
  forget(gatewayId: string): void {
    this.verified.delete(gatewayId);
    this.changes.set(gatewayId, (this.changes.get(gatewayId) ?? 0) + 1);
    if (this.changes.size > 100_000) this.changes.clear();
  }

  /** Per gateway: how often its credentials changed while this broker ran. */
  private readonly changes = new Map<string, number>();

  private notify(gatewayId: string, connected: boolean): void {
    try {
      this.options.onConnectionChange?.(gatewayId, connected);
    } catch (err) {
      // Inside an aedes event: a throw here would break the broker's own bookkeeping.
      this.options.log?.warn({ component: 'broker', code: 'E_CONNECTION_LISTENER', gatewayId, err }, 'onConnectionChange threw');
    }
  }

  private reject(reason: ConnectRejection, err: AuthenticateError): never {
    this.options.metrics.rejectedConnections.inc({ reason });
    throw err;
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const secret = password?.toString('utf8') ?? '';
    if (username === FLEET_USERNAME) {
      const ok = password !== undefined && (await this.check(secret, this.options.fleetPasswordScrypt, this.fleetVerified, (v) => (this.fleetVerified = v)));
      if (!ok) this.reject('bad-credentials', authError('E_MQTT_BAD_CREDENTIALS', NOT_AUTHORIZED, `client ${client.id}: wrong password for ${FLEET_USERNAME}`));
      // A client id of the form edgewise-{gateway} would take that gateway's session over.
      if (client.id.startsWith('edgewise-') && client.id !== FLEET_USERNAME) {
        this.reject('bad-client-id', authError('E_MQTT_CLIENT_ID', IDENTIFIER_REJECTED, `client ${client.id}: ${FLEET_USERNAME} logins may not use a client id starting with "edgewise-" (gateways use edgewise-{id})`));
      }
      this.principals.set(client, { kind: 'fleet' });
      return;
    }
    if (username === undefined || !isGatewayId(username)) {
      this.reject('unknown-gateway', authError('E_MQTT_UNKNOWN_GATEWAY', NOT_AUTHORIZED, `client ${client.id}: username ${JSON.stringify(username ?? null)} is not a gateway id`));
    }
    const gatewayId = username;
    const generation = this.changes.get(gatewayId) ?? 0;
    // The client id is fixed per gateway, so no gateway can take over another's session.
    if (client.id !== gatewayClientId(gatewayId)) {
      this.reject('bad-client-id', authError('E_MQTT_CLIENT_ID', IDENTIFIER_REJECTED, `gateway ${gatewayId} must connect with client id ${gatewayClientId(gatewayId)}, not ${JSON.stringify(client.id)}`));
    }
    let row: GatewayCredentials | undefined;
    try {
      row = await this.options.credentials(gatewayId);
    } catch (err) {
      this.reject('error', authError('E_MQTT_UNAVAILABLE', SERVER_UNAVAILABLE, `gateway ${gatewayId}: the registry could not be read (${(err as Error).message})`, err));
    }
    if (row === undefined) this.reject('unknown-gateway', authError('E_MQTT_UNKNOWN_GATEWAY', NOT_AUTHORIZED, `gateway ${gatewayId} is not provisioned`));
    if (row.revoked) {
      this.verified.delete(gatewayId);
      this.reject('revoked', authError('E_MQTT_REVOKED', NOT_AUTHORIZED, `gateway ${gatewayId} is revoked`));
    }
    let ok: boolean;
    try {
      ok = password !== undefined && (await this.check(secret, row.passwordScrypt, this.verified.get(gatewayId), (v) => this.remember(gatewayId, v)));
    } catch (err) {
      this.reject('error', authError('E_MQTT_UNAVAILABLE', SERVER_UNAVAILABLE, `gateway ${gatewayId}: password check failed (${(err as Error).message})`, err));
    }
    if (!ok) this.reject('bad-credentials', authError('E_MQTT_BAD_CREDENTIALS', NOT_AUTHORIZED, `gateway ${gatewayId}: wrong password`));
    if ((this.changes.get(gatewayId) ?? 0) !== generation) this.reject('revoked', authError('E_MQTT_REVOKED', NOT_AUTHORIZED, `gateway ${gatewayId}: its credentials changed while it was connecting`));
    this.principals.set(client, { kind: 'gateway', gatewayId });
  }

  /**
   * A SHA-256 comparison when this password verified against this very stored hash before,
   * else scrypt. Keyed by the stored hash too, so new credentials (re-provisioning) need a
   * fresh scrypt and the old password stops working at once.
   */
  private async check(secret: string, storedHash: string, cached: CachedVerification | undefined, save: (v: CachedVerification) => void): Promise<boolean> {
    const sha = Buffer.from(sha256Hex(secret), 'hex');
    if (cached !== undefined && cached.storedHash === storedHash && timingSafeEqual(cached.passwordSha, sha)) {
      save(cached);
      return true;
    }
    if (!(await verifyPassword(secret, storedHash))) return false;
    save({ passwordSha: sha, storedHash });
    return true;
  }

  private remember(gatewayId: string, v: CachedVerification): void {
    this.verified.delete(gatewayId);
    this.verified.set(gatewayId, v);
    while (this.verified.size > this.maxCached) {
      const oldest = this.verified.keys().next().value as string;
      this.verified.delete(oldest);
    }
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: Callback): void {
    // Broker-internal publishes (the fleet's own, through EmbeddedBroker.publish) have no client.
    if (client === null) return done(null);
    const principal = this.principals.get(client);
    const isWill = packet === (client as Client & { will?: unknown }).will;
    if (principal === undefined || !mayPublish(principal, packet.topic)) {
      this.options.metrics.rejectedMessages.inc({ reason: 'publish-denied' });
      const who = principal === undefined ? `client ${client.id}` : principal.kind === 'fleet' ? FLEET_USERNAME : `gateway ${principal.gatewayId}`;
      // aedes has no way to refuse one PUBLISH but keep the connection (MQTT 3.1.1 has no
      // negative PUBACK): the error drops the client, which is what a misbehaving gateway earns.
      return done(new BrokerAuthError('E_MQTT_PUBLISH_DENIED', `${who} may not publish to ${JSON.stringify(packet.topic)}${isWill ? ' (its Last Will)' : ''}`));
    }
    if (principal.kind === 'fleet') return done(null);
    const gatewayId = principal.gatewayId;
    const kind = ownPublishKind(gatewayId, packet.topic);
    if (kind !== undefined) this.options.metrics.messagesIn.inc({ kind });
    const hook = this.options.onGatewayPublish;
    let ingest: Promise<void>;
    try {
      ingest = hook === undefined ? RESOLVED : hook(gatewayId, packet.topic, payloadBuffer(packet.payload));
    } catch (err) {
      ingest = Promise.reject(err);
    }
    if (isWill) {
      // The gateway is gone and cannot resend its Will: publish it to subscribers even when
      // the commit failed, rather than losing the offline state everywhere.
      ingest.then(
        () => done(null),
        (err: unknown) => {
          this.options.log?.warn({ component: 'broker', code: 'E_MQTT_INGEST', gatewayId, topic: packet.topic, err }, 'Last Will not committed; published anyway');
          done(null);
        },
      ).catch((err: unknown) => this.options.log?.warn({ component: 'broker', code: 'E_MQTT_PUBLISH_CALLBACK', gatewayId, err }, 'aedes publish callback threw'));
      return;
    }
    // The hook runs at once (a batching ingest sees messages as they come), but the answers go
    // back in arrival order: the server must send PUBACKs in the order of the PUBLISHes
    // (MQTT 3.1.1 [MQTT-4.6.0-2]), and a gateway deletes records on PUBACK. Each answer waits
    // in the client's queue until those before it have gone; the outcome is caught here, so a
    // failure waiting behind a slow predecessor is never an unhandled rejection.
    let queue = this.unanswered.get(client);
    if (queue === undefined) {
      queue = [];
      this.unanswered.set(client, queue);
    }
    const entry: PendingAnswer = { outcome: undefined, done };
    queue.push(entry);
    const q = queue;
    ingest.then(
      () => this.answer(client, gatewayId, q, entry, null),
      (err: unknown) =>
        this.answer(
          client,
          gatewayId,
          q,
          entry,
          new BrokerAuthError('E_MQTT_INGEST', `gateway ${gatewayId}: ${packet.topic} not committed (${err instanceof Error ? err.message : String(err)}); no PUBACK, the gateway will resend`, { cause: err }),
        ),
    );
  }

  /** Records a publish's outcome and answers, in arrival order, every publish at the head of the queue that has one. */
  private answer(client: Client, gatewayId: string, queue: PendingAnswer[], entry: PendingAnswer, outcome: Error | null): void {
    entry.outcome = outcome;
    while (queue.length > 0 && queue[0]?.outcome !== undefined) {
      const head = queue.shift() as PendingAnswer;
      let err = head.outcome as Error | null;
      if (err !== null) this.failed.add(client);
      else if (this.failed.has(client)) err = new BrokerAuthError('E_MQTT_INGEST', `gateway ${gatewayId}: an earlier message on this connection was not committed`);
      try {
        head.done(err);
      } catch (thrown) {
        this.options.log?.warn({ component: 'broker', code: 'E_MQTT_PUBLISH_CALLBACK', gatewayId, err: thrown }, 'aedes publish callback threw');
      }
    }
  }
}
