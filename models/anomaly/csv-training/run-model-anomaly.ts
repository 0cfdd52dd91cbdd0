import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SensorLog } from '../../datasets/types.js';
import type { OnTrainingProgress } from '../../model-dir/model-card.js';
import { readModelDir, writeFileAtomic } from '../../model-dir/model-dir.js';
import { anomalyEvaluationLine, evaluateAnomalyModel } from './evaluate-anomaly-model.js';
import { renderAnomalyReport } from './report-html.js';
import { trainAnomalyModel } from './train-anomaly-model.js';

/** Where a command writes: stdout (progress, results, the JSON line last) and stderr (errors, notices). */
export interface CommandIo {
  readonly stdout: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(s: string): unknown };
  /** Stops training after the epoch in progress (Ctrl-C), its checkpoint kept. */
  readonly signal?: AbortSignal;
  /** Where training progress goes (the CLI's display, cli/training-progress.ts); none: not shown. */
  readonly onProgress?: OnTrainingProgress;
}

/** Reads FILE.csv or a folder of them (models/datasets, helper A's reader): the lead passes it in. */
export type ReadSensorLogs = (path: string) => Promise<SensorLog[]>;

export interface ModelTrainAnomalyArgs {
  readonly data: string;
  readonly out: string;
  readonly epochs?: number;
  readonly seed?: number;
  readonly windowSamples?: number;
  readonly strideSamples?: number;
  readonly rateHz?: number;
  readonly resume?: boolean;
}

export interface ModelEvalAnomalyArgs {
  readonly model: string;
  readonly data: string;
  /** Where report.html goes; default MODEL_DIR/eval/report.html (metrics.json beside it). */
  readonly report?: string;
}

/** Error codes that mean bad input (exit 2): the dataset, the model folder, a setting. */
const BAD_INPUT = new Set(['E_DATASET', 'E_MODEL_DIR', 'E_TRAINING_OPTION']);

function exitCodeOf(err: unknown, io: CommandIo): number {
  const code = (err as { code?: unknown }).code;
  io.stderr.write(`error: ${(err as Error).message}${typeof code === 'string' ? ` (${code})` : ''}\n`);
  return typeof code === 'string' && BAD_INPUT.has(code) ? 2 : 1;
}

/** `edgewise model train anomaly --data FILE.csv|DIR --out MODEL_DIR`: 0 trained, 2 bad input, 1 failure or stopped. */
export async function runModelTrainAnomaly(args: ModelTrainAnomalyArgs, io: CommandIo, readLogs: ReadSensorLogs): Promise<number> {
  try {
    const logs = await readLogs(args.data);
    const card = await trainAnomalyModel(logs, {
      outDir: args.out,
      seed: args.seed ?? 1,
      dataset: args.data,
      ...(args.epochs === undefined ? {} : { epochs: args.epochs }),
      ...(args.windowSamples === undefined ? {} : { windowSamples: args.windowSamples }),
      ...(args.strideSamples === undefined ? {} : { strideSamples: args.strideSamples }),
      ...(args.rateHz === undefined ? {} : { rateHz: args.rateHz }),
      resume: args.resume ?? false,
      ...(io.onProgress === undefined ? {} : { onProgress: io.onProgress }),
      onNotice: (m) => io.stderr.write(`note: ${m}\n`),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
    const s = card.sensor;
    io.stdout.write(
      `trained ${card.architecture} on ${card.training.trainSamples} windows (${card.training.valSamples} held out to calibrate) in ${card.training.seconds} s: ` +
        `channels ${card.classNames.map((c, i) => (s.units[i] === '' ? c : `${c} [${s.units[i]}]`)).join(', ')} at ${s.rateHz} Hz, windows of ${s.windowSamples} samples (${s.windowMs} ms)\n` +
        `the stage must read this rate, with autoencoder: { windowSamples: ${s.windowSamples}, strideSamples: ${s.strideSamples} }; alerts at score ${card.threshold}\n`,
    );
    io.stdout.write(`${JSON.stringify({ train: 'anomaly', out: args.out, windows: card.training.trainSamples, held_out: card.training.valSamples, epochs: card.training.epochs, loss: card.training.losses[card.training.losses.length - 1] ?? null, seconds: card.training.seconds })}\n`);
    return 0;
  } catch (err) {
    return exitCodeOf(err, io);
  }
}

/**
 * `edgewise model eval --model MODEL_DIR --data FILE.csv|DIR [--report FILE]` for an anomaly
 * model: a line per fault and false alert, report.html and metrics.json (the whole evaluation),
 * the JSON line last. 0 done, 2 bad input, 1 failure.
 */
export async function runModelEvalAnomaly(args: ModelEvalAnomalyArgs, io: CommandIo, readLogs: ReadSensorLogs): Promise<number> {
  try {
    const { card, model } = await readModelDir(args.model);
    const logs = await readLogs(args.data);
    const e = await evaluateAnomalyModel(card, model, logs);
    for (const f of e.faults) {
      io.stdout.write(`${f.file} rows ${f.firstRow}-${f.lastRow}: ${f.detected ? `caught after ${((f.delayMs ?? 0) / 1000).toFixed(1)} s (${f.channels.join(', ')})` : `MISSED (peak score ${f.peakScore}, alerts at ${e.alert.raiseThreshold})`}\n`);
    }
    for (const a of e.falseAlerts) io.stdout.write(`${a.file} ${new Date(a.startMs).toISOString()}: false alert, peak score ${a.peakScore} (${a.channels.join(', ')})\n`);
    io.stdout.write(`${e.windows} windows (${e.mixedWindows} at a fault's edge left out), ${e.normalHours} h of normal running, ${e.alerts} alerts\n`);
    const summary = anomalyEvaluationLine(e);
    const reportPath = args.report ?? join(args.model, 'eval', 'report.html');
    await mkdir(dirname(reportPath), { recursive: true });
    await writeFileAtomic(join(dirname(reportPath), 'metrics.json'), `${JSON.stringify({ ...e, summary }, null, 2)}\n`);
    await writeFileAtomic(reportPath, renderAnomalyReport(e, { modelDir: args.model, data: args.data, architecture: card.architecture, finishedAt: new Date().toISOString() }));
    io.stdout.write(`report: ${reportPath}\n`);
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } catch (err) {
    return exitCodeOf(err, io);
  }
}
