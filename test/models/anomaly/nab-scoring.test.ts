import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpus, parseNabTime } from '../../../models/anomaly/nab/corpus.js';
import { PROFILES, normalizeScore, optimizeThreshold, prepareFile, probationLength, scaledSigmoid, scoreProfiles } from '../../../models/anomaly/nab/scoring.js';
import { CLI } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const NAB_CLI = join(CLI, '..', '..', 'models', 'anomaly', 'nab', 'cli.js');

/** 100 rows, one window over rows 50..59; probation is the first 15 rows. */
const WINDOW: [number, number][] = [[50, 59]];
function scores(points: Record<number, number>, fill = 0): Float64Array {
  const s = new Float64Array(100).fill(fill);
  for (const [i, v] of Object.entries(points)) s[Number(i)] = v;
  return s;
}
const standard = (s: Float64Array): number => {
  const best = optimizeThreshold([prepareFile(s, WINDOW, 0)], PROFILES.standard);
  return normalizeScore(best.score, 1, PROFILES.standard);
};

describe('NAB scoring', () => {
  it('has NAB\'s sigmoid and probation', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.5)).toBe(-1);
    expect(probationLength(100)).toBe(15);
    expect(probationLength(100_000)).toBe(750);
  });

  it('scores the null detector 0 and a perfect one 100', () => {
    expect(standard(scores({}))).toBe(0);
    expect(standard(scores({}, 0.5))).toBe(0); // constant: the best threshold detects nothing
    expect(standard(scores({ 50: 1 }))).toBeCloseTo(100, 9);
  });

  it('one early true positive and one false positive: hand-computed', () => {
    // TP at row 52: p = -(59 - 52 + 1) / 10 = -0.8; S(-0.8) = 0.9640275, S(-1) = 0.9866143, ratio 0.9771068.
    // At threshold 0.9 the raw score is 0.9771068; adding the FP at row 30 (0.8, before any
    // window: -0.11) lowers it, so the optimum is 0.9: normalised 100 * (0.9771068 + 1) / 2.
    const s = scores({ 52: 0.9, 30: 0.8 });
    const best = optimizeThreshold([prepareFile(s, WINDOW, 0)], PROFILES.standard);
    expect(best.threshold).toBe(0.9);
    expect(best.score).toBeCloseTo(0.9771068, 6);
    expect(standard(s)).toBeCloseTo(98.855342, 4);
    // If the FP scores higher than the TP it cannot be avoided: 0.9771068 - 0.11.
    const forced = optimizeThreshold([prepareFile(scores({ 52: 0.8, 30: 0.9 }), WINDOW, 0)], PROFILES.standard);
    expect(forced.score).toBeCloseTo(0.8671068, 6);
  });

  it('only the earliest detection in a window counts; a detection right after a window costs less', () => {
    const early = optimizeThreshold([prepareFile(scores({ 52: 0.9, 55: 0.9 }), WINDOW, 0)], PROFILES.standard).score;
    expect(early).toBeCloseTo(0.9771068, 6);
    // FP at row 62: S(|59 - 62| / 9) = S(1/3) = -0.682262, times 0.11.
    const after = optimizeThreshold([prepareFile(scores({ 52: 0.9, 62: 0.9 }), WINDOW, 0)], PROFILES.standard).score;
    expect(after).toBeCloseTo(0.9771068 - 0.11 * 0.682262, 5);
  });

  it('ignores detections in the probation period, and scores the three profiles', () => {
    expect(standard(scores({ 10: 1, 50: 1 }))).toBeCloseTo(100, 9);
    const p = scoreProfiles([prepareFile(scores({ 52: 0.9, 30: 0.8 }), WINDOW, 0)]);
    expect(p.map((x) => x.profile)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
    // low FN: fn weight 2, so normalised = 100 * (raw + 2) / 3.
    expect(p[2]?.normalized).toBeCloseTo((100 * (0.9771068 + 2)) / 3, 4);
  });

  it('loads NAB files and windows by timestamp, and the CLI prints one JSON line last', async () => {
    const dir = await makeTempDir();
    try {
      await mkdir(`${dir.path}/data/cat`, { recursive: true });
      await mkdir(`${dir.path}/labels`, { recursive: true });
      const rows = Array.from({ length: 400 }, (_, i) => `${new Date(Date.UTC(2014, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19)},${i === 300 ? 50 : Math.sin(i / 10)}`);
      await writeFile(`${dir.path}/data/cat/f.csv`, `timestamp,value\n${rows.join('\n')}\n`);
      await writeFile(`${dir.path}/labels/combined_windows.json`, JSON.stringify({ 'cat/f.csv': [['2014-01-01 23:40:00.000000', '2014-01-02 01:40:00.000000']] }));
      const [file] = await loadCorpus(`${dir.path}/data`, `${dir.path}/labels/combined_windows.json`);
      expect(file?.windows).toEqual([[284, 308]]);
      expect(parseNabTime('2014-01-01 23:40:00.000000')).toBe(Date.UTC(2014, 0, 1, 23, 40));
      const out = execFileSync(process.execPath, [NAB_CLI, '--data', dir.path, '--out', `${dir.path}/results`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const last = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
      expect(Object.keys(last)).toEqual(['bench', 'standard', 'low_fp', 'low_fn', 'files', 'points_per_s', 'detector_points_per_s']);
      expect(last['files']).toBe(1);
      const written = await readFile(`${dir.path}/results/cat/edgewise_f.csv`, 'utf8');
      expect(written.split('\n')[0]).toBe('timestamp,value,anomaly_score,label');
      expect(written.split('\n').filter((l) => l.endsWith(',1')).length).toBe(25);
      // Cross-validation leaves a category out: with one there is nothing to train on.
      const cv = spawnSync(process.execPath, [NAB_CLI, '--data', dir.path, '--cv'], { encoding: 'utf8' });
      expect(cv.status).toBe(2);
      expect(cv.stderr).toContain('needs at least two; found cat');
    } finally {
      await dir.remove();
    }
  });
});
