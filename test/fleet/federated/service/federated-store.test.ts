import { beforeEach, describe, expect, it } from 'vitest';
import { FederatedStore, type TaskSchedule } from '../../../../fleet/federated/service/federated-store.js';
import { emptyRejectionCounts, parseFederatedTask, type RoundRecord } from '../../../../fleet/federated/round/index.js';
import type { GlobalModelRef } from '../../../../fleet/protocol/federated/announcement.js';
import { BACKENDS, useFleetDb } from '../../../support/fleet-db.js';

const definition = parseFederatedTask({ id: 'press-ae', model: 'anomaly-press', gatewaySelector: 'line=press', strategy: { type: 'fedavg' }, localEpochs: 1, learningRate: 0.01, clipNorm: 1, minClients: 2, samplingShare: 1, deadlineMs: 60_000 });
const schedule: TaskSchedule = { rounds: 3, roundIntervalMs: 0, rollout: null };
const ref = (release: number): GlobalModelRef => ({ name: 'anomaly-press', release, version: `v${release}`, sha256: 'a'.repeat(64), fetch: { type: 'tuf', target: `models/anomaly-press/${release}/model.onnx` } });

function record(round: number, outcome: RoundRecord['outcome'], participants: string[]): RoundRecord {
  return {
    task: 'press-ae', round, globalModelVersion: 1, openedAtMs: 1000, closedAtMs: 2000, durationMs: 1000, closedBy: 'all-answered', eligible: 3, sampled: 3, participants,
    rejections: { ...emptyRejectionCounts(), duplicate: 1 }, clipped: 0, validationLoss: { reported: 2, mean: 0.25, weightedMean: 0.2 }, calibration: { windows: 40, logMean: -4.5, logStd: 0.5 },
    late: { buffered: 0, applied: [], expired: 0 }, strategy: { type: 'fedavg', options: {}, combination: 'rule', selected: null }, privacy: null, outcome,
  };
}

describe.each(BACKENDS)('the federated store on %s', (backend) => {
  const db = useFleetDb(backend);
  let store: FederatedStore;
  beforeEach(async () => {
    await db.reset();
    store = new FederatedStore(db.sql);
  });

  it('keeps a task as checked and refuses a second with the same id', async () => {
    expect(await store.insertTask({ id: 'press-ae', definition, schedule, globalModel: ref(1), nowMs: 10 })).toBe(true);
    expect(await store.insertTask({ id: 'press-ae', definition, schedule, globalModel: ref(2), nowMs: 11 })).toBe(false);
    const t = await store.getTask('press-ae');
    expect(t).toEqual({ id: 'press-ae', definition, schedule, state: 'active', reason: null, createdMs: 10, updatedMs: 10, globalModel: ref(1), nextRound: 1, roundsClosed: 0, privacyHistory: [] });
    expect(await store.getTask('nope')).toBeUndefined();
  });

  it('opens and closes rounds: the record, its columns and the task\'s progress', async () => {
    await store.insertTask({ id: 'press-ae', definition, schedule, globalModel: ref(1), nowMs: 10 });
    await store.openRound({ task: 'press-ae', round: 1, openedMs: 1000, deadlineMs: 61_000, globalModel: ref(1), sampled: 3 });
    expect((await store.getTask('press-ae'))?.nextRound).toBe(2);
    expect(await store.getRound('press-ae', 1)).toMatchObject({ outcome: 'open', closedMs: null, record: null, sampled: 3 });
    const rec = record(1, { type: 'model', deltaNorm: 0.5 }, ['gw-1', 'gw-2']);
    await store.closeRound({ closedMs: 2000, record: rec, released: ref(2), releaseError: null, privacyHistory: [{ samplingRate: 1, noiseMultiplier: 1, rounds: 1 }] });
    const r = await store.getRound('press-ae', 1);
    expect(r).toEqual({ task: 'press-ae', round: 1, openedMs: 1000, deadlineMs: 61_000, closedMs: 2000, outcome: 'model', globalModel: ref(1), sampled: 3, record: rec, participants: 2, meanValidationLoss: 0.25, epsilonSpent: null, released: ref(2), releaseError: null });
    const t = await store.getTask('press-ae');
    expect(t).toMatchObject({ globalModel: ref(2), roundsClosed: 1, privacyHistory: [{ samplingRate: 1, noiseMultiplier: 1, rounds: 1 }] });
    // Closing twice changes nothing: only an open round closes.
    await store.closeRound({ closedMs: 3000, record: record(1, { type: 'no-model', reason: 'below-quorum', detail: 'x' }, []), released: null, releaseError: null, privacyHistory: [] });
    expect((await store.getRound('press-ae', 1))?.outcome).toBe('model');
    expect((await store.getTask('press-ae'))?.roundsClosed).toBe(1);
  });

  it('marks the rounds a stopped fleet left open as abandoned', async () => {
    await store.insertTask({ id: 'press-ae', definition, schedule, globalModel: ref(1), nowMs: 10 });
    await store.openRound({ task: 'press-ae', round: 1, openedMs: 1000, deadlineMs: 61_000, globalModel: ref(1), sampled: 3 });
    expect(await store.abandonOpenRounds(5000)).toBe(1);
    expect(await store.getRound('press-ae', 1)).toMatchObject({ outcome: 'abandoned', closedMs: 5000 });
    expect(await store.getTask('press-ae')).toMatchObject({ roundsClosed: 1, nextRound: 2, globalModel: ref(1) });
    expect(await store.abandonOpenRounds(6000)).toBe(0);
  });

  it('lists tasks by state in id order and rounds newest first, a page at a time', async () => {
    for (const id of ['c', 'a', 'b']) await store.insertTask({ id, definition: { ...definition, id }, schedule, globalModel: ref(1), nowMs: 10 });
    expect(await store.transition('b', ['active'], 'stopped', 'operator', 20)).toBe(true);
    expect(await store.transition('b', ['active'], 'finished', null, 21)).toBe(false);
    expect((await store.listTasks({ limit: 10 })).map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect((await store.listTasks({ state: 'active', limit: 10 })).map((t) => t.id)).toEqual(['a', 'c']);
    expect((await store.listTasks({ after: 'a', limit: 1 })).map((t) => t.id)).toEqual(['b']);
    for (let n = 1; n <= 5; n += 1) await store.openRound({ task: 'a', round: n, openedMs: n, deadlineMs: n + 1000, globalModel: ref(1), sampled: 1 });
    expect((await store.listRounds('a', { limit: 2 })).map((r) => r.round)).toEqual([5, 4]);
    expect((await store.listRounds('a', { before: 4, limit: 2 })).map((r) => r.round)).toEqual([3, 2]);
    expect(await store.listRounds('c', { limit: 2 })).toEqual([]);
  });
});
