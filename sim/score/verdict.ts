/**
 * Whether a run passed: the bar issue 16 sets for the default scenario (nothing lost, the bad
 * release stopped at its gate and the good one everywhere, alert recall >= 0.9 with precision
 * >= 0.8, defect recall >= 0.9), and the learning round as expected. The runner's exit code and
 * the default scenario's test both read it.
 */
import type { Scorecard } from './scorecard.js';

export interface Thresholds {
  readonly maxLost: number;
  readonly minAlertPrecision: number;
  readonly minAlertRecall: number;
  readonly minDefectRecall: number;
  readonly rollouts: boolean;
  readonly learning: boolean;
}

export const ISSUE_THRESHOLDS: Thresholds = { maxLost: 0, minAlertPrecision: 0.8, minAlertRecall: 0.9, minDefectRecall: 0.9, rollouts: true, learning: true };

const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** Each bar the run missed, in words; empty when it passed. */
export function verdict(card: Scorecard, bar: Thresholds = ISSUE_THRESHOLDS): string[] {
  const t = card.totals;
  const out: string[] = [];
  if (t.delivery.lost > bar.maxLost) out.push(`${count(t.delivery.lost, 'record', 'records')} lost (at most ${bar.maxLost})`);
  if (t.alerts.faults > 0 && t.alerts.recall < bar.minAlertRecall) out.push(`alert recall ${t.alerts.recall.toFixed(3)} (at least ${bar.minAlertRecall}): ${t.alerts.faults - t.alerts.detected} of ${t.alerts.faults} faults missed`);
  if (t.alerts.alerts > 0 && t.alerts.precision < bar.minAlertPrecision) out.push(`alert precision ${t.alerts.precision.toFixed(3)} (at least ${bar.minAlertPrecision}): ${count(t.alerts.falseAlerts.length, 'false alert', 'false alerts')}`);
  if (t.defects.parts > 0 && t.defects.recall < bar.minDefectRecall) out.push(`defect recall ${t.defects.recall.toFixed(3)} (at least ${bar.minDefectRecall}): ${t.defects.missedParts.length} of ${t.defects.parts} defective parts missed`);
  if (bar.rollouts) for (const r of card.rollouts) for (const p of r.problems) out.push(`${r.release} release ${r.rolloutId}: ${p}`);
  if (bar.learning && card.learning !== null) for (const p of card.learning.problems) out.push(`learning: ${p}`);
  return out;
}
