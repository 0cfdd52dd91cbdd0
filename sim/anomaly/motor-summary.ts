import { FAULT_KINDS, type FaultKind } from '../mcu/signals.js';
import { LOAD_CHANGE, MAX_DELAY_S, type Detector, type FaultResult, type MotorEvalResults } from './motor-eval.js';

/** What eval:motor prints as its JSON line: per detector, the counts and medians over seeds. */
export interface DetectorSummary {
  readonly caught: number;
  readonly of: number;
  readonly right_channel: number;
  /** Per fault kind, over the seeds that caught it (null: none did). */
  readonly median_delay_s: Record<FaultKind, number | null>;
  /** Caught by reopening an alert that ended within cooldownMs (no minDurationMs): that delay is not the detector's. */
  readonly reopened: number;
  /** Per fault kind: to the first score at raiseThreshold, the detector's own delay. */
  readonly median_score_delay_s: Record<FaultKind, number | null>;
  readonly median_peak_score: Record<FaultKind, number | null>;
  readonly false_alerts_per_h: number;
  readonly load_change: { readonly alerts_per_run: number; readonly median_alert_s: number; readonly open_at_end: number; readonly runs: number };
}

export interface MotorSummary {
  readonly bench: 'motor';
  readonly seeds: number;
  readonly minutes_normal: number;
  readonly streaming: DetectorSummary;
  readonly autoencoder: DetectorSummary;
  readonly weak_fault: string;
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const r2 = (x: number | null): number | null => (x === null ? null : Math.round(x * 100) / 100);

function perKind(faults: readonly FaultResult[], f: (r: FaultResult) => number | null): Record<FaultKind, number | null> {
  return Object.fromEntries(FAULT_KINDS.map((k) => [k, r2(median(faults.filter((r) => r.kind === k && r.caught).map(f).filter((x): x is number => x !== null)))])) as Record<FaultKind, number | null>;
}

function ofDetector(r: MotorEvalResults, d: Detector): DetectorSummary {
  const faults = r.faults.filter((x) => x.detector === d);
  const normal = r.normal.filter((x) => x.detector === d);
  const hours = normal.reduce((a, x) => a + x.hours, 0);
  const load = r.load.filter((x) => x.detector === d);
  return {
    caught: faults.filter((x) => x.caught).length,
    of: faults.length,
    right_channel: faults.filter((x) => x.caught && x.rightChannel).length,
    median_delay_s: perKind(faults, (x) => x.delayS),
    reopened: faults.filter((x) => x.caught && x.how === 'reopened').length,
    median_score_delay_s: perKind(faults, (x) => x.scoreDelayS),
    median_peak_score: perKind(faults, (x) => x.peakScore),
    false_alerts_per_h: hours === 0 ? 0 : (r2(normal.reduce((a, x) => a + x.alerts, 0) / hours) as number),
    load_change: {
      alerts_per_run: load.length === 0 ? 0 : (r2(load.reduce((a, x) => a + x.alerts, 0) / load.length) as number),
      median_alert_s: Math.round(median(load.map((x) => x.alertS)) ?? 0),
      open_at_end: load.filter((x) => x.openAtEnd).length,
      runs: load.length,
    },
  };
}

export function summarise(r: MotorEvalResults, o: { readonly seeds: number; readonly minutesNormal: number }): MotorSummary {
  return {
    bench: 'motor',
    seeds: o.seeds,
    minutes_normal: o.minutesNormal,
    streaming: ofDetector(r, 'streaming'),
    autoencoder: ofDetector(r, 'autoencoder'),
    weak_fault: 'skipped: MotorSignals has no severity knob (fault sizes are constants in sim/mcu/signals.ts)',
  };
}

const cell = (s: string, w: number): string => s.padEnd(w);

/** One row per detector and case: caught of seeds, median delay, right channel, median peak score. */
export function table(r: MotorEvalResults, s: MotorSummary): string {
  const rows: string[][] = [['detector', 'case', 'caught', 'alert delay s (median, range)', 'score delay s', 'blamed: expected, all', 'peak score', 'alerts before fault']];
  for (const d of ['streaming', 'autoencoder'] as const) {
    const sum = s[d];
    const normal = r.normal.filter((x) => x.detector === d);
    if (normal.length > 0) rows.push([d, `normal ${s.minutes_normal} min`, '', '', '', '', '', `${normal.reduce((a, x) => a + x.alerts, 0)} alerts = ${sum.false_alerts_per_h}/h (minute ${normal.flatMap((x) => x.atMinutes).join(', ') || '-'})`]);
    for (const k of FAULT_KINDS) {
      const f = r.faults.filter((x) => x.detector === d && x.kind === k);
      if (f.length === 0) continue;
      const caught = f.filter((x) => x.caught);
      const delays = caught.map((x) => x.delayS as number);
      const range = delays.length === 0 ? '' : ` (${Math.min(...delays).toFixed(1)}-${Math.max(...delays).toFixed(1)})`;
      const late = f.filter((x) => !x.caught && x.delayS !== null).length;
      const reopened = caught.filter((x) => x.how === 'reopened').length;
      rows.push([
        d,
        `${k} (<= ${MAX_DELAY_S[k]} s)`,
        `${caught.length}/${f.length}${late > 0 ? ` (${late} late)` : ''}`,
        `${sum.median_delay_s[k] ?? '-'}${range}${reopened > 0 ? ` ${reopened} reopened` : ''}`,
        `${sum.median_score_delay_s[k] ?? '-'}`,
        `${caught.filter((x) => x.rightChannel).length}/${caught.length} ${[...new Set(caught.flatMap((x) => x.channels))].join('+')}`,
        `${sum.median_peak_score[k] ?? '-'}`,
        `${f.reduce((a, x) => a + x.alertsBefore, 0)}`,
      ]);
    }
    const load = r.load.filter((x) => x.detector === d);
    if (load.length > 0)
      rows.push([
        d,
        `load 0.7->${LOAD_CHANGE.profile.loadMean} at ${LOAD_CHANGE.atS / 60} min`,
        '',
        '',
        '',
        '',
        '',
        `${load.map((x) => x.alerts).join('/')} alerts after, ${sum.load_change.median_alert_s} s alerting (median), ${sum.load_change.open_at_end}/${load.length} open at end`,
      ]);
  }
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((c, i) => cell(c, widths[i] as number)).join('  ').trimEnd()).join('\n');
}
