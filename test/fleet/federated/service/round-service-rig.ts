import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { exportAutoencoder } from '../../../../models/anomaly/autoencoder/onnx-export.js';
import { Mlp } from '../../../../models/train/mlp.js';
import { buildApi } from '../../../../fleet/api/app.js';
import { TokenStore } from '../../../../fleet/api/tokens.js';
import { ownPublishKind } from '../../../../fleet/broker/acl.js';
import { BrokerAuth } from '../../../../fleet/broker/broker-auth.js';
import { EmbeddedBroker } from '../../../../fleet/broker/embedded-broker.js';
import { EventStore } from '../../../../fleet/events/event-store.js';
import { seededUniformSource } from '../../../../fleet/federated/privacy/index.js';
import { FederatedService, type FederatedServiceOptions } from '../../../../fleet/federated/service/federated-service.js';
import { releaseRef, repositoryReleases, type GlobalModelPublisher } from '../../../../fleet/federated/service/global-model.js';
import type { ServiceClock } from '../../../../fleet/federated/service/service-clock.js';
import { FleetMetrics } from '../../../../fleet/metrics.js';
import {
  decodeChunkAck,
  decodeFleetSecAggMessage,
  decodeRoundAnnouncement,
  decodeRoundInvitation,
  encodeUpdate,
  ErrorFeedback,
  seededRandom,
  splitUpdate,
  type ChunkAckMessage,
  type FleetSecAggMessage,
  type LogErrorMomentsWire,
  type FloatTensor,
  type RoundAnnouncementMessage,
  type RoundInvitationMessage,
  type TensorLayout,
} from '../../../../fleet/protocol/federated/index.js';
import { learningTopics, LEARNING_ANNOUNCEMENT_FILTER } from '../../../../fleet/protocol/topics.js';
import { ChangeFeed } from '../../../../fleet/events/change-feed.js';
import { hashPassword } from '../../../../fleet/registry/credentials.js';
import { gatewayClientId, Registry } from '../../../../fleet/registry/registry.js';
import { listReleases } from '../../../../fleet/repo/releases.js';
import { Repository } from '../../../../fleet/repo/repository.js';
import { Rollouts } from '../../../../fleet/rollouts/rollouts.js';
import { useFleetDb } from '../../../support/fleet-db.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { FleetProcess } from '../../../support/fleet-process.js';
import { seedFleetDatabase } from '../../../support/pglite-template.js';
import { keyring, type Keyring } from '../../../support/tuf-rig.js';
import type { FleetEndpoints } from '../../../../fleet/service/fleet-service.js';
import { waitFor } from '../../../support/wait-for.js';

/** The anomaly autoencoder at its defaults (96-32-8-32-96, 6,824 parameters): a real ONNX file, made by the repo's exporter. */
export const MODEL = 'anomaly-press';
export const INITIAL_ONNX = exportAutoencoder(new Mlp([96, 32, 8, 32, 96], 11), { kind: 'edgewise-autoencoder' });

const RELEASE = {
  hardware: { arch: ['x64', 'arm64'] as ('x64' | 'arm64')[], accelerators: ['cpu'] },
  minRuntimeVersion: '0.1.0',
  golden: { inputName: 'x', dims: [1, 96], outputName: 'reconstruction', tolerance: '0.0001' },
  budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 },
};

/**
 * A clock the test moves: a deadline passes when the test says so, never because the machine
 * was slow. Timers due at or before the new time fire in order.
 */
export class ManualClock implements ServiceClock {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(public t = Date.now()) {}
  readonly now = (): number => this.t;
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + Math.max(0, ms), fn, live: true };
    this.timers.push(timer);
    // A zero-length timer (the next round after an interval of 0) fires on its own, as the real clock's would.
    if (ms <= 0) setImmediate(() => this.advance(0));
    return () => {
      timer.live = false;
    };
  }
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
  }
}

/**
 * The new global model's release, as the fleet's delegated signer will make it; here a release
 * of the real repository's top-level targets role (signed with its key, published with new
 * snapshot and timestamp).
 */
export class RepositoryPublisher implements GlobalModelPublisher {
  readonly published: { task: string; round: number; release: number }[] = [];
  constructor(
    private readonly dir: string,
    private readonly repo: Repository,
    private readonly keys: Keyring,
  ) {}

  async publish(r: { task: string; round: number; model: string; bytes: Uint8Array }) {
    const newest = (await listReleases(this.repo.dir)).filter((x) => x.model === r.model)[0]?.release ?? 0;
    const release = newest + 1;
    const file = `${this.dir}/in/${r.model}-${release}.onnx`;
    await writeFile(file, r.bytes);
    await this.repo.addModel({ model: file, goldenInput: `${this.dir}/in/golden.bin`, goldenOutput: `${this.dir}/in/golden.bin`, release: { ...RELEASE, model: r.model, release, version: `${r.task}-r${r.round}` } });
    await this.repo.sign('targets', this.keys.priv.targets);
    await this.repo.publish({ snapshot: this.keys.priv.snapshot, timestamp: this.keys.priv.timestamp });
    const info = (await listReleases(this.repo.dir)).find((x) => x.model === r.model && x.release === release);
    if (info === undefined) throw new Error(`release ${release} of ${r.model} not listed after publishing`);
    this.published.push({ task: r.task, round: r.round, release });
    return releaseRef(info);
  }
}

/** A gateway scripted by the test: a real MQTT client with the gateway's credentials, sending updates with the protocol's codecs. */
export class ScriptedGateway {
  readonly invitations: RoundInvitationMessage[] = [];
  readonly acks: ChunkAckMessage[] = [];
  readonly announcements: (RoundAnnouncementMessage | null)[] = [];
  /** What the fleet relayed on its learning-secagg-relay topic (secure rounds). */
  readonly relay: FleetSecAggMessage[] = [];
  client!: MqttClient;
  private readonly feedback: ErrorFeedback;

  constructor(
    readonly id: string,
    private readonly password: string,
    private readonly url: string,
    readonly layout: readonly TensorLayout[],
  ) {
    this.feedback = new ErrorFeedback(layout);
  }

  /** Connects (clean session) and subscribes to what a gateway reads: the announcements and its own invitation and ack topics. */
  async connect(): Promise<void> {
    this.client = await mqtt.connectAsync(this.url, { clientId: gatewayClientId(this.id), username: this.id, password: this.password, protocolVersion: 4, reconnectPeriod: 0, clean: true });
    this.client.on('error', () => undefined);
    this.client.on('message', (topic, payload) => {
      if (topic === learningTopics.invitation(this.id)) this.invitations.push(decodeRoundInvitation(payload, this.id));
      else if (topic === learningTopics.chunkAck(this.id)) this.acks.push(decodeChunkAck(payload));
      else if (topic === learningTopics.secAggRelay(this.id)) this.relay.push(decodeFleetSecAggMessage(payload));
      else this.announcements.push(payload.length === 0 ? null : decodeRoundAnnouncement(payload));
    });
    await this.client.subscribeAsync([learningTopics.invitation(this.id), learningTopics.chunkAck(this.id), learningTopics.secAggRelay(this.id), LEARNING_ANNOUNCEMENT_FILTER], { qos: 1 });
  }

  /** Goes offline at once, as a cut cable would: the socket is destroyed, nothing more is sent. */
  cut(): void {
    this.client.stream.destroy();
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true).catch(() => undefined);
  }

  invitedTo(task: string, round: number): boolean {
    return this.invitations.some((i) => i.task === task && i.round === round);
  }

  /** The chunks of an update as the gateway makes it: a delta of `value` everywhere, clipped, int8, encoded (v2 with `calib` when given), split. */
  chunks(o: { task: string; round: number; value?: number; samples?: number; loss?: number; calib?: LogErrorMomentsWire; updateId?: string; chunkBytes?: number; clipNorm?: number }): Uint8Array[] {
    const deltas: FloatTensor[] = this.layout.map((t) => ({ name: t.name, shape: [...t.shape], values: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(o.value ?? 0.001) }));
    const tensors = this.feedback.compress(deltas, seededRandom(7), { density: 1, clipNorm: o.clipNorm ?? 1 });
    const bytes = encodeUpdate({ round: o.round, task: o.task, client: this.id, samples: o.samples ?? 100, validationLoss: o.loss ?? 0.5, tensors, ...(o.calib === undefined ? {} : { calibration: o.calib }) });
    return splitUpdate(bytes, { updateId: o.updateId ?? `${o.task}.${o.round}`, maxChunkBytes: o.chunkBytes ?? 1024 });
  }

  /** Publishes chunks QoS 1 on its own learning-update topic, each acknowledged by the broker before the next. */
  async send(chunks: readonly Uint8Array[], indices: readonly number[] = chunks.map((_, i) => i)): Promise<void> {
    for (const i of indices) await this.client.publishAsync(learningTopics.update(this.id), Buffer.from(chunks[i] as Uint8Array), { qos: 1 });
  }

  async sendRaw(payload: Uint8Array): Promise<void> {
    await this.client.publishAsync(learningTopics.update(this.id), Buffer.from(payload), { qos: 1 });
  }

  /** Waits for the fleet's ack of the update with this id saying `status`. */
  async ack(updateId: string, status: ChunkAckMessage['status']): Promise<ChunkAckMessage> {
    return waitFor(() => this.acks.find((a) => a.id === updateId && a.status === status), `${this.id}: ack "${status}" of ${updateId}`);
  }
}

export interface RoundServiceRig {
  dir: string;
  sql: ReturnType<typeof useFleetDb>['sql'];
  registry: Registry;
  metrics: FleetMetrics;
  broker: EmbeddedBroker;
  clock: ManualClock;
  service: FederatedService;
  publisher: RepositoryPublisher;
  repo: Repository;
  api: FastifyInstance;
  token: string;
  gateways: Map<string, ScriptedGateway>;
  /** Provisions gateways with labels and connects a scripted gateway for each. */
  addGateways(labels: Record<string, string>, ...ids: string[]): Promise<ScriptedGateway[]>;
  /** Starts (or starts again, as a restarted fleet would) the round service on the same database and broker. */
  startService(extra?: Partial<FederatedServiceOptions>): Promise<FederatedService>;
  /** An API request with the read-write token; the JSON reply. */
  call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** The value of a metric series in the Prometheus text (0 when absent). */
  metric(series: string): Promise<number>;
}

export function useRoundService(): RoundServiceRig {
  const db = useFleetDb('pglite');
  const rig = { gateways: new Map() } as RoundServiceRig;
  let temp: { path: string; remove: () => Promise<void> };
  let routeChunk: (gw: string, payload: Uint8Array) => Promise<void> = async () => undefined;
  let routeSecAgg: (gw: string, payload: Uint8Array) => Promise<void> = async () => undefined;
  let keys: Keyring;

  beforeAll(async () => {
    rig.registry = new Registry(db.sql);
    const auth = new BrokerAuth({
      credentials: (id) => rig.registry.store.credentials(id),
      fleetPasswordScrypt: await hashPassword('fleet-secret'),
      metrics: new FleetMetrics(),
      // As the fleet service routes them: learning-update to the round service, the rest (ingest) dropped here.
      onGatewayPublish: (gw, topic, payload) => {
        const kind = ownPublishKind(gw, topic);
        return kind === 'learning-update' ? routeChunk(gw, payload) : kind === 'learning-secagg' ? routeSecAgg(gw, payload) : Promise.resolve();
      },
    });
    rig.broker = await EmbeddedBroker.create({ auth });
  }, 60_000);

  beforeEach(async () => {
    await db.reset();
    // Fresh counters for each test.
    rig.metrics = new FleetMetrics();
    rig.sql = db.sql;
    temp = await makeTempDir();
    rig.dir = temp.path;
    await mkdir(`${rig.dir}/in`, { recursive: true });
    await writeFile(`${rig.dir}/in/golden.bin`, new Uint8Array(16));
    keys = await keyring(`${rig.dir}/keys`, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    rig.repo = new Repository(`${rig.dir}/repo`);
    await rig.repo.init(keys.pub);
    await rig.repo.sign('root', keys.priv.root);
    rig.publisher = new RepositoryPublisher(rig.dir, rig.repo, keys);
    // Release 1: the model the first round starts from.
    await rig.publisher.publish({ task: 'initial', round: 0, model: MODEL, bytes: INITIAL_ONNX });
    rig.clock = new ManualClock();
    rig.gateways = new Map();
    rig.startService = async (extra = {}) => {
      await rig.service?.close();
      const repoDir = `${rig.dir}/repo`;
      rig.service = await FederatedService.start({
        sql: db.sql,
        registry: rig.registry,
        releases: repositoryReleases(repoDir, () => listReleases(repoDir)),
        publisher: rig.publisher,
        transport: { publish: (topic, payload, { retain }) => rig.broker.publish(topic, Buffer.from(payload), { qos: 1, retain }) },
        metrics: rig.metrics,
        clock: rig.clock,
        random: () => seededUniformSource(1),
        ...extra,
      });
      routeChunk = (gw, payload) => rig.service.acceptChunk(gw, payload);
      routeSecAgg = (gw, payload) => rig.service.acceptSecAgg(gw, payload);
      return rig.service;
    };
    await rig.startService();
    const tokens = new TokenStore(db.sql);
    rig.token = (await tokens.create('read-write', 'test')).token;
    rig.api = await buildApi({
      registry: rig.registry,
      events: new EventStore(db.sql),
      changes: new ChangeFeed(),
      tokens,
      rollouts: new Rollouts(db.sql, () => listReleases(`${rig.dir}/repo`)),
      learning: {
        createTask: (r) => rig.service.createTask(r),
        listTasks: (f) => rig.service.listTasks(f),
        getTask: (id) => rig.service.getTask(id),
        stopTask: (id) => rig.service.stopTask(id),
        listRounds: (id, f) => rig.service.listRounds(id, f),
        getRound: (id, n) => rig.service.getRound(id, n),
      },
      releases: () => listReleases(`${rig.dir}/repo`),
      health: async () => ({ status: 'ok', broker: { ok: true, detail: '' }, database: { ok: true, latencyMs: 1, detail: '' }, ingest: { ok: true, queued: 0, lagMs: null, detail: '' } }),
      metrics: rig.metrics,
      provisioning: { brokerUrl: rig.broker.url },
      rootJson: async () => null,
      fleetMosquittoHash: async () => '',
    });
    rig.addGateways = async (labels, ...ids) => {
      const out: ScriptedGateway[] = [];
      for (const id of ids) {
        const p = await rig.registry.provision({ id, labels });
        const gw = new ScriptedGateway(id, p.password, rig.broker.url, INITIAL_LAYOUT);
        await gw.connect();
        rig.gateways.set(id, gw);
        out.push(gw);
      }
      return out;
    };
  }, 60_000);

  afterEach(async () => {
    await Promise.all([...rig.gateways.values()].map((g) => g.close()));
    await rig.service?.close();
    await rig.api?.close();
    await temp?.remove();
  });

  afterAll(async () => {
    await rig.broker?.close();
  });

  rig.call = async (method, url, body) => {
    const res = await rig.api.inject({ method, url, headers: { authorization: `Bearer ${rig.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
    return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown> };
  };
  rig.metric = async (series) => {
    const text = await rig.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  return rig;
}

/** A signed, published repository with release 1 of the autoencoder, as an operator makes it; its keys under DIR/keys. */
export async function repositoryWithRelease(dir: string): Promise<Keyring> {
  const keys = await keyring(join(dir, 'keys'), { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
  const repo = new Repository(join(dir, 'repo'));
  await repo.init(keys.pub);
  await repo.sign('root', keys.priv.root);
  await mkdir(join(dir, 'in'));
  await writeFile(join(dir, 'in', 'model.onnx'), INITIAL_ONNX);
  await writeFile(join(dir, 'in', 'golden.bin'), new Uint8Array(16));
  await repo.addModel({
    model: join(dir, 'in', 'model.onnx'),
    goldenInput: join(dir, 'in', 'golden.bin'),
    goldenOutput: join(dir, 'in', 'golden.bin'),
    release: { model: MODEL, release: 1, version: 'v1', hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] }, minRuntimeVersion: '0.1.0', golden: { inputName: 'x', dims: [1, 96], outputName: 'reconstruction', tolerance: '0.0001' }, budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 } },
  });
  await repo.sign('targets', keys.priv.targets);
  await repo.publish({ snapshot: keys.priv.snapshot, timestamp: keys.priv.timestamp });
  return keys;
}

/** The initial model's tensors, in file order. */
export const INITIAL_LAYOUT: readonly TensorLayout[] = (() => {
  const sizes = [96, 32, 8, 32, 96];
  return sizes.slice(1).flatMap((outputs, i) => [
    { name: `w${i}`, shape: [outputs, sizes[i] as number] },
    { name: `b${i}`, shape: [outputs] },
  ]);
})();

/** A task definition for the rig's model: `overrides` replace top-level fields. */
export function taskBody(overrides: Record<string, unknown> = {}, schedule: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task: { id: 'press-ae', model: MODEL, gatewaySelector: 'line=press', strategy: { type: 'fedavg' }, localEpochs: 1, learningRate: 0.01, clipNorm: 1, minClients: 3, samplingShare: 1, deadlineMs: 60_000, ...overrides },
    rounds: 1,
    ...schedule,
  };
}

/** A JSON call to a running fleet's API with the operator token; the parsed body, whatever the status. */
export type FleetCall = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/**
 * `edgewise fleet` as a process (embedded broker, PGlite) on DIR/fleet with `args`, killed at
 * the rig's cleanup, and gateways `ids` provisioned through its API with `labels`, each a
 * connected ScriptedGateway (closed at cleanup).
 */
export async function fleetWithScriptedGateways(
  rig: { readonly dir: { readonly path: string }; onCleanup(f: () => Promise<unknown> | unknown): void },
  args: readonly string[],
  ids: readonly string[],
  labels: Record<string, string> = { line: 'press' },
): Promise<{ data: string; endpoints: FleetEndpoints; call: FleetCall; gateways: ScriptedGateway[] }> {
  const data = join(rig.dir.path, 'fleet');
  // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
  await seedFleetDatabase(data);
  const { fleet, endpoints } = await FleetProcess.start(data, undefined, args);
  rig.onCleanup(() => fleet.kill('SIGKILL'));
  const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
  const call: FleetCall = async (method, path, body) => {
    const res = await fetch(`${endpoints.localApiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return (await res.json()) as Record<string, unknown>;
  };
  const gateways: ScriptedGateway[] = [];
  for (const id of ids) {
    const p = (await call('POST', '/v1/gateways', { id, labels })) as { credentials: { password: string } };
    const gw = new ScriptedGateway(id, p.credentials.password, endpoints.brokerUrl, INITIAL_LAYOUT);
    await gw.connect();
    rig.onCleanup(() => gw.close());
    gateways.push(gw);
  }
  return { data, endpoints, call, gateways };
}
