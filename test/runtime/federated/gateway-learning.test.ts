import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import type { AedesOptions } from 'aedes';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { decodeChunk, dequantizeUpdate, type RoundAnnouncementMessage } from '../../../fleet/protocol/federated/index.js';
import { fleetFilters } from '../../../fleet/protocol/index.js';
import { learningTopics } from '../../../fleet/protocol/topics.js';
import { mlpFromInitializers } from '../../../models/anomaly/autoencoder/federated-round.js';
import { parseMeta, trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { readFloatInitializers } from '../../../models/onnx/initializers.js';
import { parametersOf, reconstructionLoss } from '../../../models/train/mlp-parameters.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { ModelSlots } from '../../../runtime/updater/slots.js';
import { MOTOR_CHANNELS, MOTOR_RATE_HZ, MOTOR_WINDOW, motorSamples } from '../../support/motor-machine.js';
import { ScriptedFleet } from '../../support/scripted-fleet.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { TufRig } from '../../support/tuf-rig.js';
import { waitFor } from '../../support/wait-for.js';

const RATE = MOTOR_RATE_HZ;
const W = MOTOR_WINDOW;
/** The machine: what the synthetic source sends and the held-out check regenerates. */
const CHANNELS = MOTOR_CHANNELS;
const MODEL = 'motor-ae';
const TASK = 'motor-ae-fl';
const TARGET = 'learning/motor-ae/1/model.onnx';

/** `rows` samples of the machine from `fromMs` on, with noise seeded by `seed` (the source's is 1). */
const machineSamples = motorSamples;

/**
 * The global model: the machine type's autoencoder early in federated training (2 epochs on
 * another unit's data). Deterministic: trained once for the file, not once per test.
 */
let globalModelBytes: Promise<Uint8Array> | undefined;
function globalModel(): Promise<Uint8Array> {
  globalModelBytes ??= trainGlobalModel();
  return globalModelBytes;
}
async function trainGlobalModel(): Promise<Uint8Array> {
  const rows = 60 * RATE;
  return (await trainAutoencoderModel(machineSamples(rows, 99), rows, { channels: CHANNELS.map((c) => c.name), windowSamples: W, stride: 16, hidden: [32, 8, 32], epochs: 2, batchSize: 64, learningRate: 0.003, seed: 3, heldOut: 0.2 })).bytes;
}

/** Mean squared reconstruction error of windows of the machine's later running (never seen by the gateway), under the global model plus `delta`. */
function heldOutLoss(bytes: Uint8Array, delta: readonly Float32Array[] | undefined): number {
  const meta = parseMeta(bytes);
  const inits = readFloatInitializers(bytes);
  const model = mlpFromInitializers(inits, W * 3);
  if (delta !== undefined) parametersOf(model).forEach((p, k) => p.forEach((_, j) => (p[j] = Math.fround((inits[k]?.data[j] as number) + (delta[k]?.[j] as number)))));
  const rows = 20 * RATE;
  const raw = machineSamples(rows, 4242, 3_600_000);
  const count = Math.floor((rows - W) / W) + 1;
  const x = new Float64Array(count * W * 3);
  for (let k = 0; k < count; k += 1) for (let i = 0; i < W * 3; i += 1) x[k * W * 3 + i] = ((raw[k * W * 3 + i] as number) - (meta.mean[i % 3] as number)) / (meta.std[i % 3] as number);
  return reconstructionLoss(model, x, count);
}

interface LoggedEvent {
  readonly time: number;
  readonly event?: string;
  readonly code?: string;
  readonly [key: string]: unknown;
}

describe('federated rounds in a running gateway', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let tuf: TufRig;
  let fleet: ScriptedFleet;
  let gateway: Gateway | undefined;
  let bytes: Uint8Array;
  let sha: string;
  const events: LoggedEvent[] = [];
  const subscribed = new Set<string>();
  /** Update chunks with an index from this on are held by the broker (never acknowledged, never delivered) while set. */
  let holdFrom: number | undefined;

  beforeEach(async () => {
    events.length = 0;
    subscribed.clear();
    holdFrom = undefined;
    dir = await makeTempDir();
    const hooks: Partial<AedesOptions> = {
      authorizeSubscribe: (_client, sub, callback) => {
        subscribed.add(sub.topic);
        callback(null, sub);
      },
      authorizePublish: (_client, packet, callback) => {
        if (holdFrom !== undefined && packet.topic.endsWith('/learning-update') && decodeChunk(packet.payload as Buffer).index >= holdFrom) return; // held: no PUBACK
        callback(null);
      },
    };
    broker = await EmbeddedBroker.create({ auth: { hooks: () => hooks } });
    tuf = new TufRig(`${dir.path}/fleet`);
    await tuf.start();
    bytes = await globalModel();
    sha = createHash('sha256').update(bytes).digest('hex');
    await tuf.publishFile(TARGET, bytes);
    fleet = new ScriptedFleet(broker);
    await fleet.start();
  }, 60_000);

  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
    await fleet.stop();
    await broker.close();
    await tuf.stop();
    await dir.remove();
  });

  /** A gateway whose anomaly stage scores with the global model (its active release) and learns it. */
  async function startGateway(id: string, maxChunkBytes = 65536): Promise<Gateway> {
    const dataDir = `${dir.path}/${id}`;
    const slots = new ModelSlots(dataDir, MODEL);
    await slots.activate(await slots.install(bytes, { release: 1, version: 'fl-1' }), { release: 1, version: 'fl-1', sha256: sha });
    const yaml = `
gateway: { id: ${id}, dataDir: ${JSON.stringify(dataDir)}, shutdownTimeoutMs: 5000 }
devices:
  - id: motor
    type: synthetic
    rateHz: ${RATE}
    samplesPerRecord: 50
    channels: ${JSON.stringify(CHANNELS)}
pipelines:
  - id: motor
    source: motor
    stages:
      - type: anomaly
        detector: autoencoder
        autoencoder: { managed: ${MODEL}, windowSamples: ${W}, strideSamples: 8 }
store: { maxSizeBytes: 1073741824 }
uplink: { url: ${broker.url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 500 } }
updates:
  metadataUrl: ${tuf.url}/metadata
  targetBaseUrl: ${tuf.url}/targets
  rootFile: ${JSON.stringify(`${tuf.dir}/repo/metadata/1.root.json`)}
learning: { enabled: true, reservoirWindows: 1024, heldOutShare: 0.2, maxChunkBytes: ${maxChunkBytes} }
`;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') events.push(JSON.parse(line) as LoggedEvent);
        done();
      },
    });
    const registry = builtinRegistry();
    const gw = await Gateway.create(parseConfig(yaml, 'test', registry), registry, { logger: pino({ level: 'info' }, sink) });
    gateway = gw;
    await gw.start();
    return gw;
  }

  function stageStats(gw: Gateway): Record<string, unknown> {
    return (gw.health().pipelines[0]?.stages[0]?.details ?? {}) as Record<string, unknown>;
  }

  function announcement(round: number, over: Partial<RoundAnnouncementMessage> = {}): RoundAnnouncementMessage {
    const now = Date.now();
    return {
      v: 1,
      task: TASK,
      round,
      model: { name: MODEL, release: 1, version: 'fl-1', sha256: sha, fetch: { type: 'tuf', target: TARGET } },
      localEpochs: 20,
      learningRate: 0.003,
      clipNorm: 1000,
      proximalMu: null,
      quantisation: { type: 'int8', scale: null },
      secureAggregation: false,
      openedAtMs: now,
      deadlineAtMs: now + 120_000,
      ...over,
    };
  }

  /** The gateway is running, learning, has kept `windows` normal windows and follows its invitations. */
  async function ready(gw: Gateway, id: string, windows: number): Promise<void> {
    await waitFor(() => subscribed.has(learningTopics.invitation(id)) && subscribed.has(learningTopics.chunkAck(id)), 'the gateway to subscribe to its learning topics', 20_000);
    await waitFor(() => (stageStats(gw)['learningWindows'] as number) >= windows, `${windows} normal windows kept`, 60_000);
  }

  const eventsNamed = (name: string): LoggedEvent[] => events.filter((e) => e.event === name);

  it('trains on its own normal data when invited, keeps the pipeline flowing, and sends an update whose delta lowers the loss on held-out normal data of its machine', async () => {
    const records: number[] = [];
    const unsubscribe = await broker.subscribe(fleetFilters.records, () => records.push(Date.now()));
    const gw = await startGateway('gw-learn');
    await ready(gw, 'gw-learn', 600);
    await fleet.announce(announcement(1));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // A 10 ms timer: each time the loop runs it during training, the gateway was serving.
    const ticks: number[] = [];
    const tick = setInterval(() => ticks.push(Date.now()), 10);
    await fleet.invite(TASK, 1, 'gw-learn');
    await waitFor(() => fleet.updates.length === 1, 'the update at the fleet', 90_000);
    loop.disable();
    clearInterval(tick);
    await unsubscribe();

    const u = fleet.updates[0]!;
    expect(fleet.errors).toEqual([]);
    expect(u).toMatchObject({ task: TASK, round: 1, client: 'gw-learn' });
    expect(u.samples).toBeGreaterThan(300);
    expect(u.validationLoss).toBeGreaterThan(0);
    // The held-out windows' log-error moments under the global model, for the fleet's calibration.
    const calib = u.calibration;
    expect(calib?.n).toBeGreaterThan(0);
    if (calib === undefined) throw new Error('no calib in the update');
    const logMean = calib.sum / calib.n;
    expect(Number.isFinite(logMean)).toBe(true);
    expect(calib.sumSq / calib.n).toBeGreaterThanOrEqual(logMean * logMean * (1 - 1e-9));
    const inits = readFloatInitializers(bytes);
    expect(u.tensors.map((t) => [t.name, t.shape])).toEqual(inits.map((t) => [t.name, t.dims]));
    const delta = dequantizeUpdate(u.tensors).map((t) => t.values);
    const before = heldOutLoss(bytes, undefined);
    const after = heldOutLoss(bytes, delta);
    expect(after).toBeLessThan(0.9 * before);

    const joined = eventsNamed('learning.round_joined')[0];
    const training = eventsNamed('anomaly.learning_round')[0];
    const trained = eventsNamed('learning.trained')[0];
    const sent = eventsNamed('learning.update_sent')[0];
    expect(joined).toMatchObject({ task: TASK, round: 1, model: MODEL });
    expect(sent).toMatchObject({ task: TASK, round: 1, chunks: 1, resumes: 0 });
    // The pipeline kept flowing while it trained: the fleet got telemetry from the gateway in that time.
    const during = records.filter((t) => t >= (joined as LoggedEvent).time && t <= (trained as LoggedEvent).time).length;
    expect(during).toBeGreaterThan(0);
    // The event loop kept running while it trained: trainMlp yields every 16 batches (20 epochs
    // of 6 to 8 batches: 9 yields or more), and each yield lets the due timer run.
    const ticksDuring = ticks.filter((t) => t > (training as LoggedEvent).time && t < (trained as LoggedEvent).time).length;
    expect(ticksDuring).toBeGreaterThanOrEqual(5);
    // No stall longer than a third of the training (a training that never yielded would stall the
    // loop for all of it), nor than 1 s on a fast box: relative, since a loaded box slows both alike.
    const maxDelayMs = loop.max / 1e6;
    const trainingMs = (trained as LoggedEvent).time - (training as LoggedEvent).time;
    expect(maxDelayMs).toBeLessThan(Math.max(1000, trainingMs / 3));
    await waitFor(() => gw.learning?.stats().updatesAcknowledged === 1, 'the fleet ack of the whole update');
    expect(gw.learning?.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 1, failures: {} });
    console.log(
      JSON.stringify({
        gatewayLearning: {
          trainMs: trained?.['trainMs'],
          samples: u.samples,
          validationLoss: u.validationLoss,
          updateBytes: sent?.['updateBytes'],
          heldOutLossBefore: before,
          heldOutLossAfter: after,
          eventLoopDelayMaxMs: Math.round(maxDelayMs),
          eventLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e6),
          recordsDuringTraining: during,
          timerTicksDuringTraining: ticksDuring,
        },
      }),
    );
  }, 180_000);

  it('resumes after the broker restarts mid-upload: probes with the last chunk and sends only what the fleet says it misses', async () => {
    const gw = await startGateway('gw-resume', 1024);
    await ready(gw, 'gw-resume', 300);
    holdFrom = 3;
    await fleet.announce(announcement(1, { localEpochs: 2 }));
    await fleet.invite(TASK, 1, 'gw-resume');
    // Chunks 0-2 reached the fleet (which acks none of them: none is the last); the rest hang without PUBACK.
    await waitFor(() => fleet.chunks.length === 3 && gw.learning?.stats().upload?.chunksSent === 3, 'chunks 0-2 at the fleet, the rest held', 60_000);
    const count = fleet.chunks[0]?.count ?? 0;
    expect(count).toBeGreaterThan(4);
    const before = fleet.chunks.length;
    expect(fleet.chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(fleet.acks).toEqual([]);
    await broker.stop();
    holdFrom = undefined;
    await broker.start();
    await waitFor(() => fleet.updates.length === 1, 'the update complete at the fleet after the restart', 30_000);
    // After the reconnect: the last chunk as a probe, the fleet's ack (missing 3..n-2), then exactly those.
    const resent = fleet.chunks.slice(before).map((c) => c.index);
    expect(resent[0]).toBe(count - 1);
    expect(fleet.acks[0]).toEqual({ sender: 'gw-resume', status: 'missing', missing: Array.from({ length: count - 4 }, (_, i) => i + 3) });
    expect([...resent].sort((a, b) => a - b)).toEqual(Array.from({ length: count - 3 }, (_, i) => i + 3));
    expect(fleet.updates[0]).toMatchObject({ task: TASK, round: 1, client: 'gw-resume' });
    await waitFor(() => eventsNamed('learning.update_sent').length === 1, 'the gateway to count it sent');
    expect(eventsNamed('learning.update_sent')[0]).toMatchObject({ chunks: count, resumes: 1 });
  }, 180_000);

  it('refuses a round whose global model does not match the announced hash: a clear event, no update', async () => {
    const gw = await startGateway('gw-hash');
    await ready(gw, 'gw-hash', 100);
    await fleet.announce(announcement(1, { model: { name: MODEL, release: 1, version: 'fl-1', sha256: 'ab'.repeat(32), fetch: { type: 'tuf', target: TARGET } } }));
    await fleet.invite(TASK, 1, 'gw-hash');
    const failed = await waitFor(() => eventsNamed('learning.failed')[0], 'the refusal', 30_000);
    expect(failed).toMatchObject({ code: 'E_LEARNING_MODEL_HASH', task: TASK, round: 1 });
    expect(String(failed['reason'])).toContain(sha);
    expect(eventsNamed('learning.trained')).toEqual([]);
    expect(fleet.chunks).toEqual([]);
    expect(gw.learning?.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 0, failures: { E_LEARNING_MODEL_HASH: 1 } });
  }, 120_000);

  it('sends nothing when not invited, and ignores an invitation addressed to another gateway or one it cannot read', async () => {
    const gw = await startGateway('gw-idle');
    await ready(gw, 'gw-idle', 100);
    await fleet.announce(announcement(1, { localEpochs: 1 }));
    await fleet.invite(TASK, 1, 'gw-other'); // another gateway's topic: never reaches this one
    await fleet.invite(TASK, 1, 'gw-other', 'gw-idle'); // misrouted onto this gateway's topic
    await broker.publish(learningTopics.invitation('gw-idle'), Buffer.from('{"v":1,"task":"motor-ae-fl"'), { qos: 1 });
    await waitFor(() => eventsNamed('learning.message_rejected').length === 2, 'both bad invitations refused', 20_000);
    const [misrouted, garbled] = eventsNamed('learning.message_rejected');
    expect(misrouted).toMatchObject({ code: 'E_PAYLOAD_INVALID', topic: learningTopics.invitation('gw-idle') });
    expect(String(misrouted?.['reason'])).toContain('gw-other');
    expect(garbled).toMatchObject({ code: 'E_PAYLOAD_DECODE' });
    // A round the gateway could join shows that it is listening; this one it was never invited to.
    expect(gw.learning?.stats()).toMatchObject({ roundsJoined: 0, updatesSent: 0 });
    expect(fleet.chunks).toEqual([]);
    expect(eventsNamed('learning.round_joined')).toEqual([]);
  }, 120_000);
});
