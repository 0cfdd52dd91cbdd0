import type { SensorLog } from '../../datasets/types.js';
import { WindowReservoir } from '../autoencoder/window-reservoir.js';
import { SensorDataError } from './errors.js';

/**
 * Sensor logs turned into what the anomaly stage would have seen: uninterrupted stretches of
 * rows at one sample rate, in the model's channel order. The stage knows no time inside a
 * window (a window is `windowSamples` consecutive samples), so a model is bound to the rate it
 * was trained at: logs must share one rate, or be resampled to one (`rateHz`).
 */

/** Rates this close (relative) are the same rate: timestamps logged in whole ms jitter. */
export const RATE_TOLERANCE = 0.01;
/** A time step longer than this many sample intervals is a gap (logger or machine off): windows do not span it. */
export const GAP_INTERVALS = 2.5;

/** A stretch of one log without gaps or missing values, at the prepared rate. */
export interface Segment {
  readonly file: string;
  readonly rows: number;
  readonly timestampsMs: Float64Array;
  /** rows x channels, row-major, in the prepared channel order. */
  readonly values: Float64Array;
  /** Per row (1: abnormal), or null for an unlabelled log. */
  readonly labels: Uint8Array | null;
}

/** A labelled fault: a run of consecutive abnormal rows of one log (data rows 1-based, as a person counts them). */
export interface LabelledRun {
  readonly file: string;
  readonly firstRow: number;
  readonly lastRow: number;
  readonly startMs: number;
  readonly endMs: number;
}

export interface LogSummary {
  readonly file: string;
  readonly rows: number;
  /** The log's own rate (from its median sample interval). */
  readonly rateHz: number;
  readonly resampled: boolean;
  /** Rows left out because a channel had no finite value. */
  readonly rowsWithoutValues: number;
  /** Time steps longer than GAP_INTERVALS intervals. */
  readonly gaps: number;
}

export interface PreparedLogs {
  readonly channels: readonly string[];
  /** Per channel; '' when no log says. */
  readonly units: readonly string[];
  readonly rateHz: number;
  /** Every log has labels (else: none is used for training, and evaluation cannot judge). */
  readonly labelled: boolean;
  readonly segments: readonly Segment[];
  readonly faults: readonly LabelledRun[];
  readonly logs: readonly LogSummary[];
}

export interface PrepareOptions {
  /** The channels to use, in this order; default: the first log's, in its order. */
  readonly channels?: readonly string[];
  /** Resample every log whose rate differs to this rate; default: the logs' own rate (they must agree). */
  readonly rateHz?: number;
}

/** A timestamp as a person reads it (the number itself when it is no date). */
function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** The log's sample interval: the median step between rows (robust to a few gaps). */
function medianIntervalMs(ts: Float64Array): number {
  const steps = new Float64Array(ts.length - 1);
  for (let i = 1; i < ts.length; i += 1) steps[i - 1] = (ts[i] as number) - (ts[i - 1] as number);
  steps.sort();
  return steps[steps.length >> 1] as number;
}

/** Checks what the trainer relies on; throws SensorDataError naming the file and data row. */
function checkLog(log: SensorLog, channels: readonly string[]): void {
  const f = log.file;
  if (log.rows < 2) throw new SensorDataError(`${f}: ${log.rows} data rows; a sensor log needs at least 2`);
  if (log.timestampsMs.length !== log.rows || log.values.length !== log.rows * log.channels.length || (log.labels !== null && log.labels.length !== log.rows)) {
    throw new SensorDataError(`${f}: ${log.rows} rows but ${log.timestampsMs.length} timestamps, ${log.values.length} values for ${log.channels.length} channels, ${log.labels?.length ?? 'no'} labels`);
  }
  for (const ch of channels) if (!log.channels.includes(ch)) throw new SensorDataError(`${f}: no channel "${ch}" (it has ${log.channels.join(', ')}); every log must have the model's channels`);
  for (let i = 0; i < log.rows; i += 1) {
    const t = log.timestampsMs[i] as number;
    if (!Number.isFinite(t)) throw new SensorDataError(`${f}: data row ${i + 1}: timestamp is not a time (${t})`);
    if (i > 0 && t <= (log.timestampsMs[i - 1] as number)) throw new SensorDataError(`${f}: data row ${i + 1}: timestamp ${iso(t)} is not after the previous row's (${iso(log.timestampsMs[i - 1] as number)}); rows must be in time order, without repeats`);
    const label = log.labels?.[i];
    if (label !== undefined && label !== 0 && label !== 1) throw new SensorDataError(`${f}: data row ${i + 1}: label ${label}; expected 0 (normal) or 1 (abnormal)`);
  }
}

/** Channel units across logs: one unit per channel, or an error naming both logs. */
function unitsOf(logs: readonly SensorLog[], channels: readonly string[]): string[] {
  return channels.map((ch) => {
    let unit = '';
    let from = '';
    for (const log of logs) {
      const u = log.units[log.channels.indexOf(ch)] ?? '';
      if (u === '') continue;
      if (unit !== '' && u !== unit) throw new SensorDataError(`${log.file}: channel "${ch}" is in "${u}" but ${from} has it in "${unit}"; convert one so every log uses the same unit`);
      unit = u;
      from = log.file;
    }
    return unit;
  });
}

/** Rows [from, to) of the log as a segment in `columns` order. */
function slice(log: SensorLog, columns: readonly number[], from: number, to: number): Segment {
  const c = columns.length;
  const width = log.channels.length;
  const values = new Float64Array((to - from) * c);
  for (let r = from; r < to; r += 1) for (let j = 0; j < c; j += 1) values[(r - from) * c + j] = log.values[r * width + (columns[j] as number)] as number;
  return { file: log.file, rows: to - from, timestampsMs: log.timestampsMs.slice(from, to), values, labels: log.labels === null ? null : log.labels.slice(from, to) };
}

/**
 * The segment on a uniform grid at `rateHz` from its first timestamp: values interpolated
 * linearly, and a grid row is abnormal when either neighbour is (a fault is never thinned
 * away). Linear interpolation has no anti-alias filter: downsampling a vibration signal folds
 * its high tones (log at the gateway's rate when you can).
 */
export function resample(s: Segment, rateHz: number, channels: number): Segment {
  const dt = 1000 / rateHz;
  const t0 = s.timestampsMs[0] as number;
  const rows = Math.floor(((s.timestampsMs[s.rows - 1] as number) - t0) / dt + 1e-9) + 1;
  const ts = new Float64Array(rows);
  const values = new Float64Array(rows * channels);
  const labels = s.labels === null ? null : new Uint8Array(rows);
  let j = 0;
  for (let k = 0; k < rows; k += 1) {
    const t = t0 + k * dt;
    while (j + 1 < s.rows - 1 && (s.timestampsMs[j + 1] as number) <= t) j += 1;
    const ta = s.timestampsMs[j] as number;
    const tb = s.timestampsMs[Math.min(j + 1, s.rows - 1)] as number;
    const a = tb > ta ? Math.min(1, Math.max(0, (t - ta) / (tb - ta))) : 0;
    const next = Math.min(j + 1, s.rows - 1);
    ts[k] = t;
    for (let c = 0; c < channels; c += 1) {
      const x = s.values[j * channels + c] as number;
      const y = s.values[next * channels + c] as number;
      // On a sample's own time, its value as it is (no rounding, no -0 turned into 0).
      values[k * channels + c] = a === 0 ? x : a === 1 ? y : (1 - a) * x + a * y;
    }
    if (labels !== null && s.labels !== null) labels[k] = a === 0 ? (s.labels[j] as number) : a === 1 ? (s.labels[next] as number) : Math.max(s.labels[j] as number, s.labels[next] as number);
  }
  return { file: s.file, rows, timestampsMs: ts, values, labels };
}

/** Runs of label 1 in the log, as faults to be found. */
function labelledRuns(log: SensorLog): LabelledRun[] {
  const runs: LabelledRun[] = [];
  if (log.labels === null) return runs;
  let start = -1;
  for (let i = 0; i <= log.rows; i += 1) {
    const abnormal = i < log.rows && log.labels[i] === 1;
    if (abnormal && start < 0) start = i;
    if (!abnormal && start >= 0) {
      runs.push({ file: log.file, firstRow: start + 1, lastRow: i, startMs: log.timestampsMs[start] as number, endMs: log.timestampsMs[i - 1] as number });
      start = -1;
    }
  }
  return runs;
}

/**
 * Checks and cuts the logs into segments at one rate: split at gaps and at rows where a
 * channel has no finite value (the stage skips such rows), resampled where a log's rate is not
 * `rateHz`. Throws SensorDataError naming the file and row of what is wrong.
 */
export function prepareLogs(logs: readonly SensorLog[], o: PrepareOptions = {}): PreparedLogs {
  const first = logs[0];
  if (first === undefined) throw new SensorDataError('no sensor logs: give a CSV file or a folder of them');
  const channels = o.channels ?? first.channels;
  if (channels.length === 0) throw new SensorDataError(`${first.file}: no channels besides the timestamp (and label)`);
  if (new Set(channels).size !== channels.length) throw new SensorDataError(`${first.file}: channel names repeat (${channels.join(', ')})`);
  for (const log of logs) checkLog(log, channels);
  const units = unitsOf(logs, channels);
  const own = logs.map((log) => 1000 / medianIntervalMs(log.timestampsMs));
  const rateHz = o.rateHz ?? (own[0] as number);
  if (!(rateHz > 0) || !Number.isFinite(rateHz)) throw new SensorDataError(`sample rate ${rateHz} Hz: expected a positive number`);
  const segments: Segment[] = [];
  const summaries: LogSummary[] = [];
  logs.forEach((log, k) => {
    const logRate = own[k] as number;
    const differs = Math.abs(logRate - rateHz) > RATE_TOLERANCE * rateHz;
    if (differs && o.rateHz === undefined) {
      throw new SensorDataError(`${log.file}: sampled at ${logRate.toPrecision(4)} Hz, ${first.file} at ${rateHz.toPrecision(4)} Hz; one model reads one rate: resample the logs to one (--rate-hz) or train on the logs of one rate`);
    }
    const columns = channels.map((ch) => log.channels.indexOf(ch));
    const width = log.channels.length;
    const gapMs = (GAP_INTERVALS * 1000) / logRate;
    let from = 0;
    let gaps = 0;
    let rowsWithoutValues = 0;
    const close = (to: number): void => {
      if (to - from >= 2) {
        const s = slice(log, columns, from, to);
        segments.push(differs ? resample(s, rateHz, channels.length) : s);
      } else if (to - from === 1) segments.push(slice(log, columns, from, to));
    };
    for (let r = 0; r < log.rows; r += 1) {
      const finite = columns.every((c) => Number.isFinite(log.values[r * width + c] as number));
      if (!finite) {
        rowsWithoutValues += 1;
        close(r);
        from = r + 1;
        continue;
      }
      if (r > from && (log.timestampsMs[r] as number) - (log.timestampsMs[r - 1] as number) > gapMs) {
        gaps += 1;
        close(r);
        from = r;
      }
    }
    close(log.rows);
    summaries.push({ file: log.file, rows: log.rows, rateHz: logRate, resampled: differs, rowsWithoutValues, gaps });
  });
  return { channels, units, rateHz, labelled: logs.every((l) => l.labels !== null), segments, faults: logs.flatMap(labelledRuns), logs: summaries };
}

/** Where the stage scores: the last row of each window, for a stage that starts at the segment's first row. */
export function scoredWindowEnds(rows: number, windowSamples: number, strideSamples: number): number[] {
  const ends: number[] = [];
  // The stage emits a window once it holds windowSamples rows and strideSamples rows came since the last.
  for (let e = Math.max(windowSamples, strideSamples) - 1; e < rows; e += strideSamples) ends.push(e);
  return ends;
}

/** Abnormal rows in the window of `windowSamples` rows ending at `end`, from prefix counts. */
export function abnormalIn(prefix: Int32Array, end: number, windowSamples: number): number {
  return (prefix[end + 1] as number) - (prefix[end + 1 - windowSamples] as number);
}

/** prefix[i] = abnormal rows among the first i (all 0 for an unlabelled segment). */
export function abnormalPrefix(s: Segment): Int32Array {
  const prefix = new Int32Array(s.rows + 1);
  for (let i = 0; i < s.rows; i += 1) prefix[i + 1] = (prefix[i] as number) + (s.labels?.[i] === 1 ? 1 : 0);
  return prefix;
}

export interface NormalWindowSample {
  /** count x windowSamples x channels, raw values, time-major. */
  readonly data: Float64Array;
  readonly count: number;
  /** Each window's first row, numbered across segments so windows of different segments never overlap. */
  readonly positions: Float64Array;
  /** Windows of normal rows offered (the reservoir keeps `count` of them, uniformly). */
  readonly offered: number;
  /** Rows the windows were cut from (labelled normal, or every row of an unlabelled log). */
  readonly normalRows: number;
}

/**
 * Windows of normal rows only (every row of the window labelled 0; in unlabelled logs every
 * window), one every `strideSamples`, sampled uniformly into at most `capacity` (a reservoir,
 * seeded): the stage's own collection, so training costs the same whatever the logs' length.
 */
export function sampleNormalWindows(p: PreparedLogs, windowSamples: number, strideSamples: number, capacity: number, seed: number): NormalWindowSample {
  const c = p.channels.length;
  const reservoir = new WindowReservoir(capacity, windowSamples * c, seed);
  let base = 0;
  let normalRows = 0;
  for (const s of p.segments) {
    const prefix = abnormalPrefix(s);
    normalRows += s.rows - (prefix[s.rows] as number);
    for (let end = windowSamples - 1; end < s.rows; end += strideSamples) {
      if (abnormalIn(prefix, end, windowSamples) > 0) continue;
      const start = end - windowSamples + 1;
      reservoir.offer(s.values.subarray(start * c, (end + 1) * c), base + start);
    }
    // A window's length apart: splitSpread never sees windows of two segments as overlapping.
    base += s.rows + windowSamples;
  }
  const { data, count, positions } = reservoir.take();
  return { data, count, positions, offered: reservoir.seen, normalRows };
}
