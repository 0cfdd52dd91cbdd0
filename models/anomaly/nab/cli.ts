#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { STREAMING_DEFAULTS, StreamingDetector } from '../streaming/detector.js';
import { CorpusError, loadCorpus, type NabFile } from './corpus.js';
import { crossValidate, thresholdOf, type CrossValidation } from './cross-validation.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { searchSpace } from './search-space.js';
import { categoryOf, sweepSettings, type Setting } from './sweep.js';

/**
 * `npm run eval:nab -- --data DIR [--labels FILE] [--out DIR] [--cv] [--workers N]`: runs the
 * streaming detector (one fresh instance per file, one configuration for all) over every CSV
 * under DIR, scores it with NAB's rules, and prints one JSON line last. With --out it writes
 * NAB result files (`timestamp,value,anomaly_score,label`) that NAB's own scorer can read.
 *
 * With --cv it also runs leave-one-category-out cross-validation of the tuning procedure
 * (cross-validation.ts) over the search space (search-space.ts), and the JSON line's
 * `standard`, `low_fp` and `low_fn` are the cross-validated scores; `in_sample_*` are the
 * defaults' scores with thresholds chosen on all files (what the line says without --cv).
 */
function usage(message: string): never {
  process.stderr.write(`eval:nab: ${message}\nusage: npm run eval:nab -- --data DIR [--labels FILE] [--out DIR] [--cv] [--workers N]\n  DIR is NAB's data folder (with <category>/<file>.csv) or the NAB root (with data/ and labels/)\n`);
  process.exit(2);
}

function isoNab(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

async function writeResults(out: string, files: readonly NabFile[], scores: readonly Float64Array[]): Promise<void> {
  for (const [i, f] of files.entries()) {
    const s = scores[i] as Float64Array;
    const inWindow = new Uint8Array(f.values.length);
    for (const [a, b] of f.windows) inWindow.fill(1, a, b + 1);
    const lines = ['timestamp,value,anomaly_score,label'];
    for (let k = 0; k < f.values.length; k += 1) lines.push(`${isoNab(f.timestamps[k] as number)},${String(f.values[k])},${(s[k] as number).toFixed(8)},${inWindow[k] as number}`);
    const path = join(out, dirname(f.name), `edgewise_${f.name.split('/').pop() ?? f.name}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${lines.join('\n')}\n`);
  }
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { data: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' }, cv: { type: 'boolean' }, workers: { type: 'string' } } }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  if (args.data === undefined) usage('--data is required');
  let dataDir = args.data;
  let labels = args.labels;
  if (existsSync(join(dataDir, 'data')) && existsSync(join(dataDir, 'labels'))) {
    labels ??= join(dataDir, 'labels', 'combined_windows.json');
    dataDir = join(dataDir, 'data');
  }
  labels ??= join(dataDir, '..', 'labels', 'combined_windows.json');
  if (!existsSync(dataDir)) usage(`--data ${dataDir}: no such directory`);
  if (!existsSync(labels)) usage(`no labels file at ${labels} (pass --labels FILE)`);

  const workers = args.workers === undefined ? undefined : Number(args.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) usage(`--workers ${args.workers ?? ''}: expected a whole number >= 1`);

  const t0 = process.hrtime.bigint();
  let files: NabFile[];
  try {
    files = await loadCorpus(dataDir, labels);
  } catch (err) {
    if (err instanceof CorpusError) usage(err.message);
    throw err;
  }
  const points = files.reduce((n, f) => n + f.values.length, 0);
  process.stderr.write(`eval:nab: ${files.length} files, ${points} points, ${files.reduce((n, f) => n + f.windows.length, 0)} windows\n`);
  const ev = evaluate(files, () => new StreamingDetector(), (name, i) => process.stderr.write(`  [${i + 1}/${files.length}] ${name}\n`));
  // End to end: parsing the CSVs, the detector and NAB's scoring, as the name says.
  const pointsPerS = Math.round(points / (Number(process.hrtime.bigint() - t0) / 1e9));
  process.stderr.write(`in sample (defaults; thresholds chosen on all files):\n`);
  for (const p of ev.profiles) {
    process.stderr.write(`  ${p.profile.padEnd(20)} score ${p.normalized.toFixed(2).padStart(6)}  threshold ${p.threshold.toFixed(6)}  windows detected ${p.tp}/${p.tp + p.fn}  false positives ${p.fp}\n`);
  }
  if (args.out !== undefined) {
    await writeResults(args.out, files, ev.scores);
    process.stderr.write(`  result files in ${args.out}\n`);
  }
  const inSample = (name: string): number => round2(ev.profiles.find((p) => p.profile === name)?.normalized ?? Number.NaN);
  const common = { files: files.length, points_per_s: pointsPerS, detector_points_per_s: Math.round(ev.points / (ev.detectorMs / 1000)) };
  if (args.cv !== true) {
    process.stdout.write(`${JSON.stringify({ bench: 'nab', standard: inSample('standard'), low_fp: inSample('reward_low_FP_rate'), low_fn: inSample('reward_low_FN_rate'), ...common })}\n`);
    return;
  }
  const categories = new Set(files.map(categoryOf));
  if (categories.size < 2) usage(`--cv leaves one category (a folder under ${dataDir}) out at a time, and needs at least two; found ${[...categories].join(', ')}`);
  const settings = searchSpace();
  const cvStart = process.hrtime.bigint();
  process.stderr.write(`cross-validation: ${settings.length} settings over ${points} points each\n`);
  let lastLine = 0;
  const table = await sweepSettings(files, settings, workers, (done, total) => {
    const now = Date.now();
    if (done === total || now - lastLine >= 5000) {
      lastLine = now;
      process.stderr.write(`  settings ${done}/${total} (${Math.round(Number(process.hrtime.bigint() - cvStart) / 1e9)} s)\n`);
    }
  });
  const cv = crossValidate(table, (i) => Object.keys(settings[i] as Setting).length);
  report(cv, settings, ev);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'nab',
      standard: round2(cv.scores.standard),
      low_fp: round2(cv.scores.reward_low_FP_rate),
      low_fn: round2(cv.scores.reward_low_FN_rate),
      in_sample_standard: inSample('standard'),
      in_sample_low_fp: inSample('reward_low_FP_rate'),
      in_sample_low_fn: inSample('reward_low_FN_rate'),
      defaults_chosen_by_cv: isDefaults(settings[cv.all.setting] as Setting),
      settings: settings.length,
      cv_s: Math.round(Number(process.hrtime.bigint() - cvStart) / 1e8) / 10,
      ...common,
    })}\n`,
  );
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Does the setting leave every parameter at (or set it to) the shipped default? */
function isDefaults(setting: Setting): boolean {
  return Object.entries(setting).every(([k, v]) => STREAMING_DEFAULTS[k as keyof typeof STREAMING_DEFAULTS] === v);
}

function describeSetting(setting: Setting): string {
  const entries = Object.entries(setting);
  return entries.length === 0 ? 'defaults' : entries.map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

function report(cv: CrossValidation, settings: readonly Setting[], ev: Evaluation): void {
  process.stderr.write(`cross-validated (leave one category out; setting and thresholds chosen on the other categories):\n`);
  for (const f of cv.folds) {
    process.stderr.write(
      `  held out ${f.heldOut.padEnd(22)} windows ${String(f.windows).padStart(2)}  trained standard ${f.trainStandard.toFixed(2)}  threshold ${thresholdOf(f.thresholds.standard).toFixed(4)}  setting ${describeSetting(settings[f.setting] as Setting)}\n`,
    );
  }
  const inStd = ev.profiles.find((p) => p.profile === 'standard')?.normalized ?? Number.NaN;
  process.stderr.write(
    `  standard ${cv.scores.standard.toFixed(2)}  low FP ${cv.scores.reward_low_FP_rate.toFixed(2)}  low FN ${cv.scores.reward_low_FN_rate.toFixed(2)}  (in sample ${inStd.toFixed(2)}, gap ${(inStd - cv.scores.standard).toFixed(2)})\n`,
  );
  const all = settings[cv.all.setting] as Setting;
  process.stderr.write(`  the procedure on all categories chooses: ${describeSetting(all)} (threshold ${thresholdOf(cv.all.thresholds.standard).toFixed(4)}, standard ${cv.all.trainStandard.toFixed(2)})${isDefaults(all) ? ': the shipped defaults' : ': NOT the shipped defaults'}\n`);
}

await main();
