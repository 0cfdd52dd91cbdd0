import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientSession, NotificationMessage, OPCUAClient } from 'node-opcua-client';
import type { RecordClass } from '../../fleet/protocol/index.js';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { createClient, openSession, securityOf } from './connection.js';
import { newCounters } from './counters.js';
import { explainError, type OpcuaError } from './errors.js';
import { GapRecovery } from './gap-recovery.js';
import { describeItemFailure } from './item-failure.js';
import { libraryLog } from './library-log.js';
import { samplesOf } from './notification-samples.js';
import { PublishBackpressure } from './publish-backpressure.js';
import { msOf } from './sample-values.js';
import type { OpcuaConfig } from './schema.js';
import { newSubState, subscribe, type SubState } from './subscription.js';

export type OpcuaSourceOptions = OpcuaConfig & {
  /** The PKI directory when the config names none (the gateway's state dir for this source). */
  readonly defaultPkiDir: string;
};

/**
 * One OPC UA server: a session with the configured subscriptions and their monitored items.
 * Each data-change notification (one Publish response) becomes one `samples` record: the
 * values per item name with, per sample, its status code and source/server timestamps (Bad
 * and Uncertain samples are kept and counted). Reconnection is node-opcua's (Part 4 §6.5:
 * reactivate the session and republish, else transfer, else recreate); this class accounts
 * for it: a notification sequence number seen twice is dropped (counted), a gap republish did
 * not fill is counted lost, a recreated subscription is counted (its lost changes are
 * unknowable: the server that had them is gone).
 *
 * Its parts: connection.ts (client and session), subscription.ts (subscriptions and monitored
 * items), notification-samples.ts (a notification's samples), gap-recovery.ts (Republish of
 * gaps), publish-backpressure.ts (the bound on pending samples).
 */
export class OpcuaSource implements Source {
  private ctx: SourceContext | undefined;
  private readonly abort = new AbortController();
  private client: OPCUAClient | undefined;
  private session: ClientSession | undefined;
  private readonly subs: SubState[] = [];
  private run: Promise<void> | undefined;
  private emitChain: Promise<void> = Promise.resolve();
  private connected = false;
  private everConnected = false;
  private disconnectedSince: number | null = null;
  private lastError: string | null = null;
  private lastErrorCode: string | null = null;
  private password: string | undefined;
  private sessionId: string | null = null;
  private refusedServerCertificate: Buffer | undefined;
  private readonly c = newCounters();
  private readonly backpressure: PublishBackpressure;
  private readonly gaps: GapRecovery;
  private readonly event = (level: 'info' | 'warn' | 'error', name: string, fields: Record<string, unknown>): void => {
    this.ctx?.events[level](name, { source: this.options.id, endpoint: this.options.endpoint, ...fields });
  };

  constructor(private readonly options: OpcuaSourceOptions) {
    this.backpressure = new PublishBackpressure(options.maxPendingSamples ?? 100_000, this.c);
    this.gaps = new GapRecovery({
      session: () => this.session,
      signal: this.abort.signal,
      recovered: (s, message) => {
        this.c.republished += 1;
        this.notification(s, message);
      },
      event: this.event,
    });
    for (const s of options.subscriptions) this.subs.push(newSubState(s, options.id));
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
        // A stopping source does not wait out its backoff.
        await sleep(delay, undefined, { signal }).catch(() => undefined);
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
    const { mode, policy } = securityOf(this.options);
    // Which server certificate our trust check refused on this attempt: the error names the rejected file holding it, and no other.
    this.refusedServerCertificate = undefined;
    const client = await createClient(this.options, this.pkiDir, (certificate) => (this.refusedServerCertificate = certificate));
    this.client = client;
    const session = await openSession(client, this.options, this.password);
    this.session = session;
    this.sessionId = session.sessionId.toString();
    client.on('connection_lost', () => this.lost());
    client.on('connection_reestablished', () => this.reestablished());
    session.on('session_restored', () => this.restored(session));
    const namespaces = this.subs.some((s) => s.items.some((i) => i.config.nodeId.startsWith('nsu='))) ? await session.readNamespaceArray() : [];
    const listener = { notification: (s: SubState, m: NotificationMessage) => this.notification(s, m), recreated: (s: SubState, id: number) => this.recreated(s, id) };
    for (const s of this.subs) await subscribe(session, s, namespaces, this.options.endpoint, listener, this.event);
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
    if (s.tracker.gapCount > 0) this.gaps.schedule(s);
    const { values, status, sourceTs, serverTs, n, newest } = samplesOf(s, m, this.c);
    if (n === 0) return;
    this.c.samples += n;
    if (this.backpressure.pending + n > 2 * this.backpressure.max) {
      // The server only answers Publish requests we sent, and we stop sending them at maxPending: this is the last guard.
      this.c.droppedSamples += n;
      this.event('error', 'opcua.samples_dropped', { code: 'E_OPCUA_PENDING_FULL', samples: n, pending: this.backpressure.pending });
      return;
    }
    const record: RecordInput = {
      stream: s.stream,
      class: (this.options.class ?? 'telemetry') as RecordClass,
      // The newest sample's time (servers may leave publishTime at OPC UA's null date, 1601).
      ts: newest > 0 ? newest : (msOf(m.publishTime) ?? Date.now()),
      data: { subscription: s.config.name, seq: m.sequenceNumber, values, units: s.units, status, sourceTs, serverTs },
    };
    this.backpressure.pending += n;
    this.backpressure.apply(this.session);
    this.emitChain = this.emitChain.then(() => this.emit(record, n));
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
      this.backpressure.pending -= n;
      this.backpressure.apply(this.session);
    }
  }

  /** False until the first session is up and while node-opcua repairs a lost connection. */
  answering(): boolean {
    return this.connected;
  }

  stats(): Record<string, number | string | boolean | null> {
    const mode = this.options.security?.mode ?? 'None';
    const out: Record<string, number | string | boolean | null> = {
      endpoint: this.options.endpoint,
      securityMode: mode,
      connected: this.connected,
      ...this.c,
      pendingSamples: this.backpressure.pending,
      publishSuspended: this.backpressure.suspended,
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
