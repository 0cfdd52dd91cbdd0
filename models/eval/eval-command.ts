import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { VisionDataset } from '../datasets/types.js';
import type { ModelCard } from '../model-dir/model-card.js';
import { readModelDir, writeFileAtomic } from '../model-dir/model-dir.js';
import { evalSummary } from './eval-line.js';
import { evaluateVision, type EvalProgress } from './evaluate-vision.js';
import type { VisionEvaluation } from './evaluation.js';
import { renderEvalReport } from './report-html.js';

/** What an anomaly evaluation (models/anomaly/csv-training) gives the command: its JSON line (`eval: "anomaly"`) and, if it makes one, its report. */
export interface AnomalyEvalResult {
  readonly summary: Readonly<Record<string, unknown>>;
  readonly html?: string;
}

export type AnomalyEvaluator = (card: ModelCard, model: Uint8Array, data: string) => Promise<AnomalyEvalResult>;

export interface ModelEvalOptions {
  /** MODEL_DIR, as `edgewise model train` wrote it. */
  readonly model: string;
  /** The dataset: a folder (vision), a CSV file or folder of them (anomaly). */
  readonly data: string;
  /** Where report.html goes; default MODEL_DIR/eval/report.html (metrics.json beside it). */
  readonly report?: string;
  /** The operating threshold; default the card's. */
  readonly threshold?: number;
  readonly split?: 'train' | 'val';
  /** Per image; default: progressPrinter on `progressTo`. */
  readonly onProgress?: (p: EvalProgress) => void;
  /** Default process.stderr. */
  readonly progressTo?: ProgressStream;
  /**
   * How a vision dataset folder is read (models/datasets' readVisionDataset): the CLI hands it
   * in, so this file does not depend on which reader a layout needs.
   */
  readonly readDataset: (dir: string, task: 'detect' | 'classify') => Promise<VisionDataset>;
  /** Anomaly models are evaluated by this (models/anomaly/csv-training); absent: refused (exit 2). */
  readonly evaluateAnomaly?: AnomalyEvaluator;
  /** Output lines (the JSON line last) and messages; default stdout and stderr. */
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** Codes of errors that mean the input is wrong (the dataset, the MODEL_DIR, the two together), not the program: exit 2. */
const BAD_INPUT_CODES = new Set(['E_DATASET', 'E_MODEL_DIR', 'E_EVAL_MISMATCH', 'E_MODEL_INVALID', 'E_MODEL_INPUT', 'E_MODEL_OUTPUT']);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Where progress goes when no callback is given: a redrawn bar on a TTY, a plain line at every tenth of the images otherwise. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export function progressPrinter(stream: ProgressStream): (p: EvalProgress) => void {
  const started = performance.now();
  let lastTenth = 0;
  return (p) => {
    const s = (performance.now() - started) / 1000;
    const left = p.done === 0 ? Number.NaN : (s / p.done) * (p.total - p.done);
    const eta = p.done < p.total && Number.isFinite(left) ? `, about ${Math.ceil(left)} s left` : '';
    const text = `eval: ${p.done}/${p.total} images, ${s.toFixed(1)} s${eta}`;
    if (stream.isTTY === true) {
      const width = 20;
      const filled = Math.round((width * p.done) / p.total);
      stream.write(`\r\u001b[K[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${text}${p.done === p.total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor((10 * p.done) / p.total);
    if (tenth === lastTenth && p.done !== p.total) return;
    lastTenth = tenth;
    stream.write(`${text}\n`);
  };
}

function table(e: VisionEvaluation): string[] {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '  -  ');
  if (e.task === 'detect') {
    const m = e.metrics;
    return [
      `${'class'.padEnd(20)} truths  precision recall  AP50   AP50-95   (threshold ${m.threshold}, ${m.images} images)`,
      ...m.classes.map((c) => `${c.name.slice(0, 20).padEnd(20)} ${String(c.truths).padStart(6)}  ${f(c.precision)}     ${f(c.recall)}   ${f(c.ap50)}  ${f(c.ap50_95)}`),
      `${'all'.padEnd(20)} ${''.padStart(6)}  ${f(m.precision)}     ${f(m.recall)}   ${f(m.mAP50)}  ${f(m.mAP50_95)}`,
      `by size: ${m.bySize.map((x) => `${x.name} (${x.truths}) mAP50 ${f(x.mAP50)} mAP50-95 ${f(x.mAP50_95)}`).join('; ')}`,
    ];
  }
  const m = e.metrics;
  return [
    `${'class'.padEnd(20)} images precision recall  (${m.images} images)`,
    ...m.classes.map((c) => `${c.name.slice(0, 20).padEnd(20)} ${String(c.support).padStart(6)} ${f(c.precision)}     ${f(c.recall)}`),
    `accuracy ${f(m.accuracy)}, balanced accuracy ${f(m.balancedAccuracy)}`,
  ];
}

/**
 * `edgewise model eval --model MODEL_DIR --data DIR`: reads the card and the model, evaluates
 * it on the dataset by the card's task (detection and classification here; anomaly through
 * `evaluateAnomaly`), writes report.html and metrics.json, prints a table and the JSON line
 * last. Exit 0 done, 2 bad input (dataset, MODEL_DIR, a model and dataset that do not go
 * together: the message names which), 1 anything else.
 */
export async function runModelEval(o: ModelEvalOptions): Promise<number> {
  const out = o.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const err = o.err ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (o.threshold !== undefined && !(o.threshold >= 0 && o.threshold <= 1)) {
    err(`edgewise model eval: --threshold: expected a score from 0 to 1, got ${o.threshold}`);
    return EXIT_BAD_INPUT;
  }
  const reportPath = o.report ?? join(o.model, 'eval', 'report.html');
  try {
    const { card, model } = await readModelDir(o.model);
    let summary: Readonly<Record<string, unknown>>;
    let html: string | undefined;
    let full: unknown;
    if (card.task === 'anomaly') {
      if (o.evaluateAnomaly === undefined) {
        err(`edgewise model eval: ${o.model} holds an anomaly model, and this build evaluates detect and classify models only`);
        return EXIT_BAD_INPUT;
      }
      const r = await o.evaluateAnomaly(card, model, o.data);
      summary = r.summary;
      html = r.html;
      full = r.summary;
    } else {
      const dataset = await o.readDataset(o.data, card.task);
      const e = await evaluateVision(card, model, dataset, {
        ...(o.threshold === undefined ? {} : { threshold: o.threshold }),
        ...(o.split === undefined ? {} : { split: o.split }),
        onProgress: o.onProgress ?? progressPrinter(o.progressTo ?? process.stderr),
        modelDir: o.model,
      });
      for (const note of e.context.notes) err(`edgewise model eval: note: ${note}`);
      for (const line of table(e)) out(line);
      summary = evalSummary(e);
      html = renderEvalReport(e);
      // The full metrics without the pictures (those are in the report).
      full = { ...e, falsePositives: undefined, missed: undefined, confidentWrong: undefined, leastSure: undefined, summary };
    }
    await mkdir(dirname(reportPath), { recursive: true });
    await writeFileAtomic(join(dirname(reportPath), 'metrics.json'), `${JSON.stringify(full, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
    if (html !== undefined) {
      await writeFileAtomic(reportPath, html);
      out(`report: ${reportPath}`);
    }
    out(JSON.stringify(summary));
    return EXIT_OK;
  } catch (e) {
    const code = codeOf(e);
    if (code !== undefined && BAD_INPUT_CODES.has(code)) {
      err(`edgewise model eval: ${(e as Error).message}`);
      return EXIT_BAD_INPUT;
    }
    err(`edgewise model eval: failed: ${(e as Error).stack ?? String(e)}`);
    return EXIT_FAILURE;
  }
}
