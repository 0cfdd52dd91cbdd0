import { describe, expect, it } from 'vitest';
import { readFloatInitializers } from '../../../../models/onnx/initializers.js';
import type { LearningRound } from '../../../../fleet/federated/service/federated-store.js';
import { releaseRef, repositoryReleases } from '../../../../fleet/federated/service/global-model.js';
import type { ServiceLog } from '../../../../fleet/federated/service/task-runner.js';
import { secureScale } from '../../../../fleet/federated/round/secure-sum.js';
import { encodeSecAggMessage, MAX_SECAGG_VECTOR_LENGTH } from '../../../../fleet/protocol/federated/index.js';
import { decodeSignedSum } from '../../../../fleet/protocol/secure-aggregation/index.js';
import { learningTopics } from '../../../../fleet/protocol/topics.js';
import { listReleases } from '../../../../fleet/repo/releases.js';
import { waitFor } from '../../../support/wait-for.js';
import { seededUniform } from '../../protocol/secure-aggregation/seeded.js';
import { INITIAL_ONNX, MODEL, taskBody, useRoundService, type RoundServiceRig } from './round-service-rig.js';
import { ringSum, SecureScript, type SecureBehaviour } from './secure-script.js';

const TASK = 'press-ae';
const PARAMETERS = 6824;
const DEADLINE_MS = 60_000;

/** A delta of L2 norm 0.9 (under the clip norm 1), different per gateway. */
function delta(label: string): Float64Array {
  const u = seededUniform(`delta/${label}`);
  const d = Float64Array.from({ length: PARAMETERS }, () => u() - 0.5);
  const norm = Math.hypot(...d);
  return d.map((x) => (0.9 * x) / norm);
}

async function round(rig: RoundServiceRig, n: number): Promise<LearningRound> {
  return waitFor(async () => {
    const r = await rig.service.store.getRound(TASK, n);
    return r !== undefined && r.outcome !== 'open' ? r : undefined;
  }, `round ${n} of ${TASK} closed`);
}

/** Starts the service again with its log captured (every field of every line). */
async function capturedLog(rig: RoundServiceRig): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const log: ServiceLog = { info: (f, message) => lines.push({ ...f, message }), warn: (f, message) => lines.push({ ...f, message }) };
  await rig.startService({ log });
  return lines;
}

async function secureRound(rig: RoundServiceRig, behaviours: readonly SecureBehaviour[], schedule: Record<string, unknown> = {}): Promise<SecureScript[]> {
  const ids = behaviours.map((_, i) => `gw-${i}`);
  const gws = await rig.addGateways({ line: 'press' }, ...ids);
  const res = await rig.call('POST', '/v1/learning/tasks', taskBody({ secureAggregation: true, minClients: 3, deadlineMs: DEADLINE_MS }, schedule));
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return gws.map((gw, i) => new SecureScript(gw, TASK, 1, delta(gw.id), behaviours[i]));
}

/** The new global model's parameters, flat in file order. */
async function released(rig: RoundServiceRig, release: number): Promise<Float32Array> {
  const info = (await listReleases(`${rig.dir}/repo`)).find((r) => r.model === MODEL && r.release === release);
  if (info === undefined) throw new Error(`no release ${release}`);
  const onnx = await repositoryReleases(`${rig.dir}/repo`, () => listReleases(`${rig.dir}/repo`)).read(releaseRef(info));
  return Float32Array.from(readFloatInitializers(onnx).flatMap((t) => [...t.data]));
}

/** What the fleet must release from the plain ring sum of `inputs`: global + scale x sum / n, in float32, as aggregateSecureSum computes it. */
function expectedModel(inputs: readonly Uint32Array[], scale: number): Float32Array {
  const global = readFloatInitializers(INITIAL_ONNX).flatMap((t) => [...t.data]);
  const q = decodeSignedSum(ringSum(inputs), inputs.length);
  const factor = scale / inputs.length;
  return Float32Array.from(global, (p, j) => p + (q[j] as number) * factor);
}

/** Fails when `value` holds anything the size of an update: a long list, a long string, bytes. */
function assertNoVector(value: unknown, where: string): void {
  if (value instanceof Uint8Array || value instanceof Uint32Array || value instanceof Float32Array || value instanceof Float64Array) throw new Error(`${where}: holds a binary array of ${value.length}`);
  if (typeof value === 'string') expect(value.length, where).toBeLessThan(2048);
  if (Array.isArray(value)) {
    expect(value.length, `${where}: a list of ${value.length}`).toBeLessThan(64);
    value.forEach((v, i) => assertNoVector(v, `${where}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertNoVector(v, `${where}.${k}`);
  }
}

/** The fleet never holds an individual update: not in the database (tasks, rounds, records), not in a log line. */
async function assertFleetHoldsNoUpdate(rig: RoundServiceRig, log: readonly Record<string, unknown>[], inputs: readonly Uint32Array[]): Promise<void> {
  for (const table of ['learning_tasks', 'learning_rounds']) {
    const rows = await rig.sql.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
    rows.forEach((row, i) => assertNoVector(row, `${table}[${i}]`));
    const text = JSON.stringify(rows);
    // Nor the words of any input, in order (the first 16 as the JSON of a list would show them).
    for (const x of inputs) expect(text).not.toContain([...x.slice(0, 16)].join(','));
  }
  log.forEach((line, i) => assertNoVector(line, `log[${i}]`));
  expect(log.length).toBeGreaterThan(0);
}

describe('secure aggregation over MQTT: the round service with gateways running the protocol', () => {
  const rig = useRoundService();

  it('unmasks exactly the plain sum of 5 gateways\' quantised updates (in the ring) and releases their mean; nothing individual is stored or logged', async () => {
    const log = await capturedLog(rig);
    const t0 = performance.now();
    const scripts = await secureRound(rig, ['full', 'full', 'full', 'full', 'full']);
    // Bytes that are not a secure message are refused and counted; the round is not disturbed.
    await scripts[0]?.gw.client.publishAsync(learningTopics.secAgg('gw-0'), Buffer.from([0xa1, 0x61]), { qos: 1 });
    await Promise.all(scripts.map((s) => s.run()));
    const r = await round(rig, 1);
    const ms = performance.now() - t0;
    const a = scripts[0]?.gw.announcements.find((x) => x?.round === 1);
    expect(a).toMatchObject({ secureAggregation: true, quantisation: { type: 'int8' } });
    const scale = a?.quantisation.type === 'int8' ? (a.quantisation.scale ?? 0) : 0;
    expect(scale).toBe(secureScale(1));
    expect(scale * 127).toBeGreaterThanOrEqual(1);

    expect(r).toMatchObject({ outcome: 'model', participants: 5, sampled: 5, released: { release: 2 } });
    expect(r.record).toMatchObject({
      closedBy: 'all-answered',
      participants: ['gw-0', 'gw-1', 'gw-2', 'gw-3', 'gw-4'],
      validationLoss: { reported: 0 },
      secureAggregation: { scale, levels: 127, threshold: 3, graph: 'complete', advertised: 5, dealt: 5, masked: 5, responded: 5, dropped: [], weighting: 'mean-over-survivors', refusals: {}, rejectedShares: 0 },
    });
    const inputs = scripts.map((s) => s.input as Uint32Array);
    // Exactly: every parameter of the release is global + scale x (plain sum) / 5, bit for bit.
    expect(await released(rig, 2)).toEqual(expectedModel(inputs, scale));
    expect(await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="",outcome="rejected",reason="malformed"}')).toBe(1);
    expect(await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="masked-input",outcome="accepted",reason=""}')).toBe(5);
    await assertFleetHoldsNoUpdate(rig, log, inputs);

    // Bytes per gateway, secure against plain (the same model, int8, one chunked update).
    const gw0 = scripts[0] as SecureScript;
    const sent = gw0.sent.reduce((n, m) => n + m.bytes, 0);
    const received = gw0.gw.relay.reduce((n, m) => n + encodeSecAggMessage(m).byteLength, 0);
    const masked = gw0.sent.find((m) => m.step === 'masked-input')?.bytes ?? 0;
    expect(masked).toBeGreaterThan(4 * PARAMETERS);
    expect(masked).toBeLessThan(4 * PARAMETERS + 200);
    const plain = gw0.gw.chunks({ task: TASK, round: 1, chunkBytes: 65_536 }).reduce((n, c) => n + c.byteLength, 0);
    console.log(JSON.stringify({ bench: 'secagg-mqtt', gateways: 5, parameters: PARAMETERS, secureSentBytes: sent, secureReceivedBytes: received, maskedInputBytes: masked, plainUpdateBytes: plain, roundMs: Math.round(ms) }));
  });

  it('recovers the sum when two gateways drop out after masking (their inputs stay in the sum, their unmasking answers never come)', async () => {
    const scripts = await secureRound(rig, ['full', 'full', 'full', 'silent-at-unmasking', 'silent-at-unmasking']);
    await Promise.all(scripts.map((s) => s.run()));
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="unmasking-response",outcome="accepted",reason=""}')) === 3, '3 unmasking responses');
    expect((await rig.service.store.getRound(TASK, 1))?.outcome).toBe('open');
    // The two never answer: the unmasking step ends at the round's deadline, with 3 responses (t = 3).
    rig.clock.advance(DEADLINE_MS);
    const r = await round(rig, 1);
    expect(r.record).toMatchObject({ closedBy: 'deadline', participants: ['gw-0', 'gw-1', 'gw-2', 'gw-3', 'gw-4'], secureAggregation: { masked: 5, responded: 3, dropped: [] }, outcome: { type: 'model' } });
    const scale = (r.record?.secureAggregation?.scale ?? 0);
    expect(await released(rig, 2)).toEqual(expectedModel(scripts.map((s) => s.input as Uint32Array), scale));
  });

  it('handles a gateway silent from the start and one dropping out before masking: the sum of the 3 survivors, their masks removed; a late message is refused and counted', async () => {
    const log = await capturedLog(rig);
    const scripts = await secureRound(rig, ['full', 'full', 'full', 'drop-before-masking', 'silent'], { rounds: 2 });
    const running = Promise.all(scripts.map((s) => s.run()));
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="advertise-keys",outcome="accepted",reason=""}')) === 4, '4 advertisements');
    // gw-4 never advertises: the step ends at its deadline (15% of the round).
    rig.clock.advance(0.15 * DEADLINE_MS);
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="masked-input",outcome="accepted",reason=""}')) === 3, '3 masked inputs');
    // gw-3 dealt shares but sends no masked input: the masking step ends at its deadline (85%).
    rig.clock.advance(0.7 * DEADLINE_MS);
    await running;
    const r = await round(rig, 1);
    const survivors = scripts.slice(0, 3);
    expect(r.record).toMatchObject({ closedBy: 'deadline', participants: ['gw-0', 'gw-1', 'gw-2'], secureAggregation: { advertised: 4, dealt: 4, masked: 3, responded: 3, dropped: ['gw-3'] }, outcome: { type: 'model' } });
    const scale = r.record?.secureAggregation?.scale ?? 0;
    expect(await released(rig, 2)).toEqual(expectedModel(survivors.map((s) => s.input as Uint32Array), scale));

    // The silent gateway wakes up in round 2's time: its advertisement for round 1 is refused (that round is over).
    await waitFor(() => scripts[4]?.gw.relay.find((m) => m.round === 2), 'round 2 open');
    await scripts[4]?.gw.client.publishAsync(learningTopics.secAgg('gw-4'), Buffer.from(encodeSecAggMessage({ task: TASK, round: 1, step: 'advertise-keys', body: { round: `${TASK}:1`, from: 'gw-4', maskPublicKey: new Uint8Array(32).fill(9), encryptionPublicKey: new Uint8Array(32).fill(7) } })), { qos: 1 });
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="advertise-keys",outcome="rejected",reason="wrong-round"}')) === 1, 'late advertisement refused');
    await assertFleetHoldsNoUpdate(rig, log, survivors.map((s) => s.input as Uint32Array));
  });

  it('counts refused protocol messages in the record: an advertisement on another gateway\'s behalf, a second answer to a step', async () => {
    const scripts = await secureRound(rig, ['full', 'full', 'full', 'silent']);
    const gw0 = scripts[0] as SecureScript;
    const advertisement = (from: string): Buffer =>
      Buffer.from(encodeSecAggMessage({ task: TASK, round: 1, step: 'advertise-keys', body: { round: `${TASK}:1`, from, maskPublicKey: new Uint8Array(32).fill(9), encryptionPublicKey: new Uint8Array(32).fill(7) } }));
    await waitFor(() => gw0.gw.relay.find((m) => m.step === 'round-params'), 'round params');
    // gw-0 publishes an advertisement claiming to come from gw-1 (on its own topic, someone else's id).
    await gw0.gw.client.publishAsync(learningTopics.secAgg('gw-0'), advertisement('gw-1'), { qos: 1 });
    const running = Promise.all(scripts.map((s) => s.run()));
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="advertise-keys",outcome="accepted",reason=""}')) === 3, '3 advertisements');
    // gw-3 is silent, so the step still collects: gw-0 advertising again is its second answer.
    await gw0.gw.client.publishAsync(learningTopics.secAgg('gw-0'), advertisement('gw-0'), { qos: 1 });
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_secagg_messages_total{step="advertise-keys",outcome="rejected",reason="duplicate"}')) === 1, 'the duplicate refused');
    rig.clock.advance(0.15 * DEADLINE_MS);
    await running;
    const r = await round(rig, 1);
    expect(r.record).toMatchObject({ outcome: { type: 'model' }, participants: ['gw-0', 'gw-1', 'gw-2'], secureAggregation: { advertised: 3, refusals: { inconsistent: 1, duplicate: 1 } } });
  });

  it('refuses a secure task with a rule that needs individual updates, or with differential privacy, saying why', async () => {
    for (const strategy of [{ type: 'median' }, { type: 'trimmed-mean', options: { trim: 0.1 } }, { type: 'multi-krum', options: { byzantine: 1 } }]) {
      const res = await rig.call('POST', '/v1/learning/tasks', taskBody({ secureAggregation: true, strategy, minClients: 10 }));
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(String(res.json['detail'])).toMatch(/cannot run with secure aggregation: under secure aggregation the fleet sees only the sum/);
    }
    const dp = await rig.call('POST', '/v1/learning/tasks', taskBody({ secureAggregation: true, privacy: { noiseMultiplier: 1, targetEpsilon: 10, delta: 1e-5, population: 100 }, samplingShare: 0.5 }));
    expect(dp.status, JSON.stringify(dp.json)).toBe(400);
    expect(String(dp.json['detail'])).toMatch(/not run with secure aggregation: the fleet cannot clip what it never sees/);
    expect(MAX_SECAGG_VECTOR_LENGTH).toBeGreaterThan(PARAMETERS);
  });
});
