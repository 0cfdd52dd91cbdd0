import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFederatedTask } from '../../../fleet/federated/round/task.js';
import { LearnerRegistry } from '../../../runtime/federated/learner.js';
import type { Stage } from '../../../runtime/pipeline/components.js';
import { defineStage, PluginRegistry, type CreateEnv } from '../../../runtime/pipeline/registry.js';
import { runScenario } from '../../../sim/run/index.js';
import { byzantinePlugins, learningCast, LearningPlay, roundDeadlineMs, MAX_ROUND_DEADLINE_MS, MIN_ROUND_DEADLINE_MS } from '../../../sim/run/learning-play.js';
import { loadScenario, parseScenario } from '../../../sim/scenario/index.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { makeTempDir } from '../../support/temp-dir.js';

const STRATEGIES = ['fedavg', 'fedprox', 'median', 'trimmed-mean', 'multi-krum'] as const;

function play(strategy: string, learners: number, byzantine: number, atMs = 55_000, durationMs = 90_000, rounds = 1): LearningPlay {
  const ids = Array.from({ length: learners }, (_, i) => `m-${i + 1}`);
  return new LearningPlay({
    step: { atMs, rounds, byzantine: { ids: ids.slice(0, byzantine) }, strategy },
    scenarioName: 'x',
    model: 'motor-ae',
    learners: ids,
    byzantine: ids.slice(0, byzantine),
    learnerGroups: ['m'],
    fleetDataDir: '/nonexistent',
    apiUrl: 'http://127.0.0.1:1',
    durationMs,
    say: () => undefined,
  });
}

describe('the learning task a scenario makes', () => {
  it('is one the fleet accepts, for every rule and every Byzantine count the scenario allows, with a quorum that keeps the honest a majority', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STRATEGIES), fc.integer({ min: 1, max: 40 }), fc.nat(19), (strategy, learners, b) => {
        const byzantine = Math.min(b, Math.floor((learners - 1) / 2));
        const body = play(strategy, learners, byzantine).taskBody() as { task: { minClients: number } };
        const task = parseFederatedTask(body.task);
        expect(task.strategy.type).toBe(strategy);
        // Any round that makes a model has at least 2f + 1 updates: f Byzantine cannot be half of them.
        expect(task.minClients).toBeGreaterThanOrEqual(2 * byzantine + 1);
        if (strategy !== 'multi-krum') expect(task.minClients).toBeLessThanOrEqual(Math.max(learners, 3));
      }),
    );
  });

  it('fits its rounds between the step and the run\'s end: default.yaml\'s round (55 s of 90 s) waits 30 s at most', () => {
    expect(roundDeadlineMs({ atMs: 55_000, rounds: 1, byzantine: { ids: [] }, strategy: 'median' }, 90_000)).toBe(30_000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 1, max: 600_000 }), fc.integer({ min: 1, max: 5 }), (atMs, rest, rounds) => {
        const d = roundDeadlineMs({ atMs, rounds, byzantine: { ids: [] }, strategy: 'median' }, atMs + rest);
        expect(d).toBeGreaterThanOrEqual(MIN_ROUND_DEADLINE_MS);
        expect(d).toBeLessThanOrEqual(MAX_ROUND_DEADLINE_MS);
        // When the run leaves the time, every round (and 3 s) fits before its end.
        if (rest >= rounds * MIN_ROUND_DEADLINE_MS + 3000) expect(atMs + rounds * d).toBeLessThanOrEqual(atMs + rest - 3000);
      }),
    );
  });

  it('in default.yaml: the four MCU gateways learn, pack-2 (in this process) is the Byzantine one', async () => {
    const cast = learningCast(await loadScenario(join(import.meta.dirname, '../../../sim/scenarios/default.yaml')));
    expect([...(cast?.learners ?? [])]).toEqual(['press-1', 'press-2', 'pack-1', 'pack-2']);
    expect([...(cast?.byzantine ?? [])]).toEqual(['pack-2']);
    expect(cast?.honestAfterAll).toEqual([]);
  });
});

describe('byzantinePlugins', () => {
  it('gives every stage a learning host whose learners return their honest delta negated and boosted a hundredfold, and leaves stages without learning alone', async () => {
    let built = 0;
    const learnsPlugin = defineStage({
      type: 'learns',
      configSchema: { type: 'object', properties: { type: { const: 'learns' } }, required: ['type'], additionalProperties: false } as const,
      flow: { accepts: ['samples'], emits: [], passes: [] },
      create: (_config, env) => {
        built += 1;
        env.learning?.register({ model: 'm', train: () => Promise.resolve({ tensors: [{ name: 'w0', shape: [3], values: Float32Array.of(0.5, -0.25, 0) }], samples: 7, validationLoss: 0.125 }) });
        return {} as Stage;
      },
    });
    const byzantine = { count: 0 };
    const plugins = byzantinePlugins(new PluginRegistry().register(learnsPlugin), 1, byzantine);
    expect(plugins.types('stage')).toEqual(['learns']);
    const learners = new LearnerRegistry(512, 0.2);
    const env = { learning: learners } as unknown as CreateEnv;
    await plugins.stage('learns')?.create({ type: 'learns' }, env);
    const out = await learners.learnerFor('m')?.train({ globalModel: new Uint8Array(), localEpochs: 1, learningRate: 0.01, proximalMu: null, signal: new AbortController().signal });
    expect([...(out?.tensors[0]?.values ?? [])]).toEqual([-50, 25, -0]);
    expect(out).toMatchObject({ samples: 7, validationLoss: 0.125 });
    expect(byzantine.count).toBe(1);
    // A gateway without a learning section: the stage is built as it would be.
    await plugins.stage('learns')?.create({ type: 'learns' }, {} as CreateEnv);
    expect(built).toBe(2);
  });
});

/**
 * Four motors in this process, the fleet model rolled out to all of them at 1 s, then a
 * federated round at 9 s (its deadline 10 s; the round closes once all four answered, a few
 * seconds in, even on a loaded 2-core box): each gateway trains the model on the normal windows its stage kept
 * and sends its update over MQTT; pack-4's stage poisons its delta (negated, x100, then clipped
 * by its own encoder like any update). The fleet closes the round with the median: a model,
 * released as the task's delegated role; the Byzantine update is in the round but outvoted.
 */
const TINY = `
name: tiny-learning
seed: 5
duration: 22s
gateways:
  - group: pack
    count: 4
    mcu: { rateHz: 100 }
rollouts:
  - { release: good, at: 1s, waves: '100%' }
learning: { at: 9s, rounds: 1, byzantine: pack-4, strategy: median }
`;

describe('a learning round in a run', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('closes with a model from every gateway, the Byzantine update outvoted by the median: learning_ok', async () => {
    const dir = await makeTempDir('edgewise-sim-learning-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(TINY, 'tiny-learning.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l) });
    const said = lines.join('\n');
    const l = r.card.learning;
    expect(l?.problems, `${said}\n${r.table}`).toEqual([]);
    expect(r.card.learningOk).toBe(true);
    expect(JSON.parse(r.line)).toMatchObject({ learning_ok: true, lost: 0 });
    const round = l?.rounds[0];
    expect(round).toMatchObject({ round: 1, outcome: 'model', rule: 'median', selectedIds: null });
    expect([...(round?.participantIds ?? [])].sort()).toEqual(['pack-1', 'pack-2', 'pack-3', 'pack-4']);
    expect(Object.values(round?.rejected ?? {}).reduce((a, b) => a + b, 0)).toBe(0);
    expect(Number.isFinite(round?.meanValidationLoss)).toBe(true);
    expect(l?.byzantine).toEqual({ excluded: 0, outvoted: 1, used: 0, unknown: 0 });
    // The progress lines: the task, the round's close (its model released by the task's role), the poisoned update.
    expect(said).toMatch(/learning task sim-tiny-learning on motor-ae: 1 round\(s\) of 4 gateways .*median, quorum 3/);
    expect(said).toMatch(/learning round 1 closed: model released as motor-ae \d+ from 4 updates .*pack-4 \(Byzantine\): outvoted by the median/);
    expect(said).toMatch(/learning: pack-4 \(Byzantine\) poisoned 1 delta\(s\) it trained/);
    // Its influence bounded: the poisoned update pulls with the whole clip norm (10; a mean of
    // the four would move the model by about 10 / 4 against the honest direction), yet the
    // median moved the model by no more than honest updates do (about 0.2 here; FedAvg on the
    // same run moved it by about 2.4).
    const moved = Number(/model moved ([\d.e+-]+) \(one update may move it 10\)/.exec(said)?.[1]);
    expect(moved, said).toBeGreaterThan(0);
    expect(moved, said).toBeLessThan(1);
  }, 240_000);
});

/**
 * Only a bad release, stopped at its canary: the gateways never run the fleet model, keep no
 * windows for it, and cannot learn, though the task (from that release) is made and invites them.
 */
const NO_MODEL = `
name: tiny-no-model
seed: 6
duration: 15s
gateways:
  - group: pack
    count: 3
    mcu: { rateHz: 100 }
rollouts:
  - { release: bad, at: 1s, waves: '1, 100%' }
learning: { at: 3s, byzantine: pack-3 }
`;

describe('a learning round the gateways cannot answer', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('closes at its deadline without a model, says who sent nothing, and fails learning_ok', async () => {
    const dir = await makeTempDir('edgewise-sim-learning-');
    cleanup = dir.remove;
    const lines: string[] = [];
    await seedFleetDatabase(join(dir.path, 'data', 'fleet'));
    const r = await runScenario(parseScenario(NO_MODEL, 'tiny-no-model.yaml'), { dataDir: join(dir.path, 'data'), reportDir: join(dir.path, 'report'), progress: (l) => lines.push(l) });
    const said = lines.join('\n');
    expect(r.card.learningOk, said).toBe(false);
    expect(r.card.learning?.problems).toEqual(['round 1: no-model']);
    expect(JSON.parse(r.line)).toMatchObject({ learning_ok: false });
    // 15 s run, learning at 3 s: the round waits 9 s (to the run's end less 3 s), then closes.
    expect(said).toMatch(/quorum 3, deadline 9 s/);
    expect(said).toMatch(/learning round 1 closed: no-model from 0 updates .*closed by deadline; no update taken from pack-1, pack-2, pack-3/);
  }, 120_000);
});
