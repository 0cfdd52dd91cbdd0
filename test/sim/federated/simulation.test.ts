import { describe, expect, it } from 'vitest';
import { buildDataset } from '../../../sim/federated/dataset.js';
import { trainLocally } from '../../../models/train/local-training.js';
import { parametersOf } from '../../../sim/federated/model-tensors.js';
import { roundsToWithin, runFederated, type FederatedRunOptions } from '../../../sim/federated/simulation.js';
import { Mlp } from '../../../models/train/mlp.js';

/** A small fleet for the mechanics (the science runs are in the other files of this folder). */
const data = buildDataset({ gateways: 6, seed: 2, rateHz: 200, windowSamples: 32, collectSeconds: 240, keptWindows: 60 });
const options: FederatedRunOptions = {
  task: 'anomaly-motor',
  rounds: 3,
  hidden: [32, 8, 32],
  initSeed: 1,
  local: { epochs: 1, batchSize: 8, learningRate: 0.005, optimiser: 'adam' },
  transport: { type: 'int8' },
  aggregation: { strategy: 'fedavg' },
  minClients: 3,
  seed: 9,
};

describe('a federated run in one process', () => {
  it('is reproducible from its seeds, and its global model learns', async () => {
    const a = await runFederated(data, options);
    const b = await runFederated(data, options);
    expect(b.rounds.map((r) => r.validationLoss)).toEqual(a.rounds.map((r) => r.validationLoss));
    expect(parametersOf(b.model)).toEqual(parametersOf(a.model));
    const losses = [a.initialLoss, ...a.rounds.map((r) => r.validationLoss)];
    losses.slice(1).forEach((l, i) => expect(l).toBeLessThan(losses[i]!));
    expect(losses.at(-1)!).toBeLessThan(0.6 * a.initialLoss);
    expect(a.rounds.every((r) => r.accepted === 6 && r.updated && r.reportedValidationLoss > 0)).toBe(true);
    expect(roundsToWithin(a, a.rounds[1]!.validationLoss, 0)).toBeLessThanOrEqual(2);
    expect(roundsToWithin(a, 0, 0.05)).toBeNull();
    const other = await runFederated(data, { ...options, seed: 10 });
    expect(other.rounds.at(-1)!.validationLoss).not.toBe(a.rounds.at(-1)!.validationLoss);
  });

  it('closes a round without a new model when too few updates pass the checks', async () => {
    // Four of six send NaN, which the fleet's decoder refuses: 2 accepted, quorum 3.
    const attackers = new Map([[0, 'nan'], [1, 'nan'], [2, 'nan'], [3, 'nan']] as const);
    const run = await runFederated(data, { ...options, rounds: 2, attackers });
    for (const r of run.rounds) {
      expect(r).toMatchObject({ accepted: 2, rejected: { malformed: 4 }, updated: false });
      expect(r.validationLoss).toBe(run.initialLoss);
    }
  });

  it('refuses a rule that cannot work with the task (E_FEDERATED_TASK), and settings that make no run', async () => {
    await expect(runFederated(data, { ...options, aggregation: { strategy: 'trimmed-mean', options: { trimShare: 0.1 } } })).rejects.toMatchObject({ code: 'E_FEDERATED_TASK' });
    await expect(runFederated(data, { ...options, rounds: 0 })).rejects.toThrow(/rounds/);
    await expect(runFederated(data, { ...options, learningRateDecay: 1.5 })).rejects.toThrow(/learningRateDecay/);
    await expect(runFederated(data, { ...options, attackers: new Map([[6, 'nan']]) })).rejects.toThrow(/attacker 6/);
  });
});

describe('a gateway\'s local training', () => {
  const g = data.gateways[0]!;
  const global = new Mlp([96, 32, 8, 32, 96], 1);

  it('starts from the global model and leaves it untouched', async () => {
    const before = parametersOf(global).map((p) => p.slice());
    const { model, losses } = await trainLocally(global, g.train, g.trainCount, { ...options.local, epochs: 2, seed: 1 });
    expect(parametersOf(global)).toEqual(before);
    expect(parametersOf(model)).not.toEqual(before);
    expect(losses[1]!).toBeLessThan(losses[0]!);
  });

  it('stays nearer the global model with FedProx\'s proximal term', async () => {
    const distance = (m: Mlp): number => parametersOf(m).reduce((s, p, k) => s + p.reduce((t, x, j) => t + (x - parametersOf(global)[k]![j]!) ** 2, 0), 0);
    const plain = await trainLocally(global, g.train, g.trainCount, { ...options.local, epochs: 3, seed: 1 });
    const prox = await trainLocally(global, g.train, g.trainCount, { ...options.local, epochs: 3, seed: 1, proximalMu: 1 });
    expect(distance(prox.model)).toBeLessThan(0.9 * distance(plain.model));
  });

  it('learns with plain SGD too', async () => {
    const { losses } = await trainLocally(global, g.train, g.trainCount, { ...options.local, optimiser: 'sgd', learningRate: 1, epochs: 3, seed: 1 });
    expect(losses[2]!).toBeLessThan(0.8 * losses[0]!);
  });
});
