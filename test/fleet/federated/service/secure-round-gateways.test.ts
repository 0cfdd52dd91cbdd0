import { Writable } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { readFloatInitializers } from '../../../../models/onnx/initializers.js';
import { releaseRef, repositoryReleases } from '../../../../fleet/federated/service/global-model.js';
import { seededRandom, type FloatTensor } from '../../../../fleet/protocol/federated/index.js';
import { listReleases } from '../../../../fleet/repo/releases.js';
import { LearnerRegistry, type LocalLearner, type LocalTrainingRequest, type LocalTrainingResult } from '../../../../runtime/federated/learner.js';
import { RoundClient, type LearningChannel } from '../../../../runtime/federated/round-client.js';
import { EventLog } from '../../../../runtime/health/events.js';
import { topicMatches } from '../../../../runtime/uplink/topic-filter.js';
import { waitFor } from '../../../support/wait-for.js';
import { INITIAL_LAYOUT, INITIAL_ONNX, MODEL, taskBody, useRoundService, type RoundServiceRig, type ScriptedGateway } from './round-service-rig.js';

/**
 * The gateway's real round client (runtime/federated/round-client.ts with its secure path) on a
 * real MQTT connection per gateway, against the real round service on the embedded broker.
 * The learner is the plug-in interface's simplest implementation (a fixed delta per gateway),
 * so that the test knows what each gateway contributed; the autoencoder's own trainer runs in
 * federated-e2e.test.ts.
 */
const TASK = 'press-ae';

/** The uplink's part the round client uses, over the scripted gateway's mqtt.js connection. */
function channelOf(client: MqttClient): LearningChannel {
  const handlers: [string, (payload: Uint8Array, topic: string) => void][] = [];
  let connects = 1;
  client.on('message', (topic, payload) => {
    for (const [filter, h] of handlers) if (topicMatches(filter, topic)) h(new Uint8Array(payload), topic);
  });
  client.on('connect', () => (connects += 1));
  return {
    subscribe: (topic, handler) => {
      handlers.push([topic, handler]);
      void client.subscribeAsync(topic, { qos: 1 });
    },
    publishAcked: async (topic, payload) => {
      if (!client.connected) throw Object.assign(new Error('not connected'), { code: 'E_UPLINK_OFFLINE' });
      await client.publishAsync(topic, Buffer.from(payload), { qos: 1 });
    },
    onConnect: (listener) => {
      client.on('connect', listener);
      return () => client.off('connect', listener);
    },
    connects: () => connects,
  };
}

/** A delta of `value` in every coordinate (the same layout as the global model), or a training that never ends. */
class FixedLearner implements LocalLearner {
  readonly model = MODEL;
  readonly requests: LocalTrainingRequest[] = [];
  constructor(private readonly value: number | 'never') {}
  train(req: LocalTrainingRequest): Promise<LocalTrainingResult> {
    this.requests.push(req);
    const value = this.value;
    if (value === 'never') return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason as Error)));
    const tensors: FloatTensor[] = INITIAL_LAYOUT.map((t) => ({ name: t.name, shape: [...t.shape], values: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(value) }));
    return Promise.resolve({ tensors, samples: 100, validationLoss: 0.25 });
  }
}

function roundClient(gw: ScriptedGateway, learner: FixedLearner, seed: number): { client: RoundClient; events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const learners = new LearnerRegistry(256, 0.2);
  learners.register(learner);
  const client = new RoundClient({ gatewayId: gw.id, channel: channelOf(gw.client), learners, fetchModel: () => Promise.resolve(INITIAL_ONNX), events: new EventLog(pino({ level: 'debug' }, sink), new Registry()).for('learning'), maxChunkBytes: 65_536, random: seededRandom(seed) });
  client.start();
  return { client, events };
}

async function released(rig: RoundServiceRig, release: number): Promise<Float32Array> {
  const info = (await listReleases(`${rig.dir}/repo`)).find((r) => r.model === MODEL && r.release === release);
  if (info === undefined) throw new Error(`no release ${release}`);
  return Float32Array.from(readFloatInitializers(await repositoryReleases(`${rig.dir}/repo`, () => listReleases(`${rig.dir}/repo`)).read(releaseRef(info))).flatMap((t) => [...t.data]));
}

describe('secure aggregation with the gateways\' real round client', () => {
  const rig = useRoundService();

  it('4 gateways mask their clipped, shared-scale int8 deltas; the fleet releases their mean, and a gateway whose training outlasts the round drops out cleanly', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1', 'gw-2', 'gw-3');
    // Per-coordinate deltas; the clip norm (1) is far above their norm (0.002 x sqrt(6824) = 0.17 at most), so none is clipped.
    const values = [0.001, 0.002, -0.001];
    const learners = [...values.map((v) => new FixedLearner(v)), new FixedLearner('never')];
    const clients = gws.map((gw, i) => roundClient(gw, learners[i] as FixedLearner, i + 1));
    const t0 = performance.now();
    const res = await rig.call('POST', '/v1/learning/tasks', taskBody({ secureAggregation: true, minClients: 3, deadlineMs: 60_000 }));
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    // gw-3 advertises and deals its shares at once, but its training never ends: it sends no masked input.
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="masked-input",outcome="accepted",reason=""}')) === 3, '3 masked inputs');
    expect(await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="share-keys",outcome="accepted",reason=""}')).toBe(4);
    rig.clock.advance(0.85 * 60_000);
    const r = await waitFor(async () => {
      const x = await rig.service.store.getRound(TASK, 1);
      return x !== undefined && x.outcome !== 'open' ? x : undefined;
    }, 'round 1 closed');
    const ms = performance.now() - t0;
    expect(r.record).toMatchObject({ outcome: { type: 'model' }, participants: ['gw-0', 'gw-1', 'gw-2'], secureAggregation: { advertised: 4, dealt: 4, masked: 3, responded: 3, dropped: ['gw-3'] } });
    const scale = r.record?.secureAggregation?.scale ?? 0;

    // The mean of the three deltas is 0.000667 everywhere; each gateway's stochastic rounding is off by less than one step,
    // so the released model moves by the mean within one step (scale = 1/127 = 0.0079), with the rounding errors averaging out.
    const before = readFloatInitializers(INITIAL_ONNX).flatMap((t) => [...t.data]);
    const after = await released(rig, 2);
    const moved = Array.from(after, (p, j) => p - (before[j] as number));
    const mean = moved.reduce((a, b) => a + b, 0) / moved.length;
    expect(Math.abs(mean - 0.002 / 3)).toBeLessThan(scale / 20);
    expect(Math.max(...moved.map((d) => Math.abs(d - 0.002 / 3)))).toBeLessThanOrEqual(scale + 1e-6);
    // Every coordinate is a multiple of scale / 3 (the sum of three integers times the scale, over 3), up to float32 rounding.
    for (const d of moved.slice(0, 50)) expect(Math.abs(d / (scale / 3) - Math.round(d / (scale / 3)))).toBeLessThan(1e-3);

    for (const { client } of clients.slice(0, 3)) expect(client.stats()).toMatchObject({ roundsJoined: 1, updatesSent: 1, training: false });
    const sent = clients[0]?.events.find((e) => e['event'] === 'learning.update_sent');
    expect(sent).toMatchObject({ secure: true, task: TASK, round: 1 });
    // The silent one: its round ends when the task is cleared (rounds: 1), it sent nothing masked.
    await waitFor(() => clients[3]?.client.stats().training === false, 'gw-3 stopped');
    expect(clients[3]?.client.stats()).toMatchObject({ updatesSent: 0, failures: { E_LEARNING_ROUND_CLOSED: 1 } });
    console.log(JSON.stringify({ bench: 'secagg-mqtt-round-client', gateways: 4, roundMs: Math.round(ms), bytesSentPerGateway: clients[0]?.client.stats().bytesSent, maskedBytes: sent?.['maskedBytes'] }));
    for (const { client } of clients) await client.stop();
  });
});
