import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import type { ServiceHealth } from '../api/deps.js';
import { TokenStore } from '../api/tokens.js';
import { ownPublishKind } from '../broker/acl.js';
import { BrokerAuth } from '../broker/broker-auth.js';
import { EmbeddedBroker } from '../broker/embedded-broker.js';
import { describeDatabase, openDatabase, type Sql } from '../db/open-database.js';
import { vacuumEmbedded } from '../db/maintain.js';
import { timedSql } from '../db/timed-sql.js';
import { ChangeFeed } from '../events/change-feed.js';
import { EventStore, type RetentionPolicy } from '../events/event-store.js';
import { Ingest } from '../ingest/ingest.js';
import { MAX_PENDING_LEARNING_CHUNKS, MqttIngestClient, type LearningChunkSink } from '../ingest/mqtt-ingest-client.js';
import { DelegatedModelPublisher } from '../federated/service/delegated-publisher.js';
import { FederatedService } from '../federated/service/federated-service.js';
import { loadPrivateKey } from '../repo/keys.js';
import type { SigningKey } from '../repo/repo-error.js';
import { repositoryReleases, type GlobalModelPublisher } from '../federated/service/global-model.js';
import type { LearningTransport } from '../federated/service/task-runner.js';
import { FleetMetrics } from '../metrics.js';
import { GatewayMetricsStore, METRICS_RETENTION_MS } from '../registry/gateway-metrics.js';
import { Registry, gatewayClientId } from '../registry/registry.js';
import { encodeReleaseNotice, gatewayTopics } from '../protocol/index.js';
import { listReleases } from '../repo/releases.js';
import { RolloutDriver, type ReleaseNotifier } from '../rollouts/rollout-driver.js';
import { Rollouts } from '../rollouts/rollouts.js';
import { lockDataDir } from './data-dir-lock.js';
import { fleetMqttIdentity } from './fleet-identity.js';
import { newestRoot } from './newest-root.js';
import { readSecretFile, writeSecretFile } from './secrets.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface FleetServiceOptions {
  readonly dataDir: string;
  /** `embedded` or an mqtt(s):// URL of an external broker. */
  readonly broker: string;
  /** `embedded` (PGlite under dataDir), `memory`, or a postgres:// URL. */
  readonly db: string;
  readonly http: HostPort;
  /** Where the embedded broker listens. */
  readonly mqtt: HostPort;
  /** TLS listener of the embedded broker (PEM files). */
  readonly mqttTls?: { readonly port: number; readonly keyFile: string; readonly certFile: string; readonly caFile?: string };
  /** The broker URL written into gateway configs (default: from the listener, with this host's name for 0.0.0.0). */
  readonly publicBrokerUrl?: string;
  /** The TUF repository of model releases (default DATA_DIR/repo, if it exists). */
  readonly repoDir?: string;
  /** Where gateways fetch it (`edgewise repo serve`), for their `updates` section. */
  readonly repoUrl?: string;
  readonly retention: RetentionPolicy;
  /** How long gateways' metrics samples are kept (default METRICS_RETENTION_MS, 24 h). */
  readonly metricsRetentionMs?: number;
  /** Health reports sampled for the console's charts at most this often per gateway (default a minute). */
  readonly metricsIntervalMs?: number;
  readonly logger: Logger;
  /**
   * Releases each federated round's new global model (the task's delegated TUF signer). Without
   * one, a round's model is not released (its record says why) and the next round starts from
   * the previous model.
   */
  readonly learningPublisher?: GlobalModelPublisher;
  /**
   * The repository's online snapshot and timestamp keys (`snapshot-*.key`, `timestamp-*.key`):
   * given, and no `learningPublisher`, rounds' models are released by each task's delegated role
   * (DelegatedModelPublisher, keys under DATA_DIR/federated/<task>/).
   */
  readonly repoOnlineKeys?: string;
}

/** The online keys of a repository's snapshot and timestamp roles, by their file names. */
async function onlineKeys(dir: string): Promise<{ snapshot: SigningKey[]; timestamp: SigningKey[] }> {
  const names = await readdir(dir);
  const load = async (role: 'snapshot' | 'timestamp'): Promise<SigningKey[]> => {
    const files = names.filter((n) => n.startsWith(`${role}-`) && n.endsWith('.key')).sort();
    if (files.length === 0) throw Object.assign(new Error(`--repo-online-keys ${dir}: no ${role}-*.key file`), { code: 'E_KEY_INVALID' });
    return Promise.all(files.map(async (f) => { const k = await loadPrivateKey(join(dir, f)); return { keyid: k.keyid, key: k.key }; }));
  };
  return { snapshot: await load('snapshot'), timestamp: await load('timestamp') };
}

/** Until a delegated signer is wired in: the round's record says why its model was not released. */
const NO_LEARNING_PUBLISHER: GlobalModelPublisher = {
  publish: async () => {
    throw Object.assign(new Error('this fleet has no signer for federated global models (start it with --repo-online-keys); the model was not released'), { code: 'E_RELEASE_UNSIGNED' });
  },
};

/** Everything `edgewise fleet` prints at start and writes to DATA_DIR/fleet.json for the CLI. */
export interface FleetEndpoints {
  readonly pid: number;
  readonly apiUrl: string;
  /** The API as a command on this machine reaches it. */
  readonly localApiUrl: string;
  readonly brokerUrl: string;
  readonly brokerTlsUrl: string | null;
  readonly operatorTokenFile: string;
  readonly database: string;
}

const SWEEP_INTERVAL_MS = 3_600_000;
/** How often the leader looks for tasks created or stopped through another instance (external broker). */
const LEARNING_REFRESH_MS = 2000;
/** A failed ingest commit this recent makes /health say degraded. */
const INGEST_ERROR_WINDOW_MS = 60_000;

function urlHost(host: string): string {
  const h = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return h.includes(':') ? `[${h}]` : h;
}

/**
 * The fleet service in one process: fleet state in SQL, the registry, the broker (embedded
 * aedes with authentication and ACL, or an external one), ingest of every gateway's
 * messages, and the HTTP API. One data directory, held by a lock.
 */
export class FleetService {
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly o: FleetServiceOptions,
    readonly sql: Sql,
    readonly registry: Registry,
    readonly ingest: Ingest,
    readonly metrics: FleetMetrics,
    readonly events: EventStore,
    readonly api: FastifyInstance,
    readonly broker: EmbeddedBroker | undefined,
    readonly external: ExternalIngest | undefined,
    private readonly release: () => Promise<void>,
    readonly endpoints: FleetEndpoints,
  ) {}

  static async start(o: FleetServiceOptions): Promise<FleetService> {
    const lock = await lockDataDir(o.dataDir);
    const cleanups: (() => Promise<unknown>)[] = [() => lock.release()];
    const unwind = async (): Promise<void> => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    };
    try {
      const metrics = new FleetMetrics();
      const sql = timedSql(await openDatabase(o.db, o.dataDir), (op, seconds) => metrics.dbLatency.observe({ op }, seconds));
      cleanups.push(() => sql.close());
      // What this process commits, for the live stream (GET /v1/live).
      const changes = new ChangeFeed();
      const registry = new Registry(sql, changes);
      const events = new EventStore(sql);
      const ingest = new Ingest(sql, metrics, { changes, ...(o.metricsIntervalMs === undefined ? {} : { metricsIntervalMs: o.metricsIntervalMs }) });
      cleanups.push(() => ingest.close());
      const tokens = new TokenStore(sql);
      const identity = await fleetMqttIdentity(sql, o.dataDir);

      let broker: EmbeddedBroker | undefined;
      // Set once the broker is up; updates cannot come before (nobody is connected yet).
      let learning: FederatedService | undefined;
      // With an external broker, only the leader (the instance holding the rollouts lease)
      // reads from it: the session is one (edgewise-fleet, persistent), and two readers would
      // take it from each other. Another instance takes it over, with what the broker kept.
      // The leader's session also takes the gateways' update chunks to the round service, and
      // only the leader runs rounds.
      const learningChunks: LearningChunkSink = {
        accept: (gw, payload) => {
          metrics.messagesIn.inc({ kind: 'learning-update' });
          return learning?.acceptChunk(gw, payload) ?? Promise.resolve();
        },
        acceptSecAgg: (gw, payload) => {
          metrics.messagesIn.inc({ kind: 'learning-secagg' });
          return learning?.acceptSecAgg(gw, payload) ?? Promise.resolve();
        },
        overflow: (gw) => {
          metrics.learningChunks.inc({ result: 'capacity' });
          o.logger.warn({ component: 'federated', event: 'learning.chunk_refused', gatewayId: gw, code: 'E_FEDERATED_CAPACITY', reason: `${MAX_PENDING_LEARNING_CHUNKS} chunks still being handled` }, 'update chunk dropped');
        },
      };
      const external = o.broker === 'embedded' ? undefined : new ExternalIngest(() => MqttIngestClient.connect({ url: o.broker, password: identity.password, ingest, learning: learningChunks }));
      if (external !== undefined) cleanups.push(() => external.lead(false));
      if (o.broker === 'embedded') {
        // Nobody can be connected to a broker that is only starting.
        await registry.store.markAllOffline();
        const auth = new BrokerAuth({
          credentials: (id) => registry.store.credentials(id),
          fleetPasswordScrypt: identity.scrypt,
          metrics,
          // Federated update chunks and secure-aggregation messages go to the round service; everything else to ingest.
          onGatewayPublish: (gw, topic, payload) => {
            const kind = ownPublishKind(gw, topic);
            if (kind === 'learning-update') return learning?.acceptChunk(gw, payload) ?? Promise.resolve();
            if (kind === 'learning-secagg') return learning?.acceptSecAgg(gw, payload) ?? Promise.resolve();
            return ingest.accept(topic, payload, gw);
          },
          log: { warn: (fields, message) => o.logger.warn({ component: 'broker', ...fields }, message) },
        });
        const tls =
          o.mqttTls === undefined
            ? undefined
            : {
                port: o.mqttTls.port,
                key: await readFile(o.mqttTls.keyFile),
                cert: await readFile(o.mqttTls.certFile),
                ...(o.mqttTls.caFile === undefined ? {} : { ca: await readFile(o.mqttTls.caFile) }),
              };
        broker = await EmbeddedBroker.create({ host: o.mqtt.host, port: o.mqtt.port, auth, ...(tls === undefined ? {} : { tls }), log: { warn: (fields, message) => o.logger.warn({ component: 'broker', ...fields }, message) } });
        const b = broker;
        cleanups.push(() => b.close());
        registry.onRevoked((id) => {
          auth.forget(id);
          void b.dropClient(gatewayClientId(id));
        });
      }

      const brokerUrl = broker !== undefined ? `mqtt://${urlHost(o.mqtt.host)}:${broker.listeningPort}` : o.broker;
      const brokerTlsUrl = broker?.tlsUrl === undefined ? null : `mqtts://${urlHost(o.mqtt.host)}:${broker.tlsPort}`;
      const repoDir = o.repoDir ?? join(o.dataDir, 'repo');
      const repoUrl = o.repoUrl?.replace(/\/$/, '');
      const health = async (): Promise<ServiceHealth> => FleetService.health(sql, ingest, broker, external);
      const provisioning = {
        brokerUrl: o.publicBrokerUrl ?? brokerTlsUrl ?? brokerUrl,
        ...(repoUrl === undefined ? {} : { updates: { metadataUrl: `${repoUrl}/metadata`, targetBaseUrl: `${repoUrl}/targets` } }),
      };
      // Commands that provision while the fleet is stopped read this.
      await sql.query(`INSERT INTO fleet_settings (key, value) VALUES ('fleet.provisioning', $1::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [JSON.stringify(provisioning)]);
      const rollouts = new Rollouts(sql, () => listReleases(repoDir));
      const notifier: ReleaseNotifier = {
        notify: async (gw, notice) => {
          const payload = Buffer.from(encodeReleaseNotice(notice));
          if (broker !== undefined) await broker.publish(gatewayTopics.releaseNotice(gw), payload, { qos: 1 });
          else await external?.client?.publish(gatewayTopics.releaseNotice(gw), payload);
          metrics.messagesOut.inc({ kind: 'release' });
        },
      };
      const driver = new RolloutDriver({
        sql,
        notifier,
        holder: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
        log: { info: (fields, message) => o.logger.info({ component: 'rollouts', ...fields }, message), warn: (fields, message) => o.logger.warn({ component: 'rollouts', ...fields }, message) },
        ...(external === undefined
          ? {}
          : {
              onLeadership: (leader: boolean) =>
                void external.lead(leader).catch((err: unknown) => o.logger.warn({ component: 'fleet', event: 'fleet.leadership_failed', leader, reason: (err as Error).message }, 'taking or leaving the external broker session failed')),
            }),
      });
      driver.start();
      const learningTransport: LearningTransport = {
        publish: async (topic, payload, { retain }) => {
          if (broker !== undefined) await broker.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1, retain });
          // No session: this instance does not lead (any more), and a runner stopped by the
          // stand-down has nothing to say that the next leader will not say again.
          else await external?.client?.publish(topic, payload, retain);
        },
      };
      // With an external broker the round service serves the API (tasks are stored) on every
      // instance and runs rounds on the leader only (external.attachRounds below).
      learning = await FederatedService.start({
        sql,
        registry,
        releases: repositoryReleases(repoDir, () => listReleases(repoDir)),
        publisher: o.learningPublisher ?? (o.repoOnlineKeys === undefined ? NO_LEARNING_PUBLISHER : new DelegatedModelPublisher({ repoDir, keysDir: join(o.dataDir, 'federated'), online: await onlineKeys(o.repoOnlineKeys) })),
        transport: learningTransport,
        metrics,
        changes,
        runRounds: broker !== undefined,
        log: { info: (fields, message) => o.logger.info({ component: 'federated', ...fields }, message), warn: (fields, message) => o.logger.warn({ component: 'federated', ...fields }, message) },
        onModelReleased: async (r) => {
          o.logger.info({ component: 'federated', event: 'learning.model_released', task: r.task, round: r.round, release: r.release.release }, 'new global model released');
          const spec = (await learningService.getTask(r.task)).schedule.rollout;
          if (spec === null) return;
          // One rollout of a task's model at a time: a release made while the last one is still
          // going out waits for the next round's (the gates judge each release on its own).
          const busy = [...(await rollouts.store.list('running')), ...(await rollouts.store.list('paused'))].find((x) => x.model === r.release.name);
          if (busy !== undefined) {
            o.logger.info({ component: 'federated', event: 'learning.rollout_skipped', task: r.task, round: r.round, release: r.release.release, busy: busy.id }, 'a rollout of this model is still going; this release is not rolled out');
            return;
          }
          const started = await rollouts.create({ ...spec, target: r.release.fetch.target, name: `learning ${r.task} round ${r.round}` });
          o.logger.info({ component: 'federated', event: 'learning.rollout_started', task: r.task, round: r.round, release: r.release.release, rollout: started.rollout.id }, 'rollout of the new global model started');
        },
      });
      const learningService = learning;
      cleanups.push(() => learningService.close());
      if (external !== undefined) {
        await external.attachRounds(learningService);
        // Tasks created or stopped through another instance's API reach the leader's runners.
        const refresh = setInterval(() => void learningService.refresh(), LEARNING_REFRESH_MS);
        refresh.unref();
        // Before the round service closes: its runners may wait on a publish that only the session's end releases.
        cleanups.push(async () => {
          clearInterval(refresh);
          await external.lead(false);
        });
      }
      // Reports in: the driver looks at once (a wave ends when its last report is stored).
      ingest.onUpdateReports = () => driver.nudge();
      cleanups.push(() => driver.stop());
      const api = await buildApi({
        registry,
        events,
        changes,
        tokens,
        rollouts,
        learning: learningService,
        releases: () => listReleases(repoDir),
        health,
        metrics,
        provisioning,
        rootJson: () => newestRoot(repoDir),
        fleetMosquittoHash: async () => identity.mosquitto,
      }, { logger: o.logger.child({ component: 'api' }) });
      cleanups.push(() => api.close());
      await api.listen({ host: o.http.host, port: o.http.port });
      const addr = api.server.address();
      const httpPort = addr !== null && typeof addr === 'object' ? addr.port : o.http.port;

      // An operator token in DATA/operator-token (0600, never printed): made at the first start,
      // and made again when the file is gone or holds a token that no longer works (revoked,
      // or lost in a crash between the database and the file), so nobody is locked out.
      const operatorTokenFile = join(o.dataDir, 'operator-token');
      const existing = await readSecretFile(operatorTokenFile);
      const works = existing !== undefined && (await tokens.verify(existing))?.role === 'read-write';
      if (!works) {
        const t = await tokens.create('read-write', existing === undefined ? 'operator token (DATA/operator-token)' : 'operator token (DATA/operator-token, re-issued)');
        await writeSecretFile(operatorTokenFile, `${t.token}\n`);
        o.logger.info({ component: 'fleet', event: 'fleet.token_issued', file: operatorTokenFile }, 'operator token written');
      }

      const endpoints: FleetEndpoints = {
        pid: process.pid,
        apiUrl: `http://${urlHost(o.http.host)}:${httpPort}`,
        localApiUrl: `http://${o.http.host === '0.0.0.0' || o.http.host === '::' ? '127.0.0.1' : urlHost(o.http.host)}:${httpPort}`,
        brokerUrl: o.publicBrokerUrl ?? brokerUrl,
        brokerTlsUrl,
        operatorTokenFile,
        database: describeDatabase(o.db, o.dataDir),
      };
      await writeFile(join(o.dataDir, 'fleet.json'), `${JSON.stringify(endpoints, null, 2)}\n`);
      const service = new FleetService(o, sql, registry, ingest, metrics, events, api, broker, external, unwind, endpoints);
      service.startSweeps();
      return service;
    } catch (err) {
      await unwind();
      throw err;
    }
  }

  private static async health(sql: Sql, ingest: Ingest, broker: EmbeddedBroker | undefined, external: ExternalIngest | undefined): Promise<ServiceHealth> {
    const t0 = performance.now();
    let database: ServiceHealth['database'];
    try {
      await Promise.race([sql.query('SELECT 1'), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref())]);
      database = { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10, detail: `${sql.backend} answers` };
    } catch (err) {
      database = { ok: false, latencyMs: null, detail: `${sql.backend}: ${(err as Error).message}` };
    }
    const brokerOk = broker !== undefined ? broker.listening : external?.leader === false || external?.client?.connected === true;
    const s = ingest.stats();
    const recentError = s.lastErrorMs !== null && Date.now() - s.lastErrorMs < INGEST_ERROR_WINDOW_MS;
    const ingestHealth = { ok: !recentError, queued: s.queued, lagMs: s.lastCommitMs === null ? null : Date.now() - s.lastCommitMs, detail: recentError ? `last commit failed: ${s.lastError ?? ''}` : 'committing' };
    const brokerHealth = {
      ok: brokerOk,
      detail:
        broker !== undefined
          ? brokerOk
            ? `embedded, ${broker.url}`
            : 'embedded broker not listening'
          : external?.leader === false
            ? 'external broker: another fleet instance leads and ingests; this one serves the API'
            : brokerOk
              ? 'external broker connected'
              : `external broker not connected${external?.client?.lastError == null ? '' : `: ${external.client.lastError}`}`,
    };
    return { status: database.ok && brokerOk && ingestHealth.ok ? 'ok' : 'degraded', broker: brokerHealth, database, ingest: ingestHealth };
  }

  private startSweeps(): void {
    const history = new GatewayMetricsStore(this.sql);
    const sweep = (): void => {
      void history.sweep(this.o.metricsRetentionMs ?? METRICS_RETENTION_MS, Date.now()).then(
        (n) => {
          if (n > 0) this.o.logger.info({ component: 'retention', event: 'gateway_metrics.swept', deleted: n }, 'gateway metrics samples past retention deleted');
        },
        (err: unknown) => this.o.logger.warn({ component: 'retention', event: 'gateway_metrics.sweep_failed', code: 'E_DB', reason: (err as Error).message }, 'retention sweep of gateway metrics failed'),
      );
      void this.events.sweep(this.o.retention, Date.now()).then(
        (n) => {
          if (n > 0) this.o.logger.info({ component: 'retention', event: 'events.swept', deleted: n }, 'events past retention deleted');
        },
        (err: unknown) => this.o.logger.warn({ component: 'retention', event: 'events.sweep_failed', code: 'E_DB', reason: (err as Error).message }, 'retention sweep failed'),
      );
    };
    sweep();
    this.sweepTimer = setInterval(() => {
      sweep();
      void this.vacuum();
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Hourly, after the sweep: the embedded database vacuums nothing by itself (see vacuumEmbedded). */
  private async vacuum(): Promise<void> {
    const started = Date.now();
    try {
      if (!(await vacuumEmbedded(this.sql))) return;
      this.o.logger.info({ component: 'retention', event: 'db.vacuumed', ms: Date.now() - started }, 'embedded database vacuumed');
    } catch (err) {
      this.o.logger.warn({ component: 'retention', event: 'db.vacuum_failed', code: 'E_DB', reason: (err as Error).message }, 'vacuum of the embedded database failed');
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.sweepTimer);
      await rm(join(this.o.dataDir, 'fleet.json'), { force: true });
      await this.release();
    })();
    return this.stopping;
  }
}

/** What runs only on the leader: the round service's rounds. */
interface LeaderOnly {
  lead(leader: boolean): Promise<void>;
}

/**
 * The external broker's session, held by the leader only, and the rounds that need it. Changes
 * of leadership are applied one at a time, in the order the lease gave them.
 */
export class ExternalIngest {
  client: MqttIngestClient | undefined;
  leader = false;
  private rounds: LeaderOnly | undefined;
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly connect: () => MqttIngestClient) {}

  lead(leader: boolean): Promise<void> {
    return this.serially(async () => {
      this.leader = leader;
      if (leader) {
        this.client ??= this.connect();
        await this.rounds?.lead(true);
        return;
      }
      const c = this.client;
      this.client = undefined;
      // Together: a runner stopping may wait on a publish that only the session's end releases.
      await Promise.all([this.rounds?.lead(false), c?.close().catch(() => undefined)]);
    });
  }

  /** The round service, once started (after the lease may have been taken): it runs rounds while this instance leads. */
  attachRounds(rounds: LeaderOnly): Promise<void> {
    return this.serially(async () => {
      this.rounds = rounds;
      await rounds.lead(this.leader);
    });
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
