import { STREAMING_DEFAULTS, type StreamingParams } from '../streaming/detector.js';
import type { Setting } from './sweep.js';

/**
 * The settings the tuning procedure chooses among (cross-validation chooses among the same
 * ones in every fold). The centre (the shipped defaults) comes first; then each tuned
 * parameter alone, at values from about half to twice its centre; then the pairs of the two
 * parameters the score is most sensitive to.
 *
 * Not searched, because they are not tuned to data: `maxSlotsPerDay` (a memory bound: 5-minute
 * slots), `bandBlockMs` and `bandWindowMs` (the band's bookkeeping: blocks of a minute, the
 * whole history), and the switches `stuck` and `suppress`.
 */
export const ONE_AT_A_TIME: Readonly<Partial<Record<keyof StreamingParams, readonly number[]>>> = {
  levelAlpha: [0.05, 0.2],
  dayAlpha: [0.08, 0.3],
  weekAlpha: [0.06, 0.25],
  scaleAlpha: [0.0001, 0.0005],
  histAlpha: [0.00001, 0.0001],
  tailExp: [1.5, 3],
  bonf: [0.5, 1.5],
  shortW: [2, 5],
  fisherW: [1, 1.5],
  scoreAfter: [5, 20],
  warmup: [75, 300],
  refractory: [60, 150],
  recMin: [0.5, 2],
  gain: [1.15, 1.5],
  damp: [0.15, 0.5],
  stuckPenalty: [3, 6],
  bandMargin: [0.05, 0.2],
  bandEvidence: [4, 8],
  bandLagMs: [300_000, 1_200_000],
  bandMinHistoryMs: [900_000, 3_600_000],
};

const PAIRS: readonly (readonly [keyof StreamingParams, readonly number[], keyof StreamingParams, readonly number[]])[] = [['gain', [1.15, 1.3, 1.5], 'fisherW', [1, 1.2, 1.5]]];

/** Leaves out values equal to the defaults: {gain: 1.15, fisherW: 1.2} is {gain: 1.15}. */
function changes(setting: Setting): Setting {
  return Object.fromEntries(Object.entries(setting).filter(([k, v]) => STREAMING_DEFAULTS[k as keyof StreamingParams] !== v)) as Setting;
}

export function searchSpace(): Setting[] {
  const settings: Setting[] = [{}];
  for (const [name, values] of Object.entries(ONE_AT_A_TIME)) for (const v of values) settings.push({ [name]: v });
  for (const [a, av, b, bv] of PAIRS) for (const x of av) for (const y of bv) settings.push({ [a]: x, [b]: y });
  const seen = new Set<string>();
  return settings.map(changes).filter((s) => {
    const key = JSON.stringify(Object.entries(s).sort());
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
