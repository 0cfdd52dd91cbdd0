import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from './health/prom-client.js';
import { encodeHealth, gatewayTopics } from '../fleet/protocol/index.js';
import type { InferenceBackend } from '../models/engine/engine.js';
import type { GatewayConfig } from './config/load.js';
import { ConfigError, EdgewiseError } from './errors.js';
import { EventLog, type ComponentEvents } from './health/events.js';
import { GatewayHardwareProbe } from './health/hardware.js';
import { buildHealthReport, type GatewayHealthReport, type SparkplugHealth, type StoreCondition } from './health/health-report.js';
import { registerGatewayMetrics } from './health/metrics.js';
import { PeriodicSummary, summaryText } from './health/periodic-summary.js';
import { join } from 'node:path';
import type { DecisionSink, Source } from './pipeline/components.js';
import { createPlugin, type CreateEnv } from './pipeline/registry.js';
import { Pipeline, type StageSpec } from './pipeline/pipeline.js';
import type { PluginRegistry } from './pipeline/registry.js';
import { Database } from './store/database.js';
import { DecisionLog, type DecisionEntry } from './store/decision-log.js';
import { FLEET_CONSUMER, Outbox } from './store/outbox.js';
import { StoreBudget, levelOptionsFor } from './store/store-budget.js';
import { StoreProbe } from './store/store-probe.js';
import type { LivenessCheck, WatchdogEvents } from './systemd/watchdog.js';
import { StoreWriter } from './store/store-writer.js';
import { readUplinkFiles } from './uplink/mqtt-options.js';
import { MqttUplink } from './uplink/uplink.js';
import type { SparkplugEdgeNode } from './uplink/sparkplug/edge-node.js';
import type { DeviceLiveness } from './uplink/sparkplug/device-liveness.js';
import type { OutboxFeed } from './uplink/sparkplug/outbox-feed.js';
import { ManagedModels } from './updater/managed-models.js';
import type { UpdateService } from './updater/service.js';
import { LearnerRegistry } from './federated/learner.js';
import type { RoundClient } from './federated/round-client.js';
import { LazyBackend } from './inference/lazy-backend.js';
import { RUNTIME_VERSION } from './version.js';
import { defaults } from './config/defaults.js';
import { missingDependencyFixes } from './dependency-fixes.js';
import { startHeapTrim } from './heap-trim.js';
import { startBusyModeOnLoad } from './busy-mode.js';

const DECISION_SWEEP_MS = 3_600_000;
/** The one-line summary at info, by default. */
const SUMMARY_INTERVAL_MS = 60_000;
/** How often the data directory and its filesystem are measured (store-budget.ts). */
const STORE_MEASURE_MS = 250;

/** Hands entries to the decision log once it is open (plug-ins are built before it). */
class ForwardingDecisionSink implements DecisionSink {
  target: DecisionLog | undefined;
  append(entry: DecisionEntry): Promise<void> {
    if (this.target === undefined) return Promise.reject(new Error('decision log not open yet'));
    return this.target.append(entry);
  }
}

export interface GatewayOptions {
  readonly logger: Logger;
  readonly runtimeVersion?: string;
  /**
   * The inference backend, instead of the one the config's `inference` section names (built
   * from the registry's plug-in on first use). Every stage runs its models on it, the updater
   * health-checks new releases on it, and the health report shows what its probe found.
   */
  readonly backend?: InferenceBackend;
  /** How often the gateway logs its one-line summary at info (default a minute). */
  readonly summaryIntervalMs?: number;
}

/** The Sparkplug B edge node and the outbox feed it drains (a config with a `sparkplug` section). */
interface SparkplugUplink {
  readonly node: SparkplugEdgeNode;
  readonly feed: OutboxFeed;
  /** Sources' `answering()` -> the node's DDEATH / DBIRTH. */
  readonly liveness: DeviceLiveness;
}

/**
 * A gateway wired from its config. The data path, top to bottom:
 *
 *   source -> edge -> stage ... -> edge -> StoreWriter -> Outbox (LevelDB) -> MqttUplink -> broker        (consumer 'fleet')
 *                                                                          \-> SparkplugEdgeNode -> plant broker
 *                                                                              (consumer 'sparkplug', with a `sparkplug` section)
 *                                                         DecisionLog (LevelDB, audit)
 *
 * `create` opens the store and builds every component; `start` starts them from the
 * store outwards; `stop` stops them from the sources inwards, draining what is in flight.
 */
export class Gateway {
  private readonly startedAtMs = Date.now();
  private healthTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private stopHeapTrim: () => void = () => undefined;
  private stopBusyWatch: () => void = () => undefined;
  private readonly summary = new PeriodicSummary();
  /** Set by create from the options. */
  private summaryIntervalMs = SUMMARY_INTERVAL_MS;
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;
  private stopOnConnect: (() => void) | undefined;
  private storeProbe: StoreProbe | undefined;
  /** Since when, and why, the systemd watchdog withholds its pings (undefined while it pings or runs without one). */
  private watchdogWithheld: { readonly sinceMs: number; readonly reasons: readonly string[] } | undefined;

  private constructor(
    readonly config: GatewayConfig,
    private readonly db: Database,
    readonly outbox: Outbox,
    readonly decisions: DecisionLog,
    private readonly writer: StoreWriter,
    readonly pipelines: readonly Pipeline[],
    readonly uplink: MqttUplink,
    private readonly metrics: Registry,
    private readonly events: ComponentEvents,
    private readonly runtimeVersion: string,
    /** Signed model updates, when the config has an `updates` section. */
    readonly updates: UpdateService | undefined,
    private readonly hardware: GatewayHardwareProbe,
    private readonly storeBudget: StoreBudget,
    /** The backend the gateway built (not one handed in through the options): closed by `stop`. */
    private readonly ownBackend: InferenceBackend | undefined,
    /** The federated round client, when the config's `learning` section enables it. */
    readonly learning: RoundClient | undefined,
    /** The Sparkplug B edge node, when the config has a `sparkplug` section. */
    private readonly sparkplug: SparkplugUplink | undefined,
  ) {}

  static async create(config: GatewayConfig, registry: PluginRegistry, options: GatewayOptions): Promise<Gateway> {
    const runtimeVersion = options.runtimeVersion ?? RUNTIME_VERSION;
    const metrics = new Registry();
    const eventLog = new EventLog(options.logger, metrics);
    const gatewayId = config.gateway.id;
    // One backend for every stage, the hardware probe and the updater: its probe runs once,
    // and a device it opens (an NPU) is opened once. Nothing of it loads until one of them asks.
    const backend = options.backend ?? gatewayBackend(config, registry);

    // Files the config points to are read first: a missing certificate is a config problem.
    const { files, problems } = await readUplinkFiles(config.uplink);
    if (problems.length > 0) throw new ConfigError('config', problems);
    // The Sparkplug module (its payload encoder among it) is loaded only by a config with the section.
    const sparkplugModule = config.sparkplug === null ? undefined : await import('./uplink/sparkplug/index.js');
    const sparkplugFiles = sparkplugModule === undefined || config.sparkplug === null ? undefined : await sparkplugModule.readSparkplugFiles(config.sparkplug);
    if (sparkplugFiles !== undefined && sparkplugFiles.problems.length > 0) throw new ConfigError('config', sparkplugFiles.problems);

    // Sources and stages are built before the store is opened, so a plug-in that refuses
    // its config leaves no half-opened database behind.
    // The decision log opens with the store, after the plug-ins exist: they get a sink that
    // forwards to it from then on.
    const decisionSink = new ForwardingDecisionSink();
    const managedModels = new ManagedModels(config.gateway.dataDir);
    // Stages that can learn their managed model register here as they are built.
    const learners = config.learning === null ? undefined : new LearnerRegistry(config.learning.reservoirWindows, config.learning.heldOutShare);
    const env = (component: string, stateName: string): CreateEnv => ({
      gatewayId,
      events: eventLog.for(component),
      stateDir: join(config.gateway.dataDir, 'state', stateName),
      decisions: decisionSink,
      models: managedModels,
      backend,
      ...(learners === undefined ? {} : { learning: learners }),
    });
    const built: { entry: GatewayConfig['pipelines'][number]; source: Source; stages: StageSpec[]; type: string }[] = [];
    for (const entry of config.pipelines) {
      const device = config.devices.find((d) => d.id === entry.source);
      const plugin = device === undefined ? undefined : registry.source(device.type);
      if (device === undefined || plugin === undefined) throw new ConfigError('config', [`pipelines: source ${entry.source} has no device plug-in`]);
      const source = await createPlugin(plugin, `devices[${config.devices.indexOf(device)}]`, device.config, env(`source:${device.id}`, `source-${device.id}`));
      const stages: StageSpec[] = [];
      for (const [i, s] of entry.stages.entries()) {
        const stagePlugin = registry.stage(s.type);
        if (stagePlugin === undefined) throw new ConfigError('config', [`pipelines: stage type ${s.type} is not registered`]);
        const where = `pipelines[${config.pipelines.indexOf(entry)}].stages[${i}]`;
        stages.push({ type: s.type, stage: await createPlugin(stagePlugin, where, s.config, env(`stage:${entry.id}:${s.type}`, `${entry.id}-${i}-${s.type}`)), queue: s.queue });
      }
      built.push({ entry, source, stages, type: device.type });
    }

    const storeEvents = eventLog.for('store');
    const db = await Database.open(config.gateway.dataDir, storeEvents, levelOptionsFor(config.store.maxSizeBytes));
    try {
      // Each uplink drains its own copy: a record is deleted once every consumer acknowledged it.
      // Without the section the outbox has the fleet alone, and a `sparkplug` consumer left by an
      // earlier config is dropped at open (it holds nothing back any more).
      const consumers = sparkplugModule === undefined ? [FLEET_CONSUMER] : [FLEET_CONSUMER, sparkplugModule.SPARKPLUG_CONSUMER];
      const outbox = await Outbox.open(db, { maxSizeBytes: config.store.maxSizeBytes, sync: config.store.sync, consumers }, eventLog.for('outbox'));
      const decisions = await DecisionLog.open(db, { ...config.store.decisionLog, sync: config.store.sync }, eventLog.for('decisions'));
      decisionSink.target = decisions;
      const writer = new StoreWriter(outbox, storeEvents, { batchMaxRecords: config.store.batchMaxRecords, lingerMs: config.store.lingerMs, retryMinDelayMs: 100, retryMaxDelayMs: 5000 });
      const pipelines = built.map(
        (b) => new Pipeline({ id: b.entry.id, sourceId: b.entry.source, sourceType: b.type, source: b.source, stages: b.stages, queue: b.entry.queue, checkpoints: outbox }, eventLog.for(`pipeline:${b.entry.id}`)),
      );
      for (const p of pipelines) writer.attach(p.output);
      const uplink = new MqttUplink(outbox.consumer(FLEET_CONSUMER), config.uplink, files, gatewayId, runtimeVersion, eventLog.for('uplink'));
      let sparkplug: SparkplugUplink | undefined;
      if (sparkplugModule !== undefined && config.sparkplug !== null && sparkplugFiles !== undefined) {
        const events = eventLog.for('sparkplug');
        const feed = new sparkplugModule.OutboxFeed(outbox.consumer(sparkplugModule.SPARKPLUG_CONSUMER), config.sparkplug.sources, events);
        const bdSeq = await sparkplugModule.BdSeqStore.open(join(config.gateway.dataDir, 'state', 'sparkplug'));
        // Each Sparkplug source is a built source, or a part of one (`plc.press1`: the slave press1 of plc).
        const deviceIds = built.map((b) => b.entry.source);
        const watched = config.sparkplug.sources.flatMap((sp) => {
          const of = sparkplugModule.deviceOfSource(sp.id, deviceIds);
          return of === undefined ? [] : built.filter((b) => b.entry.source === of.deviceId).map((b) => ({ id: sp.id, source: b.source, scope: of.scope }));
        });
        // A DCMD's writes go to the source of the device (its `writeValue`), which says why it cannot.
        const writeMetric = async (sourceId: string, metric: string, value: number | boolean | string): Promise<void> => {
          const w = watched.find((x) => x.id === sourceId);
          if (w?.source.writeValue === undefined) throw new Error(`source ${sourceId} cannot be written to (only modbus sources can)`);
          await (w.scope === undefined ? w.source.writeValue(metric, value) : w.source.writeValue(metric, value, w.scope));
        };
        const node = new sparkplugModule.SparkplugEdgeNode(feed, config.sparkplug, sparkplugFiles.files, bdSeq, events, writeMetric);
        const liveness = new sparkplugModule.DeviceLiveness(
          watched,
          node,
          sparkplugModule.DEVICE_LIVENESS_INTERVAL_MS,
          (source, err) => events.error('sparkplug.answering_failed', { code: 'E_SOURCE_ANSWERING', source, reason: err.message }),
        );
        sparkplug = { node, feed, liveness };
      }
      // The updater (TUF client, model slots) is loaded only by a config with an `updates` section.
      const updates =
        config.updates === null ? undefined : new (await import('./updater/service.js')).UpdateService(gatewayId, config.gateway.dataDir, config.updates, uplink, backend, runtimeVersion, eventLog.for('updates'), managedModels, {
              budgetBytes: config.store.maxSizeBytes,
              reserve: (bytes) => outbox.reserve(bytes),
            });
      // The round client (like the updater) is loaded only by a config that enables learning.
      const learning =
        config.learning === null || learners === undefined || updates === undefined
          ? undefined
          : new (await import('./federated/round-client.js')).RoundClient({
              gatewayId,
              channel: {
                subscribe: (topic, handler) => uplink.subscribe(topic, handler),
                publishAcked: (topic, payload) => uplink.publishAcked(topic, payload),
                onConnect: (listener) => uplink.onConnect(listener),
                connects: () => uplink.stats().connects,
              },
              learners,
              fetchModel: (target, maxBytes) => updates.fetchTarget(target, maxBytes),
              events: eventLog.for('learning'),
              maxChunkBytes: config.learning.maxChunkBytes,
            });
      if (learning !== undefined) (await import('./federated/learning-metrics.js')).registerLearningMetrics(metrics, () => learning.stats());
      const hardware = new GatewayHardwareProbe(backend, eventLog.for('engine'));
      const storeBudget = new StoreBudget(db, outbox, decisions, storeBudgetOptions(config.store), storeEvents);
      // Measured before the first write, so the records' share is right from the start.
      await storeBudget.start();
      const gateway = new Gateway(config, db, outbox, decisions, writer, pipelines, uplink, metrics, eventLog.for('gateway'), runtimeVersion, updates, hardware, storeBudget, options.backend === undefined ? backend : undefined, learning, sparkplug);
      registerGatewayMetrics(metrics, () => gateway.health(), () => gateway.storeCondition());
      gateway.summaryIntervalMs = options.summaryIntervalMs ?? SUMMARY_INTERVAL_MS;
      return gateway;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  health(): GatewayHealthReport {
    return buildHealthReport({
      gatewayId: this.config.gateway.id,
      runtimeVersion: this.runtimeVersion,
      startedAtMs: this.startedAtMs,
      outbox: this.outbox,
      decisions: this.decisions,
      writer: this.writer,
      uplink: this.uplink,
      pipelines: this.pipelines,
      updates: this.updates,
      hardware: this.hardware.current(),
      store: this.storeCondition(),
      watchdog: this.watchdogWithheld,
      sparkplug: this.sparkplugHealth(),
    });
  }

  private sparkplugHealth(): SparkplugHealth | undefined {
    const sp = this.sparkplug;
    if (sp === undefined) return undefined;
    return { stats: () => ({ ...sp.node.stats(), ...sp.feed.stats() }), degradedReason: () => sp.node.degradedReason() };
  }

  /**
   * What the systemd watchdog asks before each ping (runtime/systemd/watchdog.ts): the store
   * answers a write, the uplink is not stuck. The event loop is checked by the ping's timer running at all.
   */
  livenessChecks(): LivenessCheck[] {
    this.storeProbe ??= new StoreProbe(this.db);
    const probe = this.storeProbe;
    return [(now, stallMs) => (this.stopping === undefined ? probe.stuck(now, stallMs) : undefined), (now, stallMs) => this.uplink.stuck(now, stallMs)];
  }

  /**
   * The watchdog's verdicts as the gateway's own events (`systemd` component: logged, counted in
   * edgewise_events_total) and, while pings are withheld, a reason in /health: systemd restarts
   * the gateway soon, and an operator looking at /health or the fleet console sees why first.
   */
  watchdogEvents(intervalMs: number): WatchdogEvents {
    const events = this.events.sibling('systemd');
    return {
      withheld: (reasons) => {
        this.watchdogWithheld = { sinceMs: this.watchdogWithheld?.sinceMs ?? Date.now(), reasons };
        events.error('systemd.watchdog_withheld', { code: 'E_STUCK', reasons, intervalMs, msg: `watchdog pings withheld, systemd will restart the gateway: ${reasons.join('; ')}` });
      },
      resumed: () => {
        this.watchdogWithheld = undefined;
        events.warn('systemd.watchdog_resumed', { msg: 'watchdog pings resumed: every part answers again' });
      },
    };
  }

  /** The store's disk budget, free-space watermark and any damage found at open. */
  storeCondition(): StoreCondition {
    return { budget: this.storeBudget.stats(), corruptions: this.db.corruptionsFound };
  }

  /**
   * The health report, retained on the health topic: every `health.intervalMs`, right after
   * every (re)connect, and once when the engine's probe has answered, so a fleet learns a
   * gateway and its hardware within moments of it coming online. Dropped while disconnected.
   */
  private publishHealth(): void {
    if (this.stopping !== undefined) return;
    try {
      this.uplink.publishRetained(gatewayTopics.health(this.config.gateway.id), encodeHealth(this.health()));
    } catch (err) {
      this.events.error('health.publish_failed', { code: 'E_HEALTH_PUBLISH', reason: (err as Error).message });
    }
  }

  /** The minute's one-line summary, at info (so a journal shows the gateway working, or why not). */
  private logSummary(): void {
    if (this.stopping !== undefined) return;
    const f = this.summary.next({ recordsIn: this.pipelines.reduce((n, p) => n + p.sourceStats().emitted, 0), report: this.health() });
    this.events.info('gateway.summary', { ...f, msg: summaryText(f) });
  }

  /** Starts from the store outwards, so nothing a source emits has nowhere to go. */
  async start(): Promise<void> {
    // The health endpoint first: a port that is taken fails the start before anything runs.
    const listen = this.config.health.listen;
    if (listen !== null) {
      // Node's HTTP server loads only for a gateway that serves /health and /metrics.
      const { startHealthServer } = await import('./health/health-server.js');
      try {
        this.server = await startHealthServer(listen.host, listen.port, () => this.health(), this.metrics);
      } catch (err) {
        throw new EdgewiseError('E_HEALTH_LISTEN', `health.listen ${listen.host}:${listen.port}: cannot listen (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
    }
    // In the background: a slow or failing probe neither delays nor fails the start.
    void this.hardware.probe().then((answered) => {
      if (answered) this.publishHealth();
    });
    this.writer.start();
    // The slots are read before the first connect, so its report already names the releases.
    await this.updates?.refreshReleases();
    this.stopOnConnect = this.uplink.onConnect(() => this.publishHealth());
    this.uplink.start();
    this.sparkplug?.node.start();
    // A broken updater (a damaged trust root, say) must not stop the gateway: it keeps its
    // models and says why in the log and the health report.
    await this.updates?.start().catch((err: unknown) => this.events.error('update.start_failed', { code: (err as { code?: string }).code ?? 'E_UPDATE', reason: (err as Error).message }));
    for (const p of this.pipelines) await p.start();
    // Once the sources have started (a Modbus bus has made its first open): before, none answers.
    this.sparkplug?.liveness.start();
    // After the stages (which registered their learners) and the updater (which fetches the global models).
    this.learning?.start();
    this.healthTimer = setInterval(() => this.publishHealth(), this.config.health.intervalMs);
    this.healthTimer.unref();
    this.stopHeapTrim = startHeapTrim();
    this.stopBusyWatch = startBusyModeOnLoad({
      onBusy: (flags, share) => this.events.info('gateway.busy_mode', { flags, busyShare: Math.round(share * 1000) / 1000, msg: `the event loop was ${(share * 100).toFixed(1)} % busy: V8 runs for speed from now (${flags}; runtime/busy-mode.ts)` }),
    });
    void this.decisions.sweep(Date.now()).catch((err: unknown) => this.events.error('decisions.sweep_failed', { reason: (err as Error).message }));
    this.sweepTimer = setInterval(() => {
      void this.decisions.sweep(Date.now()).catch((err: unknown) => this.events.error('decisions.sweep_failed', { reason: (err as Error).message }));
    }, DECISION_SWEEP_MS);
    this.sweepTimer.unref();
    this.summaryTimer = setInterval(() => this.logSummary(), this.summaryIntervalMs);
    this.summaryTimer.unref();
    this.events.info('gateway.started', {
      gw: this.config.gateway.id,
      runtimeVersion: this.runtimeVersion,
      pipelines: this.pipelines.map((p) => p.id),
      dataDir: this.db.dir,
      epoch: this.db.epoch,
      health: listen === null ? null : `http://${listen.host}:${String(this.healthPort)}/health`,
    });
    for (const f of missingDependencyFixes()) {
      this.events.warn('gateway.dependency_unpatched', { code: 'E_DEPENDENCY_UNPATCHED', package: f.pkg, file: f.file, cost: f.cost, fix: 'run node scripts/patch-dependencies.mjs in the edgewise source directory (npm ci runs it; --ignore-scripts skips it), then edgewise install again' });
    }
  }

  private async closeHealthServer(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    // A scraper's keep-alive connection must not hold the shutdown up.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The port the health server listens on (useful when the config asked for port 0). */
  get healthPort(): number | undefined {
    const addr = this.server?.address();
    return addr !== null && typeof addr === 'object' ? addr.port : undefined;
  }

  /**
   * Stops sources, drains every edge into the store within `shutdownTimeoutMs`, says
   * goodbye to the broker and closes LevelDB cleanly. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    const t0 = Date.now();
    clearInterval(this.healthTimer);
    clearInterval(this.sweepTimer);
    clearInterval(this.summaryTimer);
    // Stopping sources stop answering: that is no DDEATH, the NDEATH says it.
    this.sparkplug?.liveness.stop();
    this.stopHeapTrim();
    this.stopBusyWatch();
    this.stopOnConnect?.();
    // A round in progress is given up at once (its update would be late anyway): its training stops with the stages.
    const learningStopped = this.learning?.stop();
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.config.gateway.shutdownTimeoutMs).unref());
    const drain = (async (): Promise<'drained'> => {
      await Promise.all(this.pipelines.map((p) => p.stopSource()));
      await Promise.all(this.pipelines.map((p) => p.drainStages()));
      await this.writer.whenIdle();
      return 'drained';
    })();
    const outcome = await Promise.race([drain, deadline]);
    if (outcome === 'timeout') {
      const lost = this.pipelines.reduce((n, p) => n + p.abort(), 0);
      this.events.warn('gateway.drain_timeout', { code: 'E_SHUTDOWN_TIMEOUT', droppedRecords: lost, timeoutMs: this.config.gateway.shutdownTimeoutMs });
    }
    // Before the updater, which may be fetching the round's model.
    await learningStopped;
    await this.updates?.stop();
    // After every stage and the updater: nothing loads or runs a model any more.
    await this.ownBackend?.close?.().catch((err: unknown) => this.events.warn('engine.close_failed', { code: 'E_ENGINE_CLOSE', reason: (err as Error).message }));
    await this.writer.stop();
    // Both uplinks say goodbye: the fleet's disconnect, the edge node's NDEATH then DISCONNECT.
    await Promise.all([this.uplink.stop(), this.sparkplug?.node.stop()]);
    await this.closeHealthServer();
    await this.storeBudget.stop();
    await this.outbox.close();
    await this.db.close();
    // Nothing held back by the log's rate limit goes unsaid.
    this.events.flush();
    this.events.info('gateway.stopped', { ms: Date.now() - t0, drained: outcome === 'drained', sources: this.pipelines.map((p) => p.sourceStats()), outbox: this.outbox.stats().records });
  }
}

/** The backend the config's `inference` section names, built by its plug-in on first use. */
function gatewayBackend(config: GatewayConfig, registry: PluginRegistry): LazyBackend {
  const plugin = registry.backend(config.inference.backend);
  // validate.ts refuses an unknown backend; a config built by hand could still name one.
  if (plugin === undefined) throw new ConfigError('config', [`inference.backend: expected one of ${registry.types('backend').join(', ')}, got ${JSON.stringify(config.inference.backend)}`]);
  return new LazyBackend(plugin, config.inference.config);
}

/**
 * `store.minFreeBytes` once the config carries it (schema and defaults have it); until then
 * the default. 0 turns the watermark off.
 */
function storeBudgetOptions(store: { readonly maxSizeBytes: number; readonly minFreeBytes?: number }): { maxSizeBytes: number; minFreeBytes: number; intervalMs: number } {
  return { maxSizeBytes: store.maxSizeBytes, minFreeBytes: store.minFreeBytes ?? defaults.store.minFreeBytes, intervalMs: STORE_MEASURE_MS };
}
