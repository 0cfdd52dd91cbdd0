import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readModelMetadata } from '../../../../models/onnx/builder.js';
import { readFloatInitializers } from '../../../../models/onnx/initializers.js';
import type { LearningRound } from '../../../../fleet/federated/service/federated-store.js';
import { cborEncode } from '../../../../fleet/protocol/cbor.js';
import { decodeChunk, encodeUpdate, splitUpdate } from '../../../../fleet/protocol/federated/index.js';
import { releaseRef, repositoryReleases } from '../../../../fleet/federated/service/global-model.js';
import { learningTopics } from '../../../../fleet/protocol/topics.js';
import { listReleases } from '../../../../fleet/repo/releases.js';
import { waitFor } from '../../../support/wait-for.js';
import { INITIAL_LAYOUT, MODEL, taskBody, useRoundService, type RoundServiceRig } from './round-service-rig.js';

const TASK = 'press-ae';

async function round(rig: RoundServiceRig, n: number, outcome?: LearningRound['outcome']): Promise<LearningRound> {
  return waitFor(async () => {
    const r = await rig.service.store.getRound(TASK, n);
    return r !== undefined && (outcome === undefined ? r.outcome !== 'open' : r.outcome === outcome) ? r : undefined;
  }, `round ${n} of ${TASK}${outcome === undefined ? ' closed' : ` ${outcome}`}`);
}

async function createTask(rig: RoundServiceRig, body: Record<string, unknown>): Promise<void> {
  const res = await rig.call('POST', '/v1/learning/tasks', body);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
}

async function invited(rig: RoundServiceRig, ids: readonly string[], n: number): Promise<void> {
  for (const id of ids) await waitFor(() => rig.gateways.get(id)?.invitedTo(TASK, n), `${id} invited to round ${n}`);
}

describe('the federated round service over MQTT, with the fleet database and the API', () => {
  const rig = useRoundService();

  it('runs a round of 3 gateways to a new global model: record in the database and the API, a signed release the next round starts from', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1', 'gw-2');
    const [paint] = await rig.addGateways({ line: 'paint' }, 'gw-paint');
    await createTask(rig, taskBody({}, { rounds: 2 }));
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 1);
    // The retained announcement names the release in the repository, and no gateway.
    const a1 = await waitFor(() => gws[0]?.announcements.find((a) => a?.round === 1), 'announcement of round 1');
    expect(a1).toMatchObject({ task: TASK, round: 1, model: { name: MODEL, release: 1, fetch: { type: 'tuf', target: `models/${MODEL}/1/model.onnx` } }, clipNorm: 1, quantisation: { type: 'int8', scale: null } });
    for (const [i, gw] of gws.entries()) {
      const chunks = gw.chunks({ task: TASK, round: 1, value: 0.001 * (i + 1), samples: 100 * (i + 1), loss: 0.1 * (i + 1) });
      expect(chunks.length).toBeGreaterThan(5);
      await gw.send(chunks);
      await gw.ack(`${TASK}.1`, 'complete');
    }
    const r1 = await round(rig, 1);
    expect(r1).toMatchObject({ outcome: 'model', participants: 3, sampled: 3, released: { name: MODEL, release: 2 }, releaseError: null });
    expect(r1.meanValidationLoss).toBeCloseTo(0.2, 6);
    expect(r1.record).toMatchObject({ closedBy: 'all-answered', eligible: 3, participants: ['gw-0', 'gw-1', 'gw-2'], outcome: { type: 'model' } });
    // The gateway outside the selector was never invited.
    expect(paint?.invitations).toEqual([]);

    // The API tells the same.
    const api = await rig.call('GET', `/v1/learning/tasks/${TASK}/rounds/1`);
    expect(api.status).toBe(200);
    expect(api.json).toMatchObject({ outcome: 'model', participants: 3, released: { release: 2 }, record: { participants: ['gw-0', 'gw-1', 'gw-2'], rejections: { duplicate: 0, 'late-dropped': 0 } } });

    // Release 2 is a real model: the same graph, every weight moved by the weighted mean delta, and which round made it.
    const release = (await listReleases(`${rig.dir}/repo`)).find((r) => r.model === MODEL && r.release === 2);
    expect(release).toBeDefined();
    if (release === undefined) throw new Error('no release 2');
    const onnx = await repositoryReleases(`${rig.dir}/repo`, () => listReleases(`${rig.dir}/repo`)).read(releaseRef(release));
    expect(readModelMetadata(onnx)).toMatchObject({ 'federated.task': TASK, 'federated.round': '1' });
    const before = readFloatInitializers(await readFile(`${rig.dir}/in/${MODEL}-1.onnx`));
    const after = readFloatInitializers(onnx);
    expect(after.map((t) => t.name)).toEqual(INITIAL_LAYOUT.map((t) => t.name));
    const moved = (after[0]?.data[0] ?? 0) - (before[0]?.data[0] ?? 0);
    // FedAvg weighted 100:200:300 over deltas near 0.001, 0.002, 0.003 (int8 rounding aside).
    expect(moved).toBeGreaterThan(0.002);
    expect(moved).toBeLessThan(0.0028);

    // Round 2 starts from release 2, then the task finishes after its 2 rounds.
    const a2 = await waitFor(() => gws[0]?.announcements.find((a) => a?.round === 2), 'announcement of round 2');
    expect(a2?.model.release).toBe(2);
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 2);
    for (const gw of gws) await gw.send(gw.chunks({ task: TASK, round: 2 }));
    expect(await round(rig, 2, 'model')).toMatchObject({ released: { release: 3 } });
    await waitFor(async () => (await rig.service.getTask(TASK)).state === 'finished', 'task finished');
    const task = (await rig.call('GET', `/v1/learning/tasks/${TASK}`)).json;
    expect(task).toMatchObject({ state: 'finished', reason: '2 rounds done', roundsClosed: 2, globalModel: { release: 3 } });
    // Finished: the retained announcement is cleared.
    await waitFor(() => gws[0]?.announcements.at(-1) === null, 'announcement cleared');
    expect(await rig.metric('edgewise_fleet_learning_updates_total{outcome="accepted",reason=""}')).toBe(6);
    expect(await rig.metric('edgewise_fleet_learning_rounds_total{outcome="model"}')).toBe(2);
  });

  it('pools the calibration moments the updates carry into the released model (federated.calibration), and keeps the last one when a round pools too few', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1', 'gw-2');
    await createTask(rig, taskBody({}, { rounds: 2 }));
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 1);
    // gw-2 held nothing out: a v1 update without calib, which counts for the model but not the calibration.
    const calibs = [{ n: 10, sum: -50, sumSq: 260 }, { n: 30, sum: -120, sumSq: 500 }, undefined];
    for (const [i, gw] of gws.entries()) await gw.send(gw.chunks({ task: TASK, round: 1, calib: calibs[i] }));
    const r1 = await round(rig, 1, 'model');
    // 40 windows: mean -170/40 = -4.25, E[x^2] = 760/40 = 19, variance 19 - 4.25^2 = 0.9375.
    const pooled = { windows: 40, logMean: -4.25, logStd: Math.sqrt(0.9375) };
    expect(r1.record?.calibration?.windows).toBe(40);
    expect(r1.record?.calibration?.logMean).toBeCloseTo(pooled.logMean, 12);
    expect(r1.record?.calibration?.logStd).toBeCloseTo(pooled.logStd, 12);
    const repo = repositoryReleases(`${rig.dir}/repo`, () => listReleases(`${rig.dir}/repo`));
    const file = async (n: number): Promise<Uint8Array> => {
      const release = (await listReleases(`${rig.dir}/repo`)).find((r) => r.model === MODEL && r.release === n);
      if (release === undefined) throw new Error(`no release ${n}`);
      return repo.read(releaseRef(release));
    };
    const meta2 = readModelMetadata(await file(2));
    const calib2 = JSON.parse(meta2['federated.calibration'] ?? 'null') as { logMean: number; logStd: number; windows: number; measuredOnRelease: number };
    // Measured by the gateways under release 1, the model round 1 started from.
    expect(calib2).toMatchObject({ windows: 40, measuredOnRelease: 1 });
    expect(calib2.logMean).toBeCloseTo(pooled.logMean, 12);
    expect(calib2.logStd).toBeCloseTo(pooled.logStd, 12);
    // The model's own metadata is not the fleet's to rewrite.
    expect(meta2['kind']).toBe('edgewise-autoencoder');

    // Round 2: one window in all is no spread: no calibration in the record, release 3 keeps release 2's.
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 2);
    for (const [i, gw] of gws.entries()) await gw.send(gw.chunks({ task: TASK, round: 2, ...(i === 0 ? { calib: { n: 1, sum: -3, sumSq: 9 } } : {}) }));
    const r2 = await round(rig, 2, 'model');
    expect(r2.record?.calibration).toBeNull();
    expect(readModelMetadata(await file(3))['federated.calibration']).toBe(meta2['federated.calibration']);
  });

  it('takes an upload that was cut mid-way and resumed after a reconnect: the ack says what is missing, and the update is accepted', async () => {
    const [gw0, gw1] = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1');
    await createTask(rig, taskBody({ minClients: 2 }));
    await invited(rig, ['gw-0', 'gw-1'], 1);
    if (gw0 === undefined || gw1 === undefined) throw new Error('no gateways');
    const chunks = gw0.chunks({ task: TASK, round: 1 });
    const n = chunks.length;
    await gw0.send(chunks, [0, 1, 2, 3, 4]);
    // The sixth chunk goes out as the connection dies: it may or may not reach the fleet.
    void gw0.client.publishAsync(learningTopics.update('gw-0'), Buffer.from(chunks[5] as Uint8Array), { qos: 1 }).catch(() => undefined);
    gw0.cut();
    await waitFor(() => !gw0.client.connected, 'gw-0 offline');
    expect((await rig.service.store.getRound(TASK, 1))?.outcome).toBe('open');

    // Back online (same identity, a new connection): the gateway sends its last chunk to learn where it stands.
    await gw0.connect();
    await gw0.send(chunks, [n - 1]);
    const ack = await gw0.ack(`${TASK}.1`, 'missing');
    const expected = Array.from({ length: n - 7 }, (_, i) => i + 6);
    expect(ack.missing.filter((i) => i !== 5)).toEqual(expected);
    await gw0.send(chunks, ack.missing);
    await gw0.ack(`${TASK}.1`, 'complete');
    await gw1.send(gw1.chunks({ task: TASK, round: 1 }));
    const r = await round(rig, 1);
    expect(r.record?.participants).toEqual(['gw-0', 'gw-1']);
    expect(r.outcome).toBe('model');
    expect(await rig.metric('edgewise_fleet_learning_chunks_total{result="complete"}')).toBe(2);
  });

  it('closes at the deadline without waiting for a straggler, whose late update is counted late-dropped', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1', 'gw-2');
    await createTask(rig, taskBody({ minClients: 2, deadlineMs: 10_000 }, { rounds: 2 }));
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 1);
    for (const gw of gws.slice(0, 2)) {
      await gw.send(gw.chunks({ task: TASK, round: 1 }));
      await gw.ack(`${TASK}.1`, 'complete');
    }
    // Two of three answered: the round waits for the third until its deadline.
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="accepted",reason=""}')) === 2, '2 updates accepted');
    expect((await rig.service.store.getRound(TASK, 1))?.outcome).toBe('open');
    rig.clock.advance(10_000);
    const r1 = await round(rig, 1);
    expect(r1.record).toMatchObject({ closedBy: 'deadline', participants: ['gw-0', 'gw-1'], outcome: { type: 'model' } });
    // The straggler is held until the record says closed, then sends.
    const straggler = gws[2];
    await straggler?.send(straggler.chunks({ task: TASK, round: 1 }));
    await straggler?.ack(`${TASK}.1`, 'complete');
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="rejected",reason="late-dropped"}')) === 1, 'late update counted');
    // Round 2 (nobody answers) closes at its deadline; its record counts the late update of round 1.
    await invited(rig, ['gw-0'], 2);
    rig.clock.advance(10_000);
    const r2 = await round(rig, 2);
    expect(r2.record).toMatchObject({ closedBy: 'deadline', outcome: { type: 'no-model', reason: 'below-quorum' } });
    expect(r2.record?.rejections['late-dropped']).toBe(1);
  });

  it('refuses the update of a gateway revoked during the round as unknown-or-revoked-gateway', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1', 'gw-2');
    await createTask(rig, taskBody({ minClients: 2, deadlineMs: 10_000 }));
    await invited(rig, ['gw-0', 'gw-1', 'gw-2'], 1);
    await rig.registry.revoke('gw-2');
    // The fleet also ends a revoked gateway's session (fleet-service.ts); this rig does not, which
    // stands for chunks already in flight when the revocation lands.
    for (const gw of gws) {
      await gw.send(gw.chunks({ task: TASK, round: 1 }));
      await gw.ack(`${TASK}.1`, 'complete');
    }
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="rejected",reason="unknown-or-revoked-gateway"}')) === 1, 'revoked update refused');
    // A refusal of identity is no answer: the round still waits for its deadline.
    rig.clock.advance(10_000);
    const r = await round(rig, 1);
    expect(r.record?.participants).toEqual(['gw-0', 'gw-1']);
    expect(r.record?.rejections['unknown-or-revoked-gateway']).toBe(1);
  });

  it('refuses replays of old rounds\' updates as duplicate or stale', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1');
    await createTask(rig, taskBody({ minClients: 2, deadlineMs: 10_000 }, { rounds: 3 }));
    const sent: Uint8Array[][] = [];
    for (const n of [1, 2]) {
      await invited(rig, ['gw-0', 'gw-1'], n);
      for (const gw of gws) {
        const chunks = gw.chunks({ task: TASK, round: n });
        if (gw.id === 'gw-0') sent.push(chunks);
        await gw.send(chunks);
      }
      await round(rig, n, 'model');
    }
    await invited(rig, ['gw-0'], 3);
    const gw0 = gws[0];
    if (gw0 === undefined) throw new Error('no gateway');
    // The same chunks again (QoS 1 redelivery, or a replay within the TTL): the update is complete, nothing new reaches the round.
    await gw0.send(sent[1] as Uint8Array[]);
    expect((await gw0.ack(`${TASK}.2`, 'complete')).status).toBe('complete');
    expect(await rig.metric('edgewise_fleet_learning_chunks_total{result="duplicate"}')).toBeGreaterThan(0);
    // The same updates under new update ids: round 2's is a duplicate, round 1's too old to remember.
    for (const [i, id] of [[1, 'replay-2'], [0, 'replay-1']] as const) {
      const chunks = splitUpdate(reassemble(sent[i] as Uint8Array[]), { updateId: id, maxChunkBytes: 1024 });
      await gw0.send(chunks);
      await gw0.ack(id, 'complete');
    }
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="rejected",reason="duplicate"}')) === 1, 'replay of round 2 refused as duplicate');
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="rejected",reason="stale-round"}')) === 1, 'replay of round 1 refused as stale');
    await gws[1]?.send(gws[1].chunks({ task: TASK, round: 3 }));
    rig.clock.advance(10_000);
    const r3 = await round(rig, 3);
    expect(r3.record?.rejections).toMatchObject({ duplicate: 1, 'stale-round': 1 });
    expect(r3.record?.participants).toEqual(['gw-1']);
  });

  it('keeps serving through malformed payloads: garbage, a bad envelope, bytes that are no update, a wrong shape, an oversized claim', async () => {
    const gws = await rig.addGateways({ line: 'press' }, 'gw-0', 'gw-1');
    await createTask(rig, taskBody({ minClients: 2 }));
    await invited(rig, ['gw-0', 'gw-1'], 1);
    const [gw0, gw1] = gws;
    if (gw0 === undefined || gw1 === undefined) throw new Error('no gateways');
    await gw0.sendRaw(new Uint8Array([0xff, 0x00, 0x13, 0x37]));
    await gw0.sendRaw(cborEncode({ v: 1, id: 'x', sha: new Uint8Array(32), len: 4, size: 4, n: 1, i: 3, d: new Uint8Array(4) }));
    await gw0.sendRaw(cborEncode({ v: 1, id: 'huge', sha: new Uint8Array(32), len: 2 ** 30, size: 1024, n: 4096, i: 0, d: new Uint8Array(1) }));
    await gw0.send(splitUpdate(new TextEncoder().encode('not an update at all'), { updateId: 'junk' }));
    await gw0.ack('junk', 'complete');
    expect(await rig.metric('edgewise_fleet_learning_chunks_total{result="malformed"}')).toBeGreaterThanOrEqual(2);
    expect(await rig.metric('edgewise_fleet_learning_updates_total{outcome="rejected",reason="malformed"}')).toBe(1);
    // Every publish was acknowledged: the connection is up, and the service still takes a good update.
    expect(gw0.client.connected).toBe(true);
    await gw0.send(gw0.chunks({ task: TASK, round: 1 }));
    await waitFor(async () => (await rig.metric('edgewise_fleet_learning_updates_total{outcome="accepted",reason=""}')) === 1, 'the good update accepted');
    // The right task and round, the wrong tensors: an answer, refused as wrong-shape.
    const wrong = encodeUpdate({ round: 1, task: TASK, client: 'gw-1', samples: 10, validationLoss: null, tensors: [{ name: 'w0', shape: [2], scale: Math.fround(0.1), q: new Int8Array([1, 2]) }] });
    await gw1.send(splitUpdate(wrong, { updateId: 'wrong-shape' }));
    await gw1.ack('wrong-shape', 'complete');
    const r = await round(rig, 1);
    // Both drawn gateways answered, one of them wrongly: the quorum is out of reach, and the record says why.
    expect(r.record).toMatchObject({ closedBy: 'quorum-unreachable', participants: ['gw-0'], outcome: { type: 'no-model', reason: 'below-quorum' } });
    expect(r.record?.rejections['wrong-shape']).toBe(1);
  });

  it('abandons the open round when the fleet restarts and opens a new one; an operator stop abandons and clears', async () => {
    const [gw0] = await rig.addGateways({ line: 'press' }, 'gw-0');
    await createTask(rig, taskBody({ minClients: 1 }, { rounds: null }));
    await invited(rig, ['gw-0'], 1);
    await rig.startService();
    expect(await round(rig, 1, 'abandoned')).toMatchObject({ record: null });
    await invited(rig, ['gw-0'], 2);
    expect(await rig.metric('edgewise_fleet_learning_rounds_total{outcome="abandoned"}')).toBe(1);
    const stopped = await rig.call('POST', `/v1/learning/tasks/${TASK}/stop`);
    expect(stopped.json).toMatchObject({ state: 'stopped', reason: 'stopped by an operator', roundsClosed: 2 });
    expect((await rig.service.store.getRound(TASK, 2))?.outcome).toBe('abandoned');
    await waitFor(() => gw0?.announcements.at(-1) === null, 'announcement cleared');
    expect((await rig.call('POST', `/v1/learning/tasks/${TASK}/stop`)).status).toBe(409);
    const rounds = await rig.call('GET', `/v1/learning/tasks/${TASK}/rounds?limit=1`);
    expect(rounds.json).toMatchObject({ items: [{ round: 2, outcome: 'abandoned' }], next: 2 });
  });

  it('answers a task definition it refuses with 400 naming the field, and an unknown release with E_RELEASE_UNKNOWN', async () => {
    const bad = await rig.call('POST', '/v1/learning/tasks', taskBody({ clipNorm: -1 }));
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'E_VALIDATION' });
    expect(String(bad.json['detail'])).toMatch(/^body\.task\.clipNorm: /);
    const selector = await rig.call('POST', '/v1/learning/tasks', taskBody({ gatewaySelector: 'line in (' }));
    expect(String(selector.json['detail'])).toMatch(/^body\.task\.gatewaySelector: /);
    const release = await rig.call('POST', '/v1/learning/tasks', { ...taskBody(), initialRelease: 9 });
    expect(release).toMatchObject({ status: 400, json: { code: 'E_RELEASE_UNKNOWN' } });
    expect(String(release.json['detail'])).toContain('releases: 1');
    await createTask(rig, taskBody());
    expect((await rig.call('POST', '/v1/learning/tasks', taskBody())).json).toMatchObject({ code: 'E_LEARNING_TASK_EXISTS' });
    expect((await rig.call('GET', '/v1/learning/tasks/nope')).status).toBe(404);
    expect((await rig.call('GET', `/v1/learning/tasks/${TASK}/rounds/7`)).status).toBe(404);
    // No gateway matches: its one round closed at once without a model, and the task is done.
    await waitFor(async () => (await rig.service.getTask(TASK)).state === 'finished', 'task finished');
    expect((await rig.call('GET', '/v1/learning/tasks?state=finished')).json).toMatchObject({ items: [{ id: TASK, state: 'finished', roundsClosed: 1 }], next: null });
    expect((await rig.call('GET', `/v1/learning/tasks/${TASK}/rounds/1`)).json).toMatchObject({ outcome: 'no-model', sampled: 0, record: { closedBy: 'quorum-unreachable', eligible: 0 } });
  });
});

describe('the round service\'s bounds', () => {
  const rig = useRoundService();

  it('runs at most 64 tasks at once: the next is refused with 409 until one stops', async () => {
    for (let i = 0; i < 64; i += 1) await rig.service.createTask({ task: taskBody({ id: `t-${i}` })['task'], rounds: null });
    const refused = await rig.call('POST', '/v1/learning/tasks', { ...taskBody({ id: 't-64' }), rounds: null });
    expect(refused).toMatchObject({ status: 409, json: { code: 'E_LEARNING_TASK_STATE' } });
    expect(String(refused.json['detail'])).toContain('64 tasks are active already');
    await rig.service.stopTask('t-0');
    expect((await rig.call('POST', '/v1/learning/tasks', { ...taskBody({ id: 't-64' }), rounds: null })).status).toBe(201);
  });
});

/** The encoded update back from its chunks (in order, each checked as the fleet checks it): to replay it under another update id. */
function reassemble(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks.map((c) => decodeChunk(c).data));
}
