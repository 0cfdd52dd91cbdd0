import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  MessageSecurityMode,
  OPCUAClient,
  RepublishRequest,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  type ClientSession,
  type DataValue,
  type MonitoringParametersOptions,
  type NotificationMessage,
  type StatusCode,
  type UserIdentityInfo,
} from 'node-opcua-client';
import type { RecordClass } from '../../fleet/protocol/index.js';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { type OpcuaConfig, type OpcuaItemConfig, type OpcuaSubscriptionConfig } from './schema.js';
import { SubscriptionTracker } from './sequence-tracker.js';
import { explainError, OpcuaError } from './errors.js';
import { libraryLog } from './library-log.js';
import { msOf, numberOf } from './sample-values.js';
import { parseNodeId } from './node-id.js';
import { describeItemFailure } from './item-failure.js';

export type OpcuaSourceOptions = OpcuaConfig & {
  /** The PKI directory when the config names none (the gateway's state dir for this source). */
  readonly defaultPkiDir: string;
};

/** The Republish service: the session implementation has it, node-opcua's ClientSession interface does not declare it. */
interface Republishing {
  republish(request: RepublishRequest, callback: (err: Error | null, response?: { notificationMessage?: NotificationMessage }) => void): void;
}

interface ItemState {
  readonly config: OpcuaItemConfig;
  ok: boolean;
  status: string | null;
}

interface SubState {
  readonly config: OpcuaSubscriptionConfig;
  readonly stream: string;
  readonly items: ItemState[];
  readonly units: Readonly<Record<string, string>>;
  readonly tracker: SubscriptionTracker;
  /** clientHandle -> item, rebuilt when the server recreated the items (new handles). */
  handles: Map<number, ItemState>;
  groups: { group: ClientMonitoredItemGroup; items: ItemState[] }[];
  /** A republish of the gaps is scheduled or running. */
  filling: boolean;
  /** A new session since the last notification: the next one tells transferred from recreated. */
  sessionChanged: boolean;
  /** Recreated since the connection was lost (then the new session is no transfer). */
  recreatedSinceLoss: boolean;
  sub: ClientSubscription | undefined;
}

/** The status of an item whose `nsu=` namespace URI is not in the server's namespace array (not an OPC UA status code: no request was made). */
const NAMESPACE_UNKNOWN = 'NamespaceUnknown';

const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * One OPC UA server: a session with the configured subscriptions and their monitored items.
 * Each data-change notification (one Publish response) becomes one `samples` record: the
 * values per item name with, per sample, its status code and source/server timestamps (Bad
 * and Uncertain samples are kept and counted). Reconnection is node-opcua's (Part 4 §6.5:
 * reactivate the session and republish, else transfer, else recreate); this class accounts
 * for it: a notification sequence number seen twice is dropped (counted), a gap republish did
 * not fill is counted lost, a recreated subscription is counted (its lost changes are
 * unknowable: the server that had them is gone).
 */
export class OpcuaSource implements Source {
  private ctx: SourceContext | undefined;
  private readonly abort = new AbortController();
  private client: OPCUAClient | undefined;
  private session: ClientSession | undefined;
  private readonly subs: SubState[] = [];
  private run: Promise<void> | undefined;
  private emitChain: Promise<void> = Promise.resolve();
  private pendingSamples = 0;
  private publishSuspended = false;
  private connected = false;
  private everConnected = false;
  private disconnectedSince: number | null = null;
  private lastError: string | null = null;
  private lastErrorCode: string | null = null;
  private password: string | undefined;
  private sessionId: string | null = null;
  private refusedServerCertificate: Buffer | undefined;
  private readonly c = {
    connects: 0,
    connectFailures: 0,
    reconnects: 0,
    connectionLosses: 0,
    sessionsRecreated: 0,
    subscriptionsTransferred: 0,
    subscriptionsRecreated: 0,
    notifications: 0,
    samples: 0,
    duplicateNotifications: 0,
    badSamples: 0,
    uncertainSamples: 0,
    overflowSamples: 0,
    nonNumericSamples: 0,
    droppedSamples: 0,
    publishSuspensions: 0,
    recordsEmitted: 0,
    republished: 0,
  };
  private readonly maxPending: number;

  constructor(private readonly options: OpcuaSourceOptions) {
    this.maxPending = options.maxPendingSamples ?? 100_000;
    for (const s of options.subscriptions) {
      const units: Record<string, string> = {};
      for (const i of s.items) units[i.name] = i.unit ?? '';
      this.subs.push({
        config: s,
        stream: s.stream ?? `${options.id}.${s.name}`,
        items: s.items.map((config) => ({ config, ok: false, status: null })),
        units,
        tracker: new SubscriptionTracker(),
        handles: new Map(),
        groups: [],
        sessionChanged: false,
        recreatedSinceLoss: false,
        filling: false,
        sub: undefined,
      });
    }
  }

  private get pkiDir(): string {
    return this.options.security?.pkiDir ?? this.options.defaultPkiDir;
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    libraryLog.attach(this.options.id, ctx.events);
    if (this.options.user !== undefined) this.password = (await readFile(this.options.user.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
    this.disconnectedSince = Date.now();
    // Connecting goes on in the background: a server that is down at start is retried, not fatal.
    this.run = this.connectLoop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.run;
    const session = this.session;
    this.session = undefined;
    await session?.close(true).catch(() => undefined);
    await this.client?.disconnect().catch(() => undefined);
    this.client = undefined;
    this.connected = false;
    await this.emitChain;
    libraryLog.detach(this.options.id);
  }

  private event(level: 'info' | 'warn' | 'error', name: string, fields: Record<string, unknown>): void {
    this.ctx?.events[level](name, { source: this.options.id, endpoint: this.options.endpoint, ...fields });
  }

  private async connectLoop(): Promise<void> {
    const signal = this.abort.signal;
    const min = this.options.reconnect?.minDelayMs ?? 1000;
    const max = this.options.reconnect?.maxDelayMs ?? 30_000;
    let delay = min;
    while (!signal.aborted) {
      try {
        await this.connectOnce();
        return;
      } catch (err) {
        const e = await this.explain(err as Error);
        this.c.connectFailures += 1;
        this.lastError = e.message;
        this.lastErrorCode = e.code;
        this.event('error', 'opcua.connect_failed', { code: e.code, reason: e.message, retryInMs: delay });
        await this.client?.disconnect().catch(() => undefined);
        this.client = undefined;
        this.session = undefined;
        await sleepUnlessAborted(delay, signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  private explain(err: Error): Promise<OpcuaError> {
    return explainError(err, {
      endpoint: this.options.endpoint,
      pkiDir: this.pkiDir,
      user: this.options.user,
      clientCertificateFile: this.options.security?.certificateFile ?? join(this.pkiDir, 'own', 'certs', 'client_certificate.pem'),
      refusedServerCertificate: this.refusedServerCertificate,
    });
  }

  private async connectOnce(): Promise<void> {
    const o = this.options;
    const mode = o.security?.mode ?? 'None';
    const policy = o.security?.policy ?? (mode === 'None' ? 'None' : 'Basic256Sha256');
    const clientCertificateManager = new OPCUACertificateManager({ rootFolder: this.pkiDir, automaticallyAcceptUnknownCertificate: false });
    await clientCertificateManager.initialize();
    // Which server certificate our trust check refused on this attempt: the error names the rejected file holding it, and no other.
    this.refusedServerCertificate = undefined;
    const check = clientCertificateManager.checkCertificate.bind(clientCertificateManager) as (c: Buffer | Buffer[]) => Promise<StatusCode>;
    (clientCertificateManager as unknown as { checkCertificate: (c: Buffer | Buffer[]) => Promise<StatusCode> }).checkCertificate = async (c) => {
      const status = await check(c);
      if (!status.isGood()) this.refusedServerCertificate = Array.isArray(c) ? c[0] : c;
      return status;
    };
    const client = OPCUAClient.create({
      applicationName: `edgewise-${o.id}`,
      // The server advertises its own host name; we connect to the address the config gives.
      endpointMustExist: false,
      clientCertificateManager,
      ...(o.security?.certificateFile !== undefined ? { certificateFile: o.security.certificateFile, privateKeyFile: o.security.privateKeyFile } : {}),
      securityMode: MessageSecurityMode[mode],
      securityPolicy: SecurityPolicy[policy],
      // No retry inside connect(): our loop retries and explains; afterwards node-opcua reconnects forever.
      connectionStrategy: { maxRetry: 0, initialDelay: o.reconnect?.minDelayMs ?? 1000, maxDelay: o.reconnect?.maxDelayMs ?? 30_000 },
      transportTimeout: o.connectTimeoutMs ?? 10_000,
      keepSessionAlive: true,
      requestedSessionTimeout: o.sessionTimeoutMs ?? 60_000,
    });
    this.client = client;
    await client.connect(o.endpoint);
    (client as unknown as { connectionStrategy: { maxRetry: number } }).connectionStrategy.maxRetry = -1;
    const identity: UserIdentityInfo = o.user === undefined ? { type: UserTokenType.Anonymous } : { type: UserTokenType.UserName, userName: o.user.name, password: this.password ?? '' };
    let session: ClientSession;
    try {
      session = await client.createSession(identity);
    } catch (err) {
      throw await this.explain(err as Error);
    }
    this.session = session;
    this.sessionId = session.sessionId.toString();
    client.on('connection_lost', () => this.lost());
    client.on('connection_reestablished', () => this.reestablished());
    session.on('session_restored', () => this.restored(session));
    const namespaces = this.subs.some((s) => s.items.some((i) => i.config.nodeId.startsWith('nsu='))) ? await session.readNamespaceArray() : [];
    for (const s of this.subs) await this.subscribe(session, s, namespaces);
    this.c.connects += 1;
    this.connected = true;
    this.everConnected = true;
    this.disconnectedSince = null;
    this.lastError = null;
    this.lastErrorCode = null;
    this.event('info', 'opcua.connected', { securityMode: mode, securityPolicy: policy, items: this.subs.reduce((n, s) => n + s.items.filter((i) => i.ok).length, 0) });
  }

  private lost(): void {
    if (this.abort.signal.aborted) return;
    this.connected = false;
    this.c.connectionLosses += 1;
    for (const s of this.subs) s.recreatedSinceLoss = false;
    this.disconnectedSince ??= Date.now();
    this.lastError = 'connection lost';
    this.event('warn', 'opcua.connection_lost', { code: 'E_OPCUA_DISCONNECTED' });
  }

  private reestablished(): void {
    this.connected = true;
    this.c.reconnects += 1;
    this.disconnectedSince = null;
    this.lastError = null;
    this.event('info', 'opcua.reconnected', {});
  }

  /**
   * After a repair: the session was kept (republish filled any gap), or a new session took the
   * subscriptions over (transferred), or the server no longer had them and node-opcua created
   * them again (recreated: what the old ones had queued is lost). A recreated subscription may
   * get the same id from a restarted server: its numbering starting again tells it apart.
   */
  private restored(session: ClientSession): void {
    const id = session.sessionId.toString();
    if (id === this.sessionId) return;
    this.c.sessionsRecreated += 1;
    this.sessionId = id;
    for (const s of this.subs) s.sessionChanged = !s.recreatedSinceLoss;
  }

  private recreated(s: SubState, subscriptionId: number): void {
    this.c.subscriptionsRecreated += 1;
    s.sessionChanged = false;
    s.recreatedSinceLoss = true;
    s.tracker.reset(subscriptionId);
    this.event('warn', 'opcua.subscription_recreated', {
      code: 'E_OPCUA_CHANGES_LOST',
      subscription: s.config.name,
      reason: 'server-restart: the server no longer had the subscription; it was created again, and the changes the old one had queued are lost (how many is unknown)',
    });
  }

  /**
   * The node id node-opcua takes for an item: `nsu=URI;rest` becomes `ns=<index>;rest` by the
   * server's namespace array (read once per connect); undefined when the server has no such
   * namespace. node-opcua's own parser does not take `nsu=` (it throws, failing the connection).
   */
  private resolveNodeId(nodeId: string, namespaces: readonly string[]): string | undefined {
    const parsed = parseNodeId(nodeId);
    if (!parsed.ok || parsed.id.namespaceUri === null) return nodeId;
    const index = namespaces.indexOf(parsed.id.namespaceUri);
    return index < 0 ? undefined : `ns=${index};${parsed.id.kind}=${parsed.id.value}`;
  }

  private async subscribe(session: ClientSession, s: SubState, namespaces: readonly string[]): Promise<void> {
    const c = s.config;
    // An item whose namespace URI the server does not have fails alone; the others are created.
    const nodeIds = new Map<ItemState, string>();
    const unknownNamespace: ItemState[] = [];
    for (const item of s.items) {
      const id = this.resolveNodeId(item.config.nodeId, namespaces);
      if (id === undefined) {
        item.ok = false;
        item.status = NAMESPACE_UNKNOWN;
        unknownNamespace.push(item);
      } else {
        nodeIds.set(item, id);
      }
    }
    const sub = ClientSubscription.create(session, {
      requestedPublishingInterval: c.publishingIntervalMs ?? 1000,
      requestedLifetimeCount: c.lifetimeCount ?? 600,
      requestedMaxKeepAliveCount: c.keepAliveCount ?? 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 1,
    });
    s.sub = sub;
    await new Promise<void>((resolve, reject) => {
      sub.once('started', () => resolve());
      sub.once('internal_error', (err: Error) => reject(new OpcuaError('E_OPCUA_SUBSCRIPTION', `subscription ${c.name} on ${this.options.endpoint}: ${err.message}`)));
    });
    s.tracker.reset(sub.subscriptionId);
    sub.on('received_notifications', (m: NotificationMessage) => this.notification(s, m));
    sub.on('subscriptionId_changed', (newId: number) => this.recreated(s, newId));
    // Items with the same parameters are created in one request.
    const byParams = new Map<string, ItemState[]>();
    for (const item of nodeIds.keys()) {
      const i = item.config;
      const key = JSON.stringify([i.samplingIntervalMs ?? null, i.queueSize ?? 10, i.deadband ?? null]);
      const list = byParams.get(key) ?? [];
      list.push(item);
      byParams.set(key, list);
    }
    s.groups = [];
    for (const items of byParams.values()) {
      const first = items[0]?.config;
      if (first === undefined) continue;
      const params: MonitoringParametersOptions = {
        samplingInterval: first.samplingIntervalMs ?? -1,
        queueSize: first.queueSize ?? 10,
        discardOldest: true,
        ...(first.deadband !== undefined
          ? {
              filter: new DataChangeFilter({
                trigger: DataChangeTrigger.StatusValue,
                deadbandType: first.deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
                deadbandValue: first.deadband.value,
              }),
            }
          : {}),
      };
      const group = ClientMonitoredItemGroup.create(sub, items.map((i) => ({ nodeId: nodeIds.get(i) ?? i.config.nodeId, attributeId: AttributeIds.Value })), params, TimestampsToReturn.Both);
      await new Promise<void>((resolve, reject) => {
        group.once('initialized', () => resolve());
        group.once('err', (message: string) => reject(new OpcuaError('E_OPCUA_SUBSCRIPTION', `monitored items of subscription ${c.name} on ${this.options.endpoint}: ${message}`)));
      });
      s.groups.push({ group, items });
    }
    this.mapHandles(s);
    const failed = s.items.filter((i) => !i.ok);
    if (failed.length > 0) {
      this.event('error', 'opcua.items_failed', {
        code: 'E_OPCUA_ITEMS_FAILED',
        subscription: c.name,
        failed: failed.length,
        items: failed.slice(0, 20).map((i) => describeItemFailure(i.config, i.status ?? 'unknown')),
        ...(unknownNamespace.length > 0 ? { serverNamespaces: namespaces.slice(0, 50).map((n, k) => `${k} ${n}`) } : {}),
      });
    }
  }

  /** clientHandle -> item, and each item's creation status, from the monitored items node-opcua holds. */
  private mapHandles(s: SubState): void {
    s.handles.clear();
    for (const { group, items } of s.groups) {
      group.monitoredItems.forEach((m, i) => {
        const item = items[i];
        if (item === undefined) return;
        const status = m.statusCode;
        item.ok = status.isGood();
        item.status = status.isGood() ? null : status.name;
        s.handles.set(m.monitoringParameters.clientHandle, item);
      });
    }
  }

  private notification(s: SubState, m: NotificationMessage): void {
    if (s.sessionChanged) {
      s.sessionChanged = false;
      // Same subscription id on a new session: transferred if its numbering goes on, recreated if it started again.
      if (m.sequenceNumber <= s.tracker.last && !s.tracker.isMissing(m.sequenceNumber)) this.recreated(s, s.sub?.subscriptionId ?? 0);
      else this.c.subscriptionsTransferred += 1;
    } else if (m.sequenceNumber === 1 && s.tracker.last > 1 && !s.tracker.isMissing(1)) {
      // Numbering started again before session_restored told us of a new session: recreated
      // (1 cannot be a republish: it was acknowledged long ago).
      this.recreated(s, s.sub?.subscriptionId ?? 0);
    }
    if (!s.tracker.accept(m.sequenceNumber)) {
      this.c.duplicateNotifications += 1;
      return;
    }
    this.c.notifications += 1;
    if (s.tracker.gapCount > 0) this.scheduleRepublish(s);
    const values: Record<string, number[]> = {};
    const status: Record<string, number[]> = {};
    const sourceTs: Record<string, (number | null)[]> = {};
    const serverTs: Record<string, (number | null)[]> = {};
    let n = 0;
    let newest = 0;
    for (const nd of m.notificationData ?? []) {
      if (nd === null || (nd as { schema?: { name?: string } }).schema?.name !== 'DataChangeNotification') continue;
      for (const mi of (nd as unknown as { monitoredItems?: { clientHandle: number; value: DataValue }[] }).monitoredItems ?? []) {
        let item = s.handles.get(mi.clientHandle);
        if (item === undefined) {
          this.mapHandles(s);
          item = s.handles.get(mi.clientHandle);
          if (item === undefined) continue;
        }
        const dv = mi.value;
        const sc = dv.statusCode;
        const v = numberOf(dv.value?.value, dv.value?.dataType);
        if (sc.hasOverflowBit) this.c.overflowSamples += 1;
        if (sc.isBad()) this.c.badSamples += 1;
        else if (sc.isNotGood()) this.c.uncertainSamples += 1;
        if (v === undefined && !sc.isBad()) {
          this.c.nonNumericSamples += 1;
          continue;
        }
        const name = item.config.name;
        // A Bad sample usually carries no value: NaN, marked by its status code.
        (values[name] ??= []).push(v ?? Number.NaN);
        (status[name] ??= []).push(sc.value >>> 0);
        const src = msOf(dv.sourceTimestamp);
        const srv = msOf(dv.serverTimestamp);
        (sourceTs[name] ??= []).push(src);
        (serverTs[name] ??= []).push(srv);
        newest = Math.max(newest, src ?? srv ?? 0);
        n += 1;
      }
    }
    if (n === 0) return;
    this.c.samples += n;
    if (this.pendingSamples + n > 2 * this.maxPending) {
      // The server only answers Publish requests we sent, and we stop sending them at maxPending: this is the last guard.
      this.c.droppedSamples += n;
      this.event('error', 'opcua.samples_dropped', { code: 'E_OPCUA_PENDING_FULL', samples: n, pending: this.pendingSamples });
      return;
    }
    const record: RecordInput = {
      stream: s.stream,
      class: (this.options.class ?? 'telemetry') as RecordClass,
      // The newest sample's time (servers may leave publishTime at OPC UA's null date, 1601).
      ts: newest > 0 ? newest : (msOf(m.publishTime) ?? Date.now()),
      data: { subscription: s.config.name, seq: m.sequenceNumber, values, units: s.units, status, sourceTs, serverTs },
    };
    this.pendingSamples += n;
    this.backpressure();
    this.emitChain = this.emitChain.then(() => this.emit(record, n));
  }

  /**
   * Asks the server again for each notification a gap left out. node-opcua republishes after a
   * reconnect only until the first message it already has, so a fresh Publish response that
   * overtook the replay leaves a hole; the server keeps unacknowledged messages for this
   * (Part 4 §5.13.6). Waits one publishing interval first, for node-opcua's own replay to land.
   */
  private scheduleRepublish(s: SubState): void {
    if (s.filling) return;
    s.filling = true;
    const wait = s.config.publishingIntervalMs ?? 1000;
    void sleepUnlessAborted(wait, this.abort.signal)
      .then(() => this.republishGaps(s))
      .catch((err: unknown) => this.event('warn', 'opcua.republish_failed', { code: 'E_OPCUA_REPUBLISH', subscription: s.config.name, reason: (err as Error).message }))
      .finally(() => {
        s.filling = false;
      });
  }

  private async republishGaps(s: SubState): Promise<void> {
    const session = this.session;
    const subscriptionId = s.sub?.subscriptionId;
    if (session === undefined || subscriptionId === undefined) return;
    for (const seq of s.tracker.gapList()) {
      if (this.abort.signal.aborted || s.tracker.subscriptionId !== subscriptionId) return;
      if (!s.tracker.isMissing(seq)) continue;
      const response = await new Promise<{ notificationMessage?: NotificationMessage } | undefined>((resolve) => {
        (session as unknown as Republishing).republish(new RepublishRequest({ subscriptionId, retransmitSequenceNumber: seq }), (err, r) => resolve(err === null ? r : undefined));
      });
      const message = response?.notificationMessage;
      if (message !== undefined && message.sequenceNumber === seq) {
        this.c.republished += 1;
        this.notification(s, message);
        (session as unknown as { getPublishEngine?: () => { acknowledge_notification(id: number, seq: number): void } }).getPublishEngine?.().acknowledge_notification(subscriptionId, seq);
      } else {
        // The server no longer has it: lost, reason republish-unavailable.
        s.tracker.giveUp(seq);
        this.event('warn', 'opcua.notification_lost', { code: 'E_OPCUA_CHANGES_LOST', subscription: s.config.name, sequenceNumber: seq, reason: 'republish-unavailable: the server no longer had this notification' });
      }
    }
  }

  /** Past maxPendingSamples, Publish requests stop: the server holds the changes (its queues are the protocol's backpressure). */
  private backpressure(): void {
    const engine = (this.session as unknown as { getPublishEngine?: () => { suspend(s: boolean): void } } | undefined)?.getPublishEngine?.();
    if (engine === undefined) return;
    if (!this.publishSuspended && this.pendingSamples >= this.maxPending) {
      this.publishSuspended = true;
      this.c.publishSuspensions += 1;
      engine.suspend(true);
    } else if (this.publishSuspended && this.pendingSamples < this.maxPending / 2) {
      this.publishSuspended = false;
      engine.suspend(false);
    }
  }

  private async emit(record: RecordInput, n: number): Promise<void> {
    const ctx = this.ctx;
    try {
      if (ctx === undefined) return;
      const failed = (err: unknown): void => this.event('error', 'opcua.emit_failed', { code: 'E_OPCUA_EMIT', stream: record.stream, reason: (err as Error).message });
      try {
        const receipt = await ctx.emit([record]);
        this.c.recordsEmitted += 1;
        receipt.stored.catch(failed);
      } catch (err) {
        failed(err);
      }
    } finally {
      this.pendingSamples -= n;
      this.backpressure();
    }
  }

  stats(): Record<string, number | string | boolean | null> {
    const mode = this.options.security?.mode ?? 'None';
    const out: Record<string, number | string | boolean | null> = {
      endpoint: this.options.endpoint,
      securityMode: mode,
      connected: this.connected,
      ...this.c,
      pendingSamples: this.pendingSamples,
      publishSuspended: this.publishSuspended,
      'lostNotifications.republishUnavailable': this.subs.reduce((k, s) => k + s.tracker.lost, 0),
      missingNotifications: this.subs.reduce((k, s) => k + s.tracker.gapCount, 0),
      'lostNotifications.subscriptionRecreated': this.c.subscriptionsRecreated,
      'lostNotifications.serverQueueOverflow': this.c.overflowSamples,
      itemsOk: 0,
      itemsFailed: 0,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
    };
    const failed: string[] = [];
    for (const s of this.subs) {
      for (const i of s.items) {
        if (i.ok) out['itemsOk'] = (out['itemsOk'] as number) + 1;
        else if (i.status !== null) {
          out['itemsFailed'] = (out['itemsFailed'] as number) + 1;
          out[`itemsFailed.${i.status}`] = ((out[`itemsFailed.${i.status}`] as number | undefined) ?? 0) + 1;
          failed.push(describeItemFailure(i.config, i.status));
        }
      }
    }
    const reasons: string[] = [];
    if (!this.connected) {
      const since = new Date(this.disconnectedSince ?? Date.now()).toISOString();
      reasons.push(`${this.everConnected ? 'disconnected' : 'not connected'} from ${this.options.endpoint} since ${since}${this.lastError === null ? '' : `: ${this.lastError}`}`);
    }
    if (failed.length > 0) reasons.push(`${failed.length} monitored item(s) failed to create: ${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', ...' : ''}`);
    if (reasons.length > 0) {
      out['degraded'] = true;
      out['degradedReason'] = reasons.join('; ');
    }
    return out;
  }
}
