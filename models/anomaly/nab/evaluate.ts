import type { NabFile } from './corpus.js';
import { prepareFile, scoreProfiles, type FileRows, type ProfileScore } from './scoring.js';

/** A detector of one series, one point at a time: returns an anomaly score in [0, 1]. */
export interface PointDetector {
  update(value: number, timestampMs: number): number;
}

export interface Evaluation {
  readonly profiles: readonly ProfileScore[];
  /** Anomaly scores per file, in corpus order. */
  readonly scores: readonly Float64Array[];
  readonly points: number;
  /** Time spent inside the detectors only. */
  readonly detectorMs: number;
}

/** Runs a fresh detector over each file and scores the lot with NAB's rules. */
export function evaluate(files: readonly NabFile[], makeDetector: () => PointDetector, onFile?: (name: string, i: number) => void): Evaluation {
  const scores: Float64Array[] = [];
  const prepared: FileRows[] = [];
  let windowBase = 0;
  let points = 0;
  let detectorNs = 0n;
  files.forEach((file, i) => {
    onFile?.(file.name, i);
    const detector = makeDetector();
    const out = new Float64Array(file.values.length);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < out.length; k += 1) out[k] = detector.update(file.values[k] as number, file.timestamps[k] as number);
    detectorNs += process.hrtime.bigint() - t0;
    points += out.length;
    scores.push(out);
    prepared.push(prepareFile(out, file.windows, windowBase));
    windowBase += file.windows.length;
  });
  return { profiles: scoreProfiles(prepared), scores, points, detectorMs: Number(detectorNs) / 1e6 };
}
