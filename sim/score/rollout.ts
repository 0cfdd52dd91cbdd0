/**
 * Rollout outcomes against what the scenario expects: a bad release must stop at its gate
 * (the canary's, unless the scenario says which) and reach no gateway past that wave; a good
 * one must complete with every gateway of every wave running it.
 */
import type { RolloutExpectation, RolloutObservation, WaveObservation } from './types.js';

export interface WaveScore {
  readonly total: number;
  readonly active: number;
  readonly failed: number;
  readonly reverted: number;
  /** Told of the release (notified) out of total. */
  readonly reached: number;
}

export interface RolloutScore {
  readonly rolloutId: string;
  readonly release: 'good' | 'bad';
  readonly state: RolloutObservation['state'] | 'missing';
  readonly waves: readonly WaveScore[];
  readonly gateFailedAtWave: number | null;
  readonly ok: boolean;
  /** Why it is not ok, in words (empty when ok). */
  readonly problems: readonly string[];
}

const waveScore = (w: WaveObservation): WaveScore => ({ total: w.total, active: w.active, failed: w.failed, reverted: w.reverted, reached: w.notified });

export function scoreRollout(expect: RolloutExpectation, seen: RolloutObservation | undefined): RolloutScore {
  if (seen === undefined) {
    return { rolloutId: expect.rolloutId, release: expect.release, state: 'missing', waves: [], gateFailedAtWave: null, ok: false, problems: ['the fleet has no such rollout'] };
  }
  const problems: string[] = [];
  if (expect.release === 'good') {
    if (seen.state !== 'completed') problems.push(`state ${seen.state}, expected completed${seen.reason === null ? '' : ` (${seen.reason})`}`);
    seen.waves.forEach((w, i) => {
      if (w.active !== w.total) problems.push(`wave ${i + 1}: ${w.active} of ${w.total} gateways run the release`);
    });
    if (seen.waves.length === 0) problems.push('no waves');
  } else {
    if (seen.state === 'completed' || seen.state === 'running') problems.push(`state ${seen.state}, expected stopped at a gate`);
    if (seen.gateFailedAtWave !== expect.stopAtWave) {
      problems.push(seen.gateFailedAtWave === null ? 'no gate failed' : `gate failed at wave ${seen.gateFailedAtWave + 1}, expected wave ${expect.stopAtWave + 1}`);
    }
    seen.waves.forEach((w, i) => {
      if (i > expect.stopAtWave && w.notified > 0) problems.push(`wave ${i + 1}: ${w.notified} gateways told of the bad release past its gate`);
    });
  }
  return { rolloutId: seen.rolloutId, release: expect.release, state: seen.state, waves: seen.waves.map(waveScore), gateFailedAtWave: seen.gateFailedAtWave, ok: problems.length === 0, problems };
}
