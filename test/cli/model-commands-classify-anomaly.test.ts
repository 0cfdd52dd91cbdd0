import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHAPE_CLASSES, writeClassFolderDataset } from '../../sim/datasets/class-folders.js';
import { writeMotorCsv, type MotorFaultSpan } from '../../sim/datasets/motor-csv.js';
import { makeTempDir } from '../support/temp-dir.js';
import { edgewise } from './edgewise-command.js';

/**
 * Issue 17, tests 3 and 4 as a user runs them: datasets on disk in the layouts a plant has
 * (a folder of part photos per class; CSV logs of a motor), and the real `edgewise model train`
 * and `model eval` commands in child processes, judged by the JSON line they print last.
 */
let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await makeTempDir('edgewise-model-cli-');
});
afterAll(async () => {
  await dir.remove();
});

describe('edgewise model train vision --task classify / model eval on a folder per class (issue 17, test 3)', () => {
  it('trains a classifier of the part shapes and reaches accuracy >= 0.9 on the val folders', async () => {
    const data = join(dir.path, 'shapes');
    const model = join(dir.path, 'shape-model');
    // Crops of the conveyor's parts (disc, hexagon, square at any rotation, size and shading) in data/{train,val}/<class>/.
    const written = await writeClassFolderDataset(data, { train: 150, val: 60, seed: 1 });
    expect((await readdir(join(data, 'val'))).sort()).toEqual([...SHAPE_CLASSES]);
    // No class is most of the val split: guessing the commonest class gets 0.43 here; the
    // photos' mean brightness and contrast (nearest class centroid) get 0.27 to 0.48 on such sets.
    const valCounts = SHAPE_CLASSES.map((c) => written.counts[c]?.val ?? 0);
    expect(Math.max(...valCounts) / 60).toBeLessThan(0.5);

    const train = await edgewise(['model', 'train', 'vision', '--task', 'classify', '--data', data, '--out', model, '--epochs', '10']);
    expect(train.code, train.stderr).toBe(0);
    expect(train.json).toMatchObject({ train: 'classify', out: model, classes: [...SHAPE_CLASSES], images: 150, epochs: 10 });

    const evaluated = await edgewise(['model', 'eval', '--model', model, '--data', data]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const line = evaluated.json as { eval: string; images: number; accuracy: number; per_class: Record<string, { images: number }> };
    console.info(`model eval (classify): ${JSON.stringify(line)}`);
    // Measured: 0.97 to 1.0 for datasets of seeds 1-3 at 10 epochs (0.95 to 0.97 at 20).
    expect(line).toMatchObject({ eval: 'classify', images: 60 });
    expect(line.accuracy).toBeGreaterThanOrEqual(0.9);
    SHAPE_CLASSES.forEach((c, i) => expect(line.per_class[c]?.images, c).toBe(valCounts[i]));
    const report = await readFile(join(model, 'eval', 'report.html'), 'utf8');
    for (const c of SHAPE_CLASSES) expect(report).toContain(c);
  }, 90_000);
});

describe('edgewise model train anomaly / model eval on CSV logs of the simulated motor (issue 17, test 4)', () => {
  it('trains on twenty minutes of normal running and flags every fault injected in a test log, with no false alert', async () => {
    const trainingLog = join(dir.path, 'motor-2026-03-01.csv');
    const testLog = join(dir.path, 'motor-2026-03-02.csv');
    const model = join(dir.path, 'motor-model');
    // Twenty minutes of normal running at the logger's 50 Hz. With ten minutes the model missed
    // the stuck sensor (its peak score 0.37 to 0.38 under the 0.4 alert, seeds 1-3); with twenty it
    // caught all three faults with no false alert for seeds 1-3, at 50 and at 100 Hz.
    await writeMotorCsv(trainingLog, { seconds: 1200, seed: 1 });
    // Another day, another stretch of the same motor's running: three faults of a minute, labelled 1 while on.
    const faults: MotorFaultSpan[] = [
      { kind: 'bearing-wear', startS: 120, endS: 180 },
      { kind: 'stuck', startS: 300, endS: 360 },
      { kind: 'spikes', startS: 480, endS: 540 },
    ];
    await writeMotorCsv(testLog, { seconds: 600, seed: 2, startMs: Date.UTC(2026, 2, 2, 8), faults });
    expect((await readFile(testLog, 'utf8')).split('\n', 1)[0]).toBe('timestamp,vibration[g],temperature[degC],current[A],label');

    const train = await edgewise(['model', 'train', 'anomaly', '--data', trainingLog, '--out', model]);
    expect(train.code, train.stderr).toBe(0);
    expect(train.json).toMatchObject({ train: 'anomaly', out: model });
    expect(train.stdout).toContain('channels vibration [g], temperature [degC], current [A] at 50 Hz');

    const evaluated = await edgewise(['model', 'eval', '--model', model, '--data', testLog]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    console.info(`model eval (anomaly): ${JSON.stringify(evaluated.json)}`);
    // Measured: the three faults caught 0.5 to 5.4 s after they start, precision 1, NAB 99.96.
    expect(evaluated.json).toMatchObject({ eval: 'anomaly', faults: 3, faults_detected: 3, false_alerts: 0 });
    expect(evaluated.json?.['precision']).toBeGreaterThanOrEqual(0.99);
    // Each fault is said by its rows in the log (row 1 is the first data row; 50 rows a second).
    for (const f of faults) expect(evaluated.stdout).toContain(`${testLog} rows ${f.startS * 50 + 1}-${f.endS * 50}: caught after`);
    // The report: a score timeline of the log with its three faults shaded.
    expect(evaluated.stdout).toContain(`report: ${join(model, 'eval', 'report.html')}\n`);
    const report = await readFile(join(model, 'eval', 'report.html'), 'utf8');
    expect(report).toContain(`${testLog}: 3/3 faults caught, 0 false alerts`);
    expect(report.match(/<rect class="fault"/g)).toHaveLength(3);

    // Options of vision models are refused, not ignored.
    const refused = await edgewise(['model', 'eval', '--model', model, '--data', testLog, '--threshold', '0.5']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--threshold: apply to vision models');

    // A third day of normal running, which the model never saw, raises nothing.
    const normalLog = join(dir.path, 'motor-2026-03-03.csv');
    await writeMotorCsv(normalLog, { seconds: 300, seed: 3, startMs: Date.UTC(2026, 2, 3, 8) });
    const normalReport = join(dir.path, 'reports', 'normal.html');
    const normal = await edgewise(['model', 'eval', '--model', model, '--data', normalLog, '--report', normalReport]);
    expect(normal.code, normal.stderr).toBe(0);
    expect(normal.stdout).toContain(`report: ${normalReport}\n`);
    expect(await readFile(normalReport, 'utf8')).toContain(`${normalLog}: 0/0 faults caught, 0 false alerts`);
    expect(normal.json).toMatchObject({ eval: 'anomaly', faults: 0, false_alerts: 0 });
  }, 90_000);
});
