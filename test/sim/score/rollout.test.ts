import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rolloutFromStatus, scoreRollout } from '../../../sim/score/rollout.js';
import { ScoreInputError } from '../../../sim/score/score-input-error.js';
import type { RolloutObservation, WaveObservation } from '../../../sim/score/types.js';

const wave = (total: number, notified: number, active: number, failed = 0): WaveObservation => ({ total, notified, active, failed, rolledBack: 0, timedOut: 0, reverted: 0 });
const seen = (o: Partial<RolloutObservation>): RolloutObservation => ({ rolloutId: 'ro-1', state: 'completed', waves: [], gateFailedAtWave: null, reason: null, ...o });

describe('scoreRollout', () => {
  it('passes a good release that reached every gateway of every wave, and says which wave fell short otherwise', () => {
    const good = { rolloutId: 'ro-1', release: 'good' as const, stopAtWave: 0 };
    expect(scoreRollout(good, seen({ waves: [wave(1, 1, 1), wave(4, 4, 4)] })).ok).toBe(true);
    const short = scoreRollout(good, seen({ waves: [wave(1, 1, 1), wave(4, 4, 3, 1)] }));
    expect(short.ok).toBe(false);
    expect(short.problems).toEqual(['wave 2: 3 of 4 gateways run the release']);
    expect(scoreRollout(good, seen({ state: 'paused', reason: 'gate-failed', waves: [wave(1, 1, 0, 1)] })).problems[0]).toBe('state paused, expected completed (gate-failed)');
  });

  it('passes a bad release only when it stopped at its gate and told nobody past it', () => {
    const bad = { rolloutId: 'ro-1', release: 'bad' as const, stopAtWave: 0 };
    expect(scoreRollout(bad, seen({ state: 'paused', gateFailedAtWave: 0, waves: [wave(1, 1, 0, 1), wave(4, 0, 0)] })).ok).toBe(true);
    expect(scoreRollout(bad, seen({ state: 'rolling-back', gateFailedAtWave: 0, waves: [wave(1, 1, 0, 1), wave(4, 0, 0)] })).ok).toBe(true);
    expect(scoreRollout(bad, seen({ state: 'completed', waves: [wave(1, 1, 1), wave(4, 4, 4)] })).problems).toEqual([
      'state completed, expected stopped at a gate',
      'no gate failed',
      'wave 2: 4 gateways told of the bad release past its gate',
    ]);
    expect(scoreRollout(bad, seen({ state: 'paused', gateFailedAtWave: 1, waves: [wave(1, 1, 1), wave(4, 4, 0, 4)] })).problems).toEqual(['gate failed at wave 2, expected wave 1', 'wave 2: 4 gateways told of the bad release past its gate']);
    expect(scoreRollout(bad, undefined)).toMatchObject({ ok: false, state: 'missing' });
  });
});

describe('rolloutFromStatus', () => {
  const tally = { total: 2, notified: 2, active: 0, failed: 2, rolledBack: 0, timedOut: 0, offline: 0, pending: 0, shadowing: 0, shadowed: 0, reverting: 0, reverted: 0 };

  it('reads the API\'s rollout status: state, tallies and the wave whose gate failed', () => {
    const status = {
      rollout: { id: 'ro-0123456789ab', state: 'paused', reason: 'gate-failed', currentWave: 0 },
      waves: [tally, { ...tally, notified: 0, failed: 0 }],
      events: [
        { seq: 1, ts: 1, kind: 'created', detail: {} },
        { seq: 2, ts: 2, kind: 'gate-failed', detail: { wave: 0, phase: 'activate', tally, gates: [] } },
      ],
    };
    expect(rolloutFromStatus(status)).toEqual({
      rolloutId: 'ro-0123456789ab',
      state: 'paused',
      reason: 'gate-failed',
      gateFailedAtWave: 0,
      waves: [
        { total: 2, notified: 2, active: 0, failed: 2, rolledBack: 0, timedOut: 0, reverted: 0 },
        { total: 2, notified: 0, active: 0, failed: 0, rolledBack: 0, timedOut: 0, reverted: 0 },
      ],
    });
  });

  it('names the field that is not what the API documents, and never throws anything else', () => {
    expect(() => rolloutFromStatus({ rollout: { id: 'ro-1', state: 'sideways' }, waves: [] })).toThrow('rollout status.rollout.state: expected one of running, rolling-back, paused, aborted, completed');
    expect(() => rolloutFromStatus({ rollout: { id: 'ro-1', state: 'paused' }, waves: [{ ...tally, active: 'x' }] })).toThrow('rollout status.waves[0].active: expected an integer');
    fc.assert(
      fc.property(fc.anything(), (v) => {
        try {
          rolloutFromStatus(v);
        } catch (err) {
          expect(err).toBeInstanceOf(ScoreInputError);
          expect((err as ScoreInputError).code).toBe('E_SCORE_INPUT');
        }
      }),
    );
  });
});
