import type { Setting } from './sweep.js';

/**
 * The settings the tuning procedure chooses among (cross-validation chooses among the same
 * ones in every fold). The centre comes first (ties keep it); then each parameter alone,
 * each at values from about half to twice its centre; then the pairs of the parameters the
 * score is most sensitive to.
 */
const ONE_AT_A_TIME: Record<string, readonly number[]> = {
  levelAlpha: [0.05, 0.2],
  dayAlpha: [0.08, 0.3],
  weekAlpha: [0.06, 0.25],
  scaleAlpha: [0.0001, 0.0005],
  histAlpha: [0.00001, 0.0001],
  tailExp: [1.5, 3],
  bonf: [0.5, 1.5],
  shortW: [2, 5],
  fisherW: [1, 1.5],
  warmup: [100],
  refractory: [60, 150],
  gain: [1.15, 1.5],
  damp: [0.15, 0.5],
  stuckPenalty: [3, 6],
  bandMargin: [0.05, 0.2],
};

const PAIRS: readonly [string, readonly number[], string, readonly number[]][] = [['gain', [1.15, 1.3, 1.5], 'fisherW', [1, 1.2, 1.5]]];

export function searchSpace(): Setting[] {
  const settings: Setting[] = [{}];
  for (const [name, values] of Object.entries(ONE_AT_A_TIME)) for (const v of values) settings.push({ [name]: v });
  for (const [a, av, b, bv] of PAIRS) for (const x of av) for (const y of bv) settings.push({ [a]: x, [b]: y });
  const seen = new Set<string>();
  return settings.filter((s) => {
    const key = JSON.stringify(Object.entries(s).sort());
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
