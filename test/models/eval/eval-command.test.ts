import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { VisionDataset } from '../../../models/datasets/types.js';
import { runModelEval, type ModelEvalOptions } from '../../../models/eval/eval-command.js';
import type { ModelCard } from '../../../models/model-dir/model-card.js';
import { writeModelDir } from '../../../models/model-dir/model-dir.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { conveyorCropSet, conveyorDetectionSet, detectorCard } from './conveyor-sets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function modelDir(card?: (c: ModelCard) => ModelCard): Promise<string> {
  const tmp = await makeTempDir('edgewise-eval-');
  cleanups.push(tmp.remove);
  const { card: c, model } = await detectorCard();
  const dir = join(tmp.path, 'model');
  await writeModelDir(dir, card === undefined ? c : card(c), model);
  return dir;
}

/** Runs the command with its output captured; the dataset comes from `dataset` (the CLI passes models/datasets' reader). */
async function run(o: Partial<ModelEvalOptions> & { model: string }, dataset: () => Promise<VisionDataset>): Promise<{ code: number; out: string[]; err: string[]; progress: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let progress = '';
  const code = await runModelEval({ data: '/data/conveyor', readDataset: dataset, out: (l) => out.push(l), err: (l) => err.push(l), progressTo: { write: (t: string) => (progress += t) }, ...o });
  return { code, out, err, progress };
}

describe('edgewise model eval (runModelEval)', () => {
  it('evaluates a MODEL_DIR, writes report.html and metrics.json into MODEL_DIR/eval and prints the JSON line last', async () => {
    const model = await modelDir();
    const asked: string[] = [];
    const r = await run({ model }, async () => {
      asked.push('read');
      return conveyorDetectionSet({ images: 16 });
    });
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(asked).toEqual(['read']);
    const line = JSON.parse(r.out.at(-1) as string) as Record<string, unknown>;
    expect(line).toMatchObject({ eval: 'detect', images: 16, threshold: 0.5 });
    expect(line['mAP50']).toBeGreaterThan(0.8);
    expect(Object.keys(line['per_class'] as object)).toEqual(['part']);
    // The conveyor's parts are 30 to 60 px: small and medium objects, no large ones.
    const bySize = line['by_size'] as Record<string, { truths: number; mAP50: number | null }>;
    expect(Object.keys(bySize)).toEqual(['small', 'medium', 'large']);
    expect(bySize['large']).toEqual({ truths: 0, mAP50: null, mAP50_95: null });
    expect((bySize['small']?.truths ?? 0) + (bySize['medium']?.truths ?? 0)).toBeGreaterThanOrEqual((line['per_class'] as { part: { truths: number } }).part.truths);
    expect(r.out).toContain(`report: ${join(model, 'eval', 'report.html')}`);
    const html = await readFile(join(model, 'eval', 'report.html'), 'utf8');
    expect(html).toContain('<!DOCTYPE html>');
    const metrics = JSON.parse(await readFile(join(model, 'eval', 'metrics.json'), 'utf8')) as { metrics: { classes: { ap: number[] }[] }; summary: unknown };
    expect(metrics.metrics.classes[0]?.ap).toHaveLength(10);
    expect(metrics.summary).toEqual(line);
    // Plain progress lines when no callback is given and the stream is not a terminal: one per tenth.
    const lines = r.progress.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(lines.at(-1)).toMatch(/^eval: 16\/16 images, \d+\.\d s$/);
    expect(lines[0]).toMatch(/^eval: 2\/16 images, .* about \d+ s left$/);
  });

  it('takes --report and --threshold, and redraws one progress line on a terminal', async () => {
    const model = await modelDir();
    const report = join(model, '..', 'elsewhere', 'r.html');
    let tty = '';
    const r = await run({ model, report, threshold: 0.9, progressTo: { isTTY: true, write: (t: string) => (tty += t) } }, async () => conveyorDetectionSet({ images: 4 }));
    expect(tty.split('\r').filter((x) => x !== '')).toHaveLength(4);
    expect(tty).toMatch(/\[#{20}\] eval: 4\/4 images, \d+\.\d s\n$/);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(JSON.parse(r.out.at(-1) as string)).toMatchObject({ threshold: 0.9 });
    expect((await stat(report)).size).toBeGreaterThan(1000);
    expect((await stat(join(model, '..', 'elsewhere', 'metrics.json'))).size).toBeGreaterThan(100);
  });

  it('exits 2 with a message naming what is wrong: no card, a bad dataset, a dataset of another task, a bad threshold, an anomaly model it cannot evaluate', async () => {
    const tmp = await makeTempDir('edgewise-eval-');
    cleanups.push(tmp.remove);
    const noCard = await run({ model: tmp.path }, async () => conveyorDetectionSet({ images: 1 }));
    expect(noCard.code).toBe(2);
    expect(noCard.err.join('\n')).toMatch(/model\.json: no model card/);

    const model = await modelDir();
    // What models/datasets' reader throws for a bad label (its DatasetError, code E_DATASET).
    const badData = await run({ model }, async () => {
      throw Object.assign(new Error('/data/conveyor/labels/val/a.txt:3: class id 7, but data.yaml names 1 class'), { code: 'E_DATASET' });
    });
    expect(badData.code).toBe(2);
    expect(badData.err.join('\n')).toContain('labels/val/a.txt:3');
    expect(badData.out).toEqual([]);

    const otherTask = await run({ model }, async () => conveyorCropSet(1));
    expect(otherTask.code).toBe(2);
    expect(otherTask.err.join('\n')).toMatch(/detect model, the dataset at \/data\/crops is a classify dataset/);

    const badThreshold = await run({ model, threshold: 1.5 }, async () => conveyorDetectionSet({ images: 1 }));
    expect(badThreshold.code).toBe(2);
    expect(badThreshold.err.join('\n')).toMatch(/--threshold: expected a score from 0 to 1, got 1.5/);

    const anomaly = await modelDir((c) => ({ ...c, task: 'anomaly', output: { name: 'output0', layout: 'autoencoder' } }));
    const noAnomaly = await run({ model: anomaly }, async () => conveyorDetectionSet({ images: 1 }));
    expect(noAnomaly.code).toBe(2);
    expect(noAnomaly.err.join('\n')).toMatch(/anomaly model/);
  });

  it('hands an anomaly model to the anomaly evaluator and prints its line last', async () => {
    const model = await modelDir((c) => ({ ...c, task: 'anomaly', output: { name: 'output0', layout: 'autoencoder' } }));
    const r = await run({ model, data: '/logs/motor.csv', evaluateAnomaly: async (card, bytes, data) => ({ summary: { eval: 'anomaly', task: card.task, bytes: bytes.length > 0, data } }) }, () => Promise.reject(new Error('not a vision dataset')));
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(JSON.parse(r.out.at(-1) as string)).toEqual({ eval: 'anomaly', task: 'anomaly', bytes: true, data: '/logs/motor.csv' });
  });

  it('exits 1 when something other than the input fails', async () => {
    const model = await modelDir();
    const r = await run({ model }, async () => {
      throw new Error('disk on fire');
    });
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('disk on fire');
  });
});
