#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamingDetector } from '../streaming/detector.js';
import { CorpusError, loadCorpus, type NabFile } from './corpus.js';
import { evaluate } from './evaluate.js';

/**
 * `npm run eval:nab -- --data DIR [--labels FILE] [--out DIR]`: runs the streaming detector
 * (one fresh instance per file, one configuration for all) over every CSV under DIR, scores
 * it with NAB's rules, and prints one JSON line last. With --out it writes NAB result files
 * (`timestamp,value,anomaly_score,label`) that NAB's own scorer can read.
 */
function usage(message: string): never {
  process.stderr.write(`eval:nab: ${message}\nusage: npm run eval:nab -- --data DIR [--labels FILE] [--out DIR]\n  DIR is NAB's data folder (with <category>/<file>.csv) or the NAB root (with data/ and labels/)\n`);
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
    args = parseArgs({ options: { data: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' } } }).values;
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
  for (const p of ev.profiles) {
    process.stderr.write(`  ${p.profile.padEnd(20)} score ${p.normalized.toFixed(2).padStart(6)}  threshold ${p.threshold.toFixed(6)}  windows detected ${p.tp}/${p.tp + p.fn}  false positives ${p.fp}\n`);
  }
  if (args.out !== undefined) {
    await writeResults(args.out, files, ev.scores);
    process.stderr.write(`  result files in ${args.out}\n`);
  }
  const byName = (name: string): number => Math.round((ev.profiles.find((p) => p.profile === name)?.normalized ?? Number.NaN) * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({ bench: 'nab', standard: byName('standard'), low_fp: byName('reward_low_FP_rate'), low_fn: byName('reward_low_FN_rate'), files: files.length, points_per_s: Math.round(ev.points / (ev.detectorMs / 1000)) })}\n`,
  );
}

await main();
