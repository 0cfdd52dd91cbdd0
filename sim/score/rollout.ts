/**
 * Rollout outcomes against what the scenario expects: a bad release must stop at its gate
 * (the canary's, unless the scenario says which) and reach no gateway past that wave; a good
 * one must complete with every gateway of every wave running it.
 */
import { ScoreInputError } from './score-input-error.js';
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

const STATES: readonly RolloutObservation['state'][] = ['running', 'rolling-back', 'paused', 'aborted', 'completed'];
const TALLY_FIELDS = ['total', 'notified', 'active', 'failed', 'rolledBack', 'timedOut', 'reverted'] as const;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * GET /v1/rollouts/:id (fleet/api/schemas/rollouts.ts, `{ rollout, waves, events }`) as an
 * observation: the wave whose gate failed is the last `gate-failed` event's `detail.wave`
 * (0-based, as the driver numbers waves). Throws E_SCORE_INPUT naming the first field that
 * is not what the API documents.
 */
export function rolloutFromStatus(status: unknown, where = 'rollout status'): RolloutObservation {
  if (!isObject(status) || !isObject(status['rollout'])) throw new ScoreInputError(`${where}.rollout: expected an object`);
  const r = status['rollout'];
  if (typeof r['id'] !== 'string') throw new ScoreInputError(`${where}.rollout.id: expected a string`);
  const state = r['state'];
  if (!STATES.includes(state as RolloutObservation['state'])) throw new ScoreInputError(`${where}.rollout.state: expected one of ${STATES.join(', ')}`);
  if (!Array.isArray(status['waves'])) throw new ScoreInputError(`${where}.waves: expected an array`);
  const waves = status['waves'].map((w: unknown, i): WaveObservation => {
    if (!isObject(w)) throw new ScoreInputError(`${where}.waves[${i}]: expected an object`);
    for (const f of TALLY_FIELDS) if (!Number.isInteger(w[f])) throw new ScoreInputError(`${where}.waves[${i}].${f}: expected an integer`);
    return { total: w['total'] as number, notified: w['notified'] as number, active: w['active'] as number, failed: w['failed'] as number, rolledBack: w['rolledBack'] as number, timedOut: w['timedOut'] as number, reverted: w['reverted'] as number };
  });
  const events: unknown[] = Array.isArray(status['events']) ? status['events'] : [];
  let gateFailedAtWave: number | null = null;
  for (const e of events) {
    if (isObject(e) && e['kind'] === 'gate-failed' && isObject(e['detail']) && Number.isInteger(e['detail']['wave'])) gateFailedAtWave = e['detail']['wave'] as number;
  }
  return { rolloutId: r['id'], state: state as RolloutObservation['state'], waves, gateFailedAtWave, reason: typeof r['reason'] === 'string' ? r['reason'] : null };
}
