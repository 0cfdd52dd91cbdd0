import { PROFILES, normalizeScore, type ProfileName } from './scoring.js';
import type { CategoryCurves } from './sweep.js';
import { GRID, PROFILE_NAMES, addCurves, bestThreshold, emptyCurves, rawAt, type ThresholdCurves } from './threshold-curves.js';

/**
 * Leave-one-category-out cross-validation of the whole tuning procedure: for each NAB
 * category, the detector setting (out of the search space) and each profile's threshold are
 * chosen on the other categories only, then the held-out category is scored with them. The
 * headline is NAB's normalised score over all files from those held-out runs: raw scores
 * summed over folds, normalised by all windows.
 *
 * The procedure (`choose`) is the same in every fold and on the whole corpus, which gives the
 * defaults.
 */
export interface Choice {
  /** Index into the settings. */
  readonly setting: number;
  /** Per profile: grid threshold index (threshold = k / GRID). */
  readonly thresholds: Readonly<Record<ProfileName, number>>;
  /** Standard score on the data it was chosen on (normalised). */
  readonly trainStandard: number;
}

export interface Fold extends Choice {
  readonly heldOut: string;
  readonly windows: number;
  /** Raw score of the held-out category at the chosen setting and thresholds, per profile. */
  readonly heldOutRaw: Readonly<Record<ProfileName, number>>;
}

export interface CrossValidation {
  readonly folds: readonly Fold[];
  /** Normalised scores over all files from the held-out runs. */
  readonly scores: Readonly<Record<ProfileName, number>>;
  /** The procedure run on every category: what the defaults should be. */
  readonly all: Choice;
}

function sumCategories(curves: CategoryCurves, keep: (category: string) => boolean): ThresholdCurves {
  const sum = emptyCurves();
  for (const [category, c] of curves) if (keep(category)) addCurves(sum, c);
  return sum;
}

interface Candidate {
  readonly setting: number;
  /** Pooled raw standard score at the setting's best threshold on the training categories. */
  readonly raw: number;
  /** Raw standard score of each training category at that threshold. */
  readonly byCategory: Map<string, number>;
  readonly curves: ThresholdCurves;
}

function candidate(table: readonly CategoryCurves[], setting: number, keep: (category: string) => boolean): Candidate {
  const curves = table[setting] as CategoryCurves;
  const train = sumCategories(curves, keep);
  const { k, raw } = bestThreshold(train, PROFILES.standard);
  const byCategory = new Map<string, number>();
  for (const [category, c] of curves) if (keep(category)) byCategory.set(category, rawAt(c, k, PROFILES.standard));
  return { setting, raw, byCategory, curves: train };
}

/** Standard error of the pooled difference between two candidates, from their per-category differences. */
function standardError(a: Candidate, b: Candidate): number {
  const d = [...a.byCategory].map(([category, raw]) => raw - (b.byCategory.get(category) ?? 0));
  if (d.length < 2) return 0;
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const variance = d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1);
  return Math.sqrt(d.length * variance);
}

/**
 * The procedure on the categories `keep` lets in. The setting: the simplest (fewest
 * parameters moved from the centre, `complexity`) whose pooled standard score is within one
 * standard error of the best's, the error estimated from how their difference varies across
 * the training categories (Breiman's one-standard-error rule: a difference the categories do
 * not agree on is noise, and a new series is a new category). Then each profile's threshold
 * for that setting.
 */
export function choose(table: readonly CategoryCurves[], keep: (category: string) => boolean, complexity: (setting: number) => number = () => 0): Choice {
  if (table.length === 0) throw new Error('cross-validation: no settings');
  const candidates = table.map((_, setting) => candidate(table, setting, keep));
  // Ties keep the earlier setting: the search space lists its centre first.
  const best = candidates.reduce((a, b) => (b.raw > a.raw ? b : a));
  let chosen = best;
  for (const c of candidates) {
    if (best.raw - c.raw > standardError(best, c) + 1e-9) continue;
    const simpler = complexity(c.setting) - complexity(chosen.setting);
    if (simpler < 0 || (simpler === 0 && c.raw > chosen.raw)) chosen = c;
  }
  const thresholds = Object.fromEntries(PROFILE_NAMES.map((p) => [p, bestThreshold(chosen.curves, PROFILES[p]).k])) as Record<ProfileName, number>;
  return { setting: chosen.setting, thresholds, trainStandard: normalizeScore(chosen.raw, chosen.curves.windows, PROFILES.standard) };
}

export function crossValidate(table: readonly CategoryCurves[], complexity: (setting: number) => number = () => 0): CrossValidation {
  const first = table[0];
  if (first === undefined) throw new Error('cross-validation: no settings');
  const categories = [...first.keys()].sort();
  if (categories.length < 2) throw new Error(`cross-validation needs at least two categories (folders), got ${categories.length}`);
  const folds = categories.map((heldOut): Fold => {
    const choice = choose(table, (c) => c !== heldOut, complexity);
    const held = (table[choice.setting] as CategoryCurves).get(heldOut) as ThresholdCurves;
    const heldOutRaw = Object.fromEntries(PROFILE_NAMES.map((p) => [p, rawAt(held, choice.thresholds[p], PROFILES[p])])) as Record<ProfileName, number>;
    return { ...choice, heldOut, windows: held.windows, heldOutRaw };
  });
  const windows = folds.reduce((n, f) => n + f.windows, 0);
  const scores = Object.fromEntries(
    PROFILE_NAMES.map((p) => [p, normalizeScore(folds.reduce((s, f) => s + f.heldOutRaw[p], 0), windows, PROFILES[p])]),
  ) as Record<ProfileName, number>;
  return { folds, scores, all: choose(table, () => true, complexity) };
}

export function thresholdOf(k: number): number {
  return k / GRID;
}
