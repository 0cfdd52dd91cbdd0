import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { choose, crossValidate } from '../../../models/anomaly/nab/cross-validation.js';
import { PROFILES, optimizeThreshold, prepareFile, type FileRows } from '../../../models/anomaly/nab/scoring.js';
import type { CategoryCurves } from '../../../models/anomaly/nab/sweep.js';
import { GRID, addCurves, bestThreshold, emptyCurves, fileCurves, rawAt, type ThresholdCurves } from '../../../models/anomaly/nab/threshold-curves.js';
import { CLI } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const NAB_CLI = join(CLI, '..', '..', 'models', 'anomaly', 'nab', 'cli.js');
const run = promisify(execFile);

/** NAB's raw score at one threshold, counted the plain way: every row, every window. */
function naiveRaw(files: readonly FileRows[], threshold: number, cost = PROFILES.standard): number {
  let raw = 0;
  const best = new Map<number, number>();
  for (const f of files) {
    for (const w of f.windows) best.set(w, -cost.fnWeight);
    for (const r of f.rows) {
      if (r.anomalyScore < threshold) continue;
      if (r.window < 0) raw += cost.fpWeight * r.value;
      else best.set(r.window, Math.max(best.get(r.window) as number, cost.tpWeight * r.value));
    }
  }
  for (const v of best.values()) raw += v;
  return raw;
}

/** A scored file: n rows, scores at grid-bucket midpoints (so grid and exact sweeps see the same detection sets). */
const scoredFile = fc
  .record({
    n: fc.integer({ min: 40, max: 160 }),
    buckets: fc.array(fc.integer({ min: 0, max: GRID - 1 }), { minLength: 160, maxLength: 160 }),
    windowStarts: fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }),
  })
  .map(({ n, buckets, windowStarts }) => {
    const scores = Float64Array.from(buckets.slice(0, n), (b) => (b + 0.5) / GRID);
    // Windows of 1/10 of the file, in separate tenths, in order.
    const width = Math.floor(n / 10);
    const windows = [...windowStarts].sort((a, b) => a - b).map((t): [number, number] => [(t + 2) * width, (t + 2) * width + width - 1]);
    return { scores, windows };
  });

describe('NAB threshold curves', () => {
  it('give NAB\'s raw score at every grid threshold, add up over files, and find the exact sweep\'s best', () => {
    fc.assert(
      fc.property(fc.array(scoredFile, { minLength: 1, maxLength: 4 }), (specs) => {
        let base = 0;
        const files = specs.map((s) => {
          const f = prepareFile(s.scores, s.windows, base);
          base += s.windows.length;
          return f;
        });
        const sum = files.map(fileCurves).reduce((a, c) => addCurves(a, c), emptyCurves());
        for (const k of [1, 2, 17, GRID / 4, GRID / 2, GRID - 1, GRID]) expect(rawAt(sum, k, PROFILES.standard)).toBeCloseTo(naiveRaw(files, k / GRID), 9);
        const exact = optimizeThreshold(files, PROFILES.reward_low_FN_rate);
        expect(bestThreshold(sum, PROFILES.reward_low_FN_rate).raw).toBeCloseTo(exact.score, 9);
      }),
      { numRuns: 60 },
    );
  });
});

/** One category's curves from a hand-made file: 100 rows, a window at 50..59, detections as given. */
function category(points: Record<number, number>): ThresholdCurves {
  const s = new Float64Array(100);
  for (const [i, v] of Object.entries(points)) s[Number(i)] = v;
  return fileCurves(prepareFile(s, [[50, 59]], 0));
}
const HIT = { 52: 0.6 }; // an early detection at 0.6
const HIT_FP = { 52: 0.6, 30: 0.7 }; // the same, but a false positive above it
const MISS = { 30: 0.7 }; // the window missed, a false positive

function table(...settings: Record<string, Record<number, number>>[]): CategoryCurves[] {
  return settings.map((s) => new Map(Object.entries(s).map(([c, points]) => [c, category(points)])));
}

describe('the tuning procedure and its cross-validation', () => {
  it('keeps the centre unless another setting is better in a way the categories agree on', () => {
    // Setting 1 wins big in one category and loses in two: a pooled win the categories do not share.
    const split = table({ a: HIT, b: HIT, c: HIT_FP, d: HIT }, { a: HIT_FP, b: HIT_FP, c: HIT, d: HIT });
    expect(choose(split, () => true, (i) => i).setting).toBe(0);
    // Setting 1 is better in every category: chosen.
    const agreed = table({ a: HIT_FP, b: HIT_FP, c: MISS, d: HIT_FP }, { a: HIT, b: HIT, c: HIT, d: HIT });
    expect(choose(agreed, () => true, (i) => i).setting).toBe(1);
  });

  it('never lets the held-out category choose its own setting or threshold', () => {
    // Held out d: setting 1 would be perfect on it, and setting 0 would catch d's window at a
    // threshold of 0.3; the other categories want setting 0 at 0.6. d gets what they chose: a miss.
    const t = table({ a: HIT, b: HIT, c: HIT, d: { 52: 0.3 } }, { a: MISS, b: MISS, c: MISS, d: { 50: 0.9 } });
    const d = crossValidate(t, (i) => i).folds.find((f) => f.heldOut === 'd');
    expect(d?.setting).toBe(0);
    expect(d?.thresholds.standard).toBe(Math.floor(0.6 * GRID));
    expect(d?.heldOutRaw.standard).toBe(-1);
    // Chosen on everything, d pulls the threshold down to catch its window.
    expect(choose(t, () => true, (i) => i).thresholds.standard).toBe(Math.floor(0.3 * GRID));
  });

  it('scores the held-out runs together: the sum of the folds\' raw scores over all windows', () => {
    const t = table({ a: HIT, b: HIT_FP, c: MISS });
    const cv = crossValidate(t);
    const raw = cv.folds.reduce((s, f) => s + f.heldOutRaw.standard, 0);
    expect(cv.scores.standard).toBeCloseTo((100 * (raw + 3)) / 6, 9);
    expect(cv.folds.map((f) => f.windows)).toEqual([1, 1, 1]);
  });
});

describe('npm run eval:nab -- --cv', () => {
  it('cross-validates over the categories and prints the cross-validated and in-sample scores last', async () => {
    const dir = await makeTempDir();
    try {
      const labels: Record<string, [string, string][]> = {};
      const time = (i: number): string => new Date(Date.UTC(2014, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
      for (const [c, cat] of ['alpha', 'beta', 'gamma'].entries()) {
        await mkdir(join(dir.path, 'data', cat), { recursive: true });
        for (const f of [0, 1]) {
          const spike = 600 + 100 * f + 37 * c;
          const rows = Array.from({ length: 1000 }, (_, i) => `${time(i)},${i === spike ? 40 : Math.sin(i / (7 + c)) + 0.1 * Math.sin(i * (1.3 + f))}`);
          await writeFile(join(dir.path, 'data', cat, `f${f}.csv`), `timestamp,value\n${rows.join('\n')}\n`);
          labels[`${cat}/f${f}.csv`] = [[time(spike - 20), time(spike + 20)]];
        }
      }
      await mkdir(join(dir.path, 'labels'));
      await writeFile(join(dir.path, 'labels', 'combined_windows.json'), JSON.stringify(labels));
      const { stdout, stderr } = await run(process.execPath, [NAB_CLI, '--data', dir.path, '--cv', '--workers', '2'], { encoding: 'utf8' });
      const last = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
      for (const key of ['standard', 'low_fp', 'low_fn', 'in_sample_standard', 'points_per_s']) expect(typeof last[key], key).toBe('number');
      expect(last['files']).toBe(6);
      expect(typeof last['defaults_chosen_by_cv']).toBe('boolean');
      // Spikes this plain are caught wherever the setting and threshold were chosen.
      expect(last['standard'] as number).toBeGreaterThan(90);
      for (const cat of ['alpha', 'beta', 'gamma']) expect(stderr).toContain(`held out ${cat}`);
      expect(stderr).toMatch(/settings \d+\/\d+/);

      const bad = await run(process.execPath, [NAB_CLI, '--data', dir.path, '--cv', '--workers', '0'], { encoding: 'utf8' }).then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(bad?.code).toBe(2);
      expect(bad?.stderr).toContain('--workers 0: expected a whole number >= 1');
    } finally {
      await dir.remove();
    }
  }, 120_000);
});
