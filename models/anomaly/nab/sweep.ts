import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { StreamingDetector, type StreamingParams } from '../streaming/detector.js';
import type { NabFile } from './corpus.js';
import { prepareFile } from './scoring.js';
import { addCurves, emptyCurves, fileCurves, type ThresholdCurves } from './threshold-curves.js';

/** A detector setting as the search space names it: the params that differ from the defaults. */
export type Setting = Partial<StreamingParams>;

/** NAB's category of a file: the folder of `<category>/<file>.csv`. */
export function categoryOf(file: NabFile): string {
  const slash = file.name.indexOf('/');
  return slash < 0 ? '.' : file.name.slice(0, slash);
}

/** One setting's threshold curves, summed per category (folds are whole categories). */
export type CategoryCurves = Map<string, ThresholdCurves>;

/** Runs one setting over every file (a fresh detector each) and sums its curves per category. */
export function sweepSetting(files: readonly NabFile[], setting: Setting): CategoryCurves {
  const out: CategoryCurves = new Map();
  let windowBase = 0;
  for (const file of files) {
    const detector = new StreamingDetector(setting);
    const scores = new Float64Array(file.values.length);
    for (let k = 0; k < scores.length; k += 1) scores[k] = detector.update(file.values[k] as number, file.timestamps[k] as number);
    const curves = fileCurves(prepareFile(scores, file.windows, windowBase));
    windowBase += file.windows.length;
    const category = categoryOf(file);
    addCurves(out.get(category) ?? out.set(category, emptyCurves()).get(category) as ThresholdCurves, curves);
  }
  return out;
}

interface SweepRequest {
  readonly files: readonly NabFile[];
  readonly settings: readonly { readonly index: number; readonly setting: Setting }[];
}
export interface SweepReply {
  readonly index: number;
  readonly curves: [string, ThresholdCurves][];
}

/**
 * Every setting over the corpus, on `workers` threads (each takes every workers-th setting).
 * `onDone` is called after each setting, for progress. Results are in the settings' order.
 */
export async function sweepSettings(
  files: readonly NabFile[],
  settings: readonly Setting[],
  workers = Math.max(1, Math.min(cpus().length, settings.length)),
  onDone?: (done: number, total: number) => void,
): Promise<CategoryCurves[]> {
  const results: CategoryCurves[] = new Array<CategoryCurves>(settings.length);
  let done = 0;
  const runs = Array.from({ length: workers }, (_, w) => {
    const request: SweepRequest = { files, settings: settings.flatMap((setting, index) => (index % workers === w ? [{ index, setting }] : [])) };
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./sweep-worker.js', import.meta.url), { workerData: request });
      worker.on('message', (reply: SweepReply) => {
        results[reply.index] = new Map(reply.curves);
        done += 1;
        onDone?.(done, settings.length);
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sweep worker exited with code ${code}`))));
    });
  });
  await Promise.all(runs);
  return results;
}

export type { SweepRequest };
