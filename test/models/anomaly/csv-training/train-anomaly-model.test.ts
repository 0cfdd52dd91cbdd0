import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderScorer } from '../../../../models/anomaly/autoencoder/model.js';
import { SensorDataError, TrainingOptionError, TrainingStoppedError } from '../../../../models/anomaly/csv-training/errors.js';
import { trainAnomalyModel, type TrainAnomalyOptions } from '../../../../models/anomaly/csv-training/train-anomaly-model.js';
import type { SensorLog } from '../../../../models/datasets/types.js';
import { CARD_FILE, CHECKPOINT_DIR, MODEL_FILE, type TrainingProgress } from '../../../../models/model-dir/model-card.js';
import { defaultBackend } from '../../../support/inference-backend.js';
import { motorLog } from './motor-log.js';

const T0 = Date.UTC(2026, 10, 30);
let root: string;
let n = 0;
const freshDir = (): string => join(root, `m${(n += 1)}`);
const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgewise-csv-train-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Median calibrated score of the log's windows at rows [from, to) (every 16th window). */
async function medianScore(modelBytes: Uint8Array, log: SensorLog, from: number, to: number): Promise<number> {
  const scorer = await AutoencoderScorer.load(modelBytes, defaultBackend(), {});
  try {
    const starts: number[] = [];
    for (let s = from; s + 32 <= to; s += 16) starts.push(s);
    const raw = new Float64Array(starts.length * 32 * 3);
    starts.forEach((s, k) => raw.set(log.values.subarray(s * 3, (s + 32) * 3), k * 96));
    const scores = (await scorer.score(raw, starts.length)).map((r) => r.score).sort((a, b) => a - b);
    return scores[scores.length >> 1] as number;
  } finally {
    await scorer.close();
  }
}

describe('trainAnomalyModel', () => {
  it('trains on the rows labelled normal only: a long labelled fault stays anomalous, while the same log unlabelled teaches it as normal', async () => {
    // Four minutes of normal running, then four of bearing wear, at 100 Hz.
    const log = motorLog({ file: 'wear.csv', seconds: 480, rateHz: 100, seed: 4, running: true, t0Ms: T0, faults: [{ kind: 'bearing-wear', atS: 240, durationS: 240 }] });
    const options: TrainAnomalyOptions = { outDir: freshDir(), seed: 2, epochs: 15 };
    const labelled = await trainAnomalyModel([log], options);
    expect(labelled.sensor.trainedOn).toBe('normal-rows');
    const notices: string[] = [];
    const unlabelledDir = freshDir();
    const unlabelled = await trainAnomalyModel([{ ...log, labels: null }], { ...options, outDir: unlabelledDir, onNotice: (m) => notices.push(m) });
    expect(unlabelled.sensor.trainedOn).toBe('all-rows');
    expect(notices.join('\n')).toMatch(/no label column: every row of wear\.csv is taken as normal running/);
    // Half the windows are of the fault: the unlabelled model trained on twice as many.
    expect(unlabelled.training.trainSamples).toBeGreaterThan(1.8 * labelled.training.trainSamples);
    const wearLabelled = await medianScore(await readFile(join(options.outDir, MODEL_FILE)), log, 24_000, 48_000);
    const wearUnlabelled = await medianScore(await readFile(join(unlabelledDir, MODEL_FILE)), log, 24_000, 48_000);
    expect(wearLabelled).toBeGreaterThan(0.5);
    expect(wearUnlabelled).toBeLessThan(0.3);
  }, 60_000);

  it('stops after an epoch with its checkpoint and resumes to the very model an uninterrupted run makes', async () => {
    const log = motorLog({ file: 'm.csv', seconds: 180, rateHz: 100, seed: 5, running: true, t0Ms: T0, faults: [] });
    const whole = freshDir();
    const wholeCard = await trainAnomalyModel([log], { outDir: whole, seed: 3, epochs: 6 });
    expect(await exists(join(whole, CHECKPOINT_DIR)), 'the checkpoint is removed once training ends').toBe(false);

    const dir = freshDir();
    const stop = new AbortController();
    const seen: TrainingProgress[] = [];
    await expect(
      trainAnomalyModel([log], {
        outDir: dir,
        seed: 3,
        epochs: 6,
        signal: stop.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.epoch === 3 && p.step === p.steps) stop.abort();
        },
      }),
    ).rejects.toThrow(TrainingStoppedError);
    expect(Math.max(...seen.map((p) => p.epoch))).toBe(3);
    expect(await exists(join(dir, CHECKPOINT_DIR))).toBe(true);
    expect(await exists(join(dir, MODEL_FILE)), 'no model until training ends').toBe(false);

    const resumed: TrainingProgress[] = [];
    const notices: string[] = [];
    const card = await trainAnomalyModel([log], { outDir: dir, seed: 3, epochs: 6, resume: true, onProgress: (p) => resumed.push(p), onNotice: (m) => notices.push(m) });
    expect(notices).toContain('resuming from the checkpoint after epoch 3 of 6');
    expect([...new Set(resumed.map((p) => p.epoch))]).toEqual([4, 5, 6]);
    expect(card.training.losses).toEqual(wholeCard.training.losses);
    expect(await readFile(join(dir, MODEL_FILE))).toEqual(await readFile(join(whole, MODEL_FILE)));
    expect(await exists(join(dir, CHECKPOINT_DIR))).toBe(false);
    expect(JSON.parse(await readFile(join(dir, CARD_FILE), 'utf8'))).toMatchObject({ task: 'anomaly', training: { epochs: 6, seed: 3 } });
  }, 60_000);

  it('does not resume from a checkpoint of other data: it says so and starts over', async () => {
    const dir = freshDir();
    const a = motorLog({ file: 'a.csv', seconds: 120, rateHz: 100, seed: 6, running: true, t0Ms: T0, faults: [] });
    const b = motorLog({ file: 'b.csv', seconds: 120, rateHz: 100, seed: 7, running: true, t0Ms: T0, faults: [] });
    const stop = new AbortController();
    await expect(trainAnomalyModel([a], { outDir: dir, seed: 1, epochs: 4, signal: stop.signal, onProgress: (p) => p.step === p.steps && stop.abort() })).rejects.toThrow(TrainingStoppedError);
    const notices: string[] = [];
    const epochs: number[] = [];
    await trainAnomalyModel([b], { outDir: dir, seed: 1, epochs: 4, resume: true, onNotice: (m) => notices.push(m), onProgress: (p) => epochs.push(p.epoch) });
    expect(notices.join('\n')).toMatch(/checkpoint in .* is of other data or settings: training from the start/);
    expect(epochs[0]).toBe(1);
  }, 60_000);

  it('trains logs of another rate only when told to resample them, and records the rate it trained at', async () => {
    const fast = motorLog({ file: 'fast.csv', seconds: 120, rateHz: 200, seed: 8, running: true, t0Ms: T0, faults: [] });
    const slow = motorLog({ file: 'slow.csv', seconds: 120, rateHz: 100, seed: 9, running: true, t0Ms: T0 + 3_600_000, faults: [] });
    await expect(trainAnomalyModel([fast, slow], { outDir: freshDir(), seed: 1, epochs: 1 })).rejects.toThrow(/slow\.csv: sampled at 100\.0 Hz, fast\.csv at 200\.0 Hz; .*--rate-hz/);
    const notices: string[] = [];
    const card = await trainAnomalyModel([fast, slow], { outDir: freshDir(), seed: 1, epochs: 1, rateHz: 200, onNotice: (m) => notices.push(m) });
    expect(card.sensor.rateHz).toBe(200);
    expect(notices.join('\n')).toMatch(/slow\.csv: resampled from 100\.0 Hz to 200\.0 Hz/);
  }, 60_000);
});

describe('trainAnomalyModel channels', () => {
  it('models the channels asked for, in that order, with their units', async () => {
    const log = motorLog({ file: 'm.csv', seconds: 120, rateHz: 100, seed: 10, running: true, t0Ms: T0, faults: [] });
    const dir = freshDir();
    const card = await trainAnomalyModel([log], { outDir: dir, seed: 1, epochs: 1, channels: ['current', 'vibration'] });
    expect(card.classNames).toEqual(['current', 'vibration']);
    expect(card.sensor.units).toEqual(['A', 'g']);
    expect(card.architecture).toBe('autoencoder-mlp-64-32-8-32-64');
    await expect(trainAnomalyModel([log], { outDir: freshDir(), seed: 1, epochs: 1, channels: ['current', 'pressure'] })).rejects.toThrow(/m\.csv: no channel "pressure"/);
  });
});

describe('bad sensor logs and settings', () => {
  const good = (): SensorLog => motorLog({ file: 'plant/line-1.csv', seconds: 60, rateHz: 50, seed: 1, running: true, t0Ms: T0, faults: [] });
  const cases: [string, () => SensorLog[], RegExp][] = [
    ['no logs at all', () => [], /no sensor logs/],
    [
      'a timestamp out of order',
      () => {
        const l = good();
        const ts = l.timestampsMs.slice();
        ts[10] = ts[8] as number;
        return [{ ...l, timestampsMs: ts }];
      },
      /plant\/line-1\.csv: data row 11: timestamp .* is not after the previous row's/,
    ],
    [
      'a label that is not 0 or 1',
      () => {
        const l = good();
        const labels = (l.labels as Uint8Array).slice();
        labels[41] = 2;
        return [{ ...l, labels }];
      },
      /plant\/line-1\.csv: data row 42: label 2; expected 0 \(normal\) or 1 \(abnormal\)/,
    ],
    ['a log without one of the channels', () => [good(), { ...good(), file: 'plant/line-2.csv', channels: ['vibration', 'temp', 'current'] }], /plant\/line-2\.csv: no channel "temperature" \(it has vibration, temp, current\)/],
    ['a channel in other units', () => [good(), { ...good(), file: 'plant/line-2.csv', units: ['g', 'degF', 'A'] }], /plant\/line-2\.csv: channel "temperature" is in "degF" but plant\/line-1\.csv has it in "degC"/],
    [
      'too little normal running',
      () => {
        const l = good();
        return [{ ...l, labels: new Uint8Array(l.rows).fill(1) }];
      },
      /plant\/line-1\.csv: 0 rows of normal running make 0 windows of 32 samples .* need at least 8/,
    ],
    ['a single row', () => [{ ...good(), rows: 1, timestampsMs: new Float64Array([T0]), values: new Float64Array(3), labels: null }], /plant\/line-1\.csv: 1 data rows; a sensor log needs at least 2/],
  ];
  for (const [what, logs, message] of cases) {
    it(`names the file and row of ${what}`, async () => {
      const err = await trainAnomalyModel(logs(), { outDir: freshDir(), seed: 1, epochs: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SensorDataError);
      expect((err as SensorDataError).code).toBe('E_DATASET');
      expect((err as Error).message).toMatch(message);
    });
  }

  it('refuses settings the stage could not use', async () => {
    await expect(trainAnomalyModel([good()], { outDir: freshDir(), seed: 1, windowSamples: 2000 })).rejects.toThrow(TrainingOptionError);
    await expect(trainAnomalyModel([good()], { outDir: freshDir(), seed: 1, epochs: 0 })).rejects.toThrow(/epochs: expected an integer from 1 to 1000, got 0/);
  });
});
