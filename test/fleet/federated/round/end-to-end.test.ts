import { describe, expect, it } from 'vitest';
import { seededUniformSource } from '../../../../fleet/federated/privacy/index.js';
import { ChunkReassembler, ErrorFeedback, encodeUpdate, seededRandom, splitUpdate, type FloatTensor, type TensorLayout } from '../../../../fleet/protocol/federated/index.js';
import type { GlobalModel, RoundRecord } from '../../../../fleet/federated/round/index.js';
import { autoencoderLayout, elements, gateways, harness, modelOf, task } from './fixtures.js';

/**
 * Ten gateways learn a known target together, every byte through the real codec: each trains
 * locally toward its own target (the shared one plus its own offset), clips and quantises the
 * delta with error feedback, encodes it, splits it into MQTT-sized chunks, and the fleet puts
 * the chunks back together (in interleaved order, one chunk redelivered) before the round
 * takes the bytes. One gateway is a straggler: its update always comes after the deadline.
 */
const ROUNDS = 30;
const CLIENTS = 10;
const STRAGGLER = 'gw-09';
const LR = 0.1;
const EPOCHS = 5;

interface Run {
  readonly final: GlobalModel;
  readonly records: RoundRecord[];
  readonly distances: number[];
  readonly referenceDistances: number[];
  readonly bytesPerUpdate: number;
}

function run(layout: readonly TensorLayout[], quantisation: { type: 'int8' } | { type: 'top-k'; density: number }): Run & { target: Float32Array[] } {
  const r = seededRandom(2024);
  const target = layout.map((t) => Float32Array.from({ length: elements(t) }, () => (r() - 0.5) * 0.3));
  const ids = gateways(CLIENTS);
  const clients = ids.map((id, i) => ({
    id,
    samples: 50 + 30 * i,
    own: target.map((t) => t.map((v) => v + (r() - 0.5) * 0.02)),
    feedback: new ErrorFeedback(layout),
    random: seededRandom(100 + i),
  }));
  const t = task({ minClients: 4, samplingShare: 0.8, clipNorm: 2, deadlineMs: 60_000, quantisation, localEpochs: EPOCHS, learningRate: LR });
  const h = harness(t);
  const reassembler = new ChunkReassembler({ now: h.clock.now });
  let global: GlobalModel = modelOf(layout, () => 0, 1);
  const records: RoundRecord[] = [];
  const distances: number[] = [];
  /** Float32 FedAvg without quantisation over the same participants: what the codec is compared with. */
  let reference = global.parameters.map((p) => Float64Array.from(p.values));
  const referenceDistances: number[] = [];
  let bytes = 0;
  let updates = 0;

  /** Local training on the gateway: EPOCHS steps of gradient descent on 1/2 ||w - own||^2, from the announced model. */
  const train = (c: (typeof clients)[number], round: number) => {
    const deltas: FloatTensor[] = global.parameters.map((p, k) => {
      const own = c.own[k] as Float32Array;
      const w = Float64Array.from(p.values);
      for (let e = 0; e < EPOCHS; e += 1) for (let j = 0; j < w.length; j += 1) w[j] = (w[j] as number) - LR * ((w[j] as number) - (own[j] as number));
      return { name: p.name, shape: [...p.shape], values: Float32Array.from(w, (x, j) => x - (p.values[j] as number)) };
    });
    let loss = 0;
    let n = 0;
    deltas.forEach((d, k) => d.values.forEach((x, j) => {
      loss += (global.parameters[k]!.values[j]! + x - c.own[k]![j]!) ** 2;
      n += 1;
    }));
    const tensors = c.feedback.compress(deltas, c.random, { clipNorm: t.clipNorm, ...(quantisation.type === 'top-k' ? { density: quantisation.density } : {}) });
    const encoded = encodeUpdate({ round, task: t.id, client: c.id, samples: c.samples, validationLoss: loss / n, tensors });
    bytes += encoded.length;
    updates += 1;
    return splitUpdate(encoded, { updateId: `${t.id}.${round}`, maxChunkBytes: 2048 });
  };

  const deliver = (sender: string, chunks: Uint8Array[]) => {
    for (const chunk of chunks) {
      const got = reassembler.accept(sender, chunk);
      if (got.status === 'complete') return h.rounds.acceptEncoded(sender, got.bytes);
    }
    throw new Error(`${sender}: the chunks did not complete an update`);
  };

  for (let round = 1; round <= ROUNDS; round += 1) {
    const opened = h.rounds.open({ round, globalModel: global, eligibleGateways: ids, random: seededUniformSource(7000 + round) });
    if (opened.status !== 'opened') throw new Error('refused');
    const drawn = clients.filter((c) => opened.invitations.some((i) => i.gateway === c.id));
    const onTime = drawn.filter((c) => c.id !== STRAGGLER).map((c) => ({ id: c.id, chunks: train(c, round) }));
    const late = drawn.filter((c) => c.id === STRAGGLER).map((c) => ({ id: c.id, chunks: train(c, round) }));
    // Interleave the on-time gateways' chunks, last chunk first, with one chunk redelivered.
    const queue = onTime.flatMap(({ id, chunks }) => [...chunks].reverse().map((chunk, k) => ({ id, chunk, k }))).sort((a, b) => a.k - b.k || (a.id < b.id ? -1 : 1));
    if (queue.length > 0) queue.splice(1, 0, queue[0]!);
    let closed = h.rounds.closeIfDue();
    for (const { id, chunk } of queue) {
      expect(closed).toBeNull();
      h.clock.advance(20);
      const got = reassembler.accept(id, chunk);
      if (got.status === 'complete') expect(h.rounds.acceptEncoded(id, got.bytes)).toEqual({ status: 'accepted', round });
      closed = h.rounds.closeIfDue();
    }
    if (late.length > 0) {
      // The straggler has not answered: the round waits for it, but only until the deadline.
      expect(closed).toBeNull();
      h.clock.t = h.rounds.openRound!.deadlineAtMs - 1;
      expect(h.rounds.closeIfDue()).toBeNull();
      h.clock.advance(1);
      closed = h.rounds.closeIfDue();
    }
    if (closed === null) throw new Error('not closed');
    records.push(closed.record);
    for (const { id, chunks } of late) expect(deliver(id, chunks)).toMatchObject({ status: 'rejected', reason: 'late-dropped' });
    if (closed.model !== null) {
      global = { version: global.version + 1, parameters: closed.model.parameters };
      const chosen = clients.filter((c) => closed.record.participants.includes(c.id));
      const total = chosen.reduce((n, c) => n + c.samples, 0);
      const steps = chosen.map((c) => {
        const d = reference.map((w, k) => w.map((x, j) => (1 - (1 - LR) ** EPOCHS) * (c.own[k]![j]! - x)));
        const norm = Math.sqrt(d.reduce((n, t) => n + t.reduce((m, x) => m + x * x, 0), 0));
        return d.map((t) => t.map((x) => x * Math.min(1, t.length === 0 ? 1 : 2 / norm)));
      });
      reference = reference.map((w, k) => w.map((x, j) => x + chosen.reduce((n, c, i) => n + c.samples * steps[i]![k]![j]!, 0) / total));
    }
    referenceDistances.push(relativeDistance(reference, target));
    distances.push(relativeDistance(global.parameters.map((p) => p.values), target));
    h.clock.advance(1000);
  }
  return { final: global, records, distances, referenceDistances, target, bytesPerUpdate: bytes / updates };
}

/** ||w - target|| / ||target||. */
function relativeDistance(w: readonly ArrayLike<number>[], target: readonly Float32Array[]): number {
  let d2 = 0;
  let t2 = 0;
  target.forEach((t, k) => t.forEach((x, j) => {
    d2 += ((w[k] as ArrayLike<number>)[j]! - x) ** 2;
    t2 += x * x;
  }));
  return Math.sqrt(d2 / t2);
}

describe('federated rounds end to end, in process', () => {
  const layout = autoencoderLayout();

  it('ten gateways converge on the shared target over rounds, through the real codec and chunks, with a straggler that never blocks', () => {
    const dense = run(layout, { type: 'int8' });
        const models = dense.records.filter((r) => r.outcome.type === 'model').length;
    expect(models).toBeGreaterThanOrEqual(ROUNDS - 2);
    for (const r of dense.records) {
      expect(r.closedBy).toBe(r.sampled < 4 ? 'quorum-unreachable' : r.participants.length < r.sampled ? 'deadline' : 'all-answered');
      expect(r.participants).not.toContain(STRAGGLER);
      expect(r.durationMs).toBeLessThanOrEqual(60_000);
    }
    // The straggler's late updates are counted in the record of the round after each one.
    const lateDropped = dense.records.reduce((n, r) => n + r.rejections['late-dropped'], 0);
    const stragglerDrawn = dense.records.slice(0, -1).filter((r) => r.sampled > r.participants.length).length;
    expect(lateDropped).toBe(stragglerDrawn);
    // Relative distance to the target: 1 at the start, clipped steps of at most 2 at first, then
    // geometric down to the spread of the drawn gateways' own targets (about 0.025 here).
    expect(dense.distances[4]!).toBeLessThan(0.1);
    expect(dense.distances[ROUNDS - 1]!).toBeLessThan(0.05);
    // Where it ends is where float32 FedAvg over the same participants ends (the gateways' own offsets decide the rest).
    const reference = dense.referenceDistances[ROUNDS - 1]!;
    expect(Math.abs(dense.distances[ROUNDS - 1]! - reference) / reference).toBeLessThan(0.1);
    const losses = dense.records.map((r) => r.validationLoss.weightedMean as number);
    expect(losses[ROUNDS - 1]!).toBeLessThan(losses[0]! / 20);

    // Top-k at 0.25 with error feedback gets there too, with a third of the bytes.
    const sparse = run(layout, { type: 'top-k', density: 0.25 });
    expect(sparse.distances[ROUNDS - 1]!).toBeLessThan(0.05);
    console.log(
      JSON.stringify({
        bench: 'federated-rounds-e2e',
        parameters: layout.reduce((n, t) => n + elements(t), 0),
        rounds: ROUNDS,
        modelsMade: models,
        distanceAfter: { round5: dense.distances[4], round10: dense.distances[9], round30: dense.distances[ROUNDS - 1] },
        float32FedAvgDistanceAfter: { round5: dense.referenceDistances[4], round30: reference },
        topKDistanceAfter30: sparse.distances[ROUNDS - 1],
        bytesPerUpdate: { int8: dense.bytesPerUpdate, topK025: sparse.bytesPerUpdate, float32: 4 * layout.reduce((n, t) => n + elements(t), 0) },
      }),
    );
  });

  it('is deterministic: the same seeds give the same model bit for bit', () => {
    const small = layout.slice(6); // the last layer only: the point is the bits, not the size
    const a = run(small, { type: 'int8' });
    const b = run(small, { type: 'int8' });
    expect(b.final.parameters.map((p) => [...p.values])).toEqual(a.final.parameters.map((p) => [...p.values]));
    expect(b.records).toEqual(a.records);
  });
});
