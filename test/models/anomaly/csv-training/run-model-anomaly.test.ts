import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelEvalAnomaly, runModelTrainAnomaly, type CommandIo } from '../../../../models/anomaly/csv-training/run-model-anomaly.js';
import type { SensorLog } from '../../../../models/datasets/types.js';
import { CARD_FILE, MODEL_FILE } from '../../../../models/model-dir/model-card.js';
import { PlainTrainingDisplay } from '../../../../cli/training-progress.js';
import { motorLog } from './motor-log.js';

const T0 = Date.UTC(2026, 10, 30);
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgewise-csv-run-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The command's streams, with progress shown as the CLI shows it off a TTY (a line per epoch end) on stderr. */
function io(): CommandIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const display = new PlainTrainingDisplay((line) => (err += `${line}\n`));
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, onProgress: (p) => display.update(p), out: () => out, err: () => err };
}

const lastLine = (text: string): unknown => JSON.parse(text.trimEnd().split('\n').at(-1) as string);

/** Stands for the CSV reader (helper A's readSensorLog): the logs by path. */
const reader =
  (logs: Record<string, SensorLog[]>) =>
  async (path: string): Promise<SensorLog[]> => {
    const found = logs[path];
    if (found === undefined) throw Object.assign(new Error(`${path}: no such file`), { code: 'E_DATASET' });
    return found;
  };

describe('edgewise model train anomaly / model eval (the command functions)', () => {
  const training = motorLog({ file: 'motor.csv', seconds: 180, rateHz: 100, seed: 1, running: true, t0Ms: T0, faults: [{ kind: 'bearing-wear', atS: 150, durationS: 30 }] });
  const test = motorLog({ file: 'test.csv', seconds: 120, rateHz: 100, seed: 2, running: true, t0Ms: T0 + 3_600_000, faults: [{ kind: 'bearing-wear', atS: 60, durationS: 30 }] });
  const read = reader({ 'motor.csv': [training], 'test.csv': [test] });

  it('trains with a progress line per epoch off a TTY, exits 0 and ends with a JSON line; eval ends with the anomaly JSON line', async () => {
    const out = join(root, 'model');
    const t = io();
    expect(await runModelTrainAnomaly({ data: 'motor.csv', out, epochs: 3, seed: 1 }, t, read)).toBe(0);
    const lines = t.err().trimEnd().split('\n');
    expect(lines.filter((l) => /^epoch \d\/3, step (\d+)\/\1, loss \S+, ETA \S+$/.test(l))).toHaveLength(3);
    expect(t.out()).toMatch(/channels vibration \[g\], temperature \[degC\], current \[A\] at 100 Hz, windows of 32 samples \(320 ms\)/);
    expect(lastLine(t.out())).toMatchObject({ train: 'anomaly', out, epochs: 3 });
    expect(t.err().split('\n').filter((l) => l !== '' && !l.startsWith('epoch '))).toEqual([]);

    const e = io();
    expect(await runModelEvalAnomaly({ model: out, data: 'test.csv' }, e, read)).toBe(0);
    expect(e.out()).toMatch(/test\.csv rows 6001-9000: caught after \d+\.\d s/);
    expect(lastLine(e.out())).toMatchObject({ eval: 'anomaly', faults: 1, faults_detected: 1, false_alerts: 0 });
    // report.html and metrics.json under MODEL_DIR/eval, said before the JSON line.
    expect(e.out().trimEnd().split('\n').at(-2)).toBe(`report: ${join(out, 'eval', 'report.html')}`);
    expect(await readFile(join(out, 'eval', 'report.html'), 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*test\.csv: 1\/1 faults caught, 0 false alerts/);
    expect(JSON.parse(await readFile(join(out, 'eval', 'metrics.json'), 'utf8'))).toMatchObject({ summary: lastLine(e.out()), faults: [{ file: 'test.csv', detected: true }] });
    // --report elsewhere: metrics.json goes beside it.
    const r = io();
    const elsewhere = join(root, 'reports', 'motor.html');
    expect(await runModelEvalAnomaly({ model: out, data: 'test.csv', report: elsewhere }, r, read)).toBe(0);
    expect(r.out()).toContain(`report: ${elsewhere}\n`);
    expect((await stat(elsewhere)).size).toBeGreaterThan(0);
    expect(JSON.parse(await readFile(join(root, 'reports', 'metrics.json'), 'utf8'))).toMatchObject({ summary: lastLine(r.out()) });

    // A log in other units than the model's would be a fault on every row: refused, naming the channel.
    const f = io();
    expect(await runModelEvalAnomaly({ model: out, data: 'f.csv' }, f, reader({ 'f.csv': [{ ...test, file: 'f.csv', units: ['g', 'degF', 'A'] }] }))).toBe(2);
    expect(f.err()).toMatch(/f\.csv: channel "temperature" is in "degF", the model was trained on "degC"; convert the log \(E_DATASET\)/);
  }, 60_000);

  it('exits 2 naming the file and row of a bad log, and 2 for a bad setting', async () => {
    const ts = training.timestampsMs.slice();
    ts[99] = ts[50] as number;
    const t = io();
    expect(await runModelTrainAnomaly({ data: 'bad.csv', out: join(root, 'bad') }, t, reader({ 'bad.csv': [{ ...training, file: 'bad.csv', timestampsMs: ts }] }))).toBe(2);
    expect(t.err()).toMatch(/^error: bad\.csv: data row 100: timestamp .* is not after the previous row's .*\(E_DATASET\)\n$/);
    const s = io();
    expect(await runModelTrainAnomaly({ data: 'motor.csv', out: join(root, 'bad2'), windowSamples: 1 }, s, read)).toBe(2);
    expect(s.err()).toMatch(/windowSamples: expected an integer from 2 to 1024, got 1 \(E_TRAINING_OPTION\)/);
  });

  it('exits 2 when the model folder is not an anomaly model, 1 on a failure that is not the input', async () => {
    const notModel = join(root, 'empty');
    const t = io();
    expect(await runModelEvalAnomaly({ model: notModel, data: 'test.csv' }, t, read)).toBe(2);
    expect(t.err()).toMatch(/no model card/);
    const vision = join(root, 'vision');
    await mkdir(vision);
    await writeFile(join(vision, MODEL_FILE), new Uint8Array([1, 2, 3]));
    await writeFile(join(vision, CARD_FILE), JSON.stringify({ format: 'edgewise-model', version: 1, task: 'classify', architecture: 'x', classNames: ['a'], input: { name: 'images', width: 8, height: 8, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] }, output: { name: 'logits', layout: 'classification' }, threshold: 0.5, training: {} }));
    const v = io();
    expect(await runModelEvalAnomaly({ model: vision, data: 'test.csv' }, v, read)).toBe(2);
    expect(v.err()).toMatch(/a classify model \(classification\); sensor logs evaluate an anomaly autoencoder \(E_MODEL_DIR\)/);
    const f = io();
    expect(await runModelTrainAnomaly({ data: 'motor.csv', out: join(root, 'x') }, f, async () => Promise.reject(new Error('disk on fire')))).toBe(1);
    expect(f.err()).toBe('error: disk on fire\n');
  });
});
