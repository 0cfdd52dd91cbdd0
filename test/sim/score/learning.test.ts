import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { learningRoundFromApi, scoreLearning } from '../../../sim/score/learning.js';
import { ScoreInputError } from '../../../sim/score/score-input-error.js';
import type { LearningRoundObservation } from '../../../sim/score/types.js';

const round = (n: number, o: Partial<LearningRoundObservation> = {}): LearningRoundObservation => ({
  round: n,
  outcome: 'model',
  participants: 3,
  meanValidationLoss: 0.05 - n * 0.005,
  rejected: {},
  participantIds: ['gw-1', 'gw-2', 'gw-3'],
  rule: 'fedavg',
  selectedIds: null,
  ...o,
});
const expectation = { rounds: 2, byzantineIds: ['gw-4'], strategy: 'median' as const };

describe('scoreLearning', () => {
  it('passes rounds that made a model with falling losses and the Byzantine update refused', () => {
    const s = scoreLearning(expectation, [round(2), round(1)]);
    expect(s).toMatchObject({ ok: true, byzantine: { excluded: 2, outvoted: 0, used: 0, unknown: 0 } });
    expect(s.firstLoss).toBeCloseTo(0.045, 12);
    expect(s.lastLoss).toBeCloseTo(0.04, 12);
    expect(s.rounds.map((r) => r.round)).toEqual([1, 2]);
  });

  it('counts a Byzantine update accepted under median as outvoted, under FedAvg or chosen by Krum as used', () => {
    const withIt = { participantIds: ['gw-1', 'gw-4'] };
    expect(scoreLearning(expectation, [round(1, { ...withIt, rule: 'median' }), round(2, { ...withIt, rule: 'trimmed-mean' })])).toMatchObject({ ok: true, byzantine: { outvoted: 2 } });
    const fedavg = scoreLearning(expectation, [round(1, withIt), round(2)]);
    expect(fedavg.ok).toBe(false);
    expect(fedavg.problems).toEqual(['round 1: the Byzantine update of gw-4 was used (fedavg)']);
    expect(scoreLearning(expectation, [round(1, { ...withIt, rule: 'krum', selectedIds: ['gw-1'] }), round(2, { ...withIt, rule: 'krum', selectedIds: ['gw-4'] })]).byzantine).toEqual({ excluded: 1, outvoted: 0, used: 1, unknown: 0 });
  });

  it('fails missing rounds, rounds without a model, and a loss that climbs', () => {
    expect(scoreLearning(expectation, [round(1)]).problems).toEqual(['1 of 2 rounds ran']);
    expect(scoreLearning(expectation, [round(1), round(2, { outcome: 'no-model' })]).problems).toEqual(['round 2: no-model']);
    expect(scoreLearning(expectation, [round(1, { meanValidationLoss: 0.04 }), round(2, { meanValidationLoss: 0.2 })]).problems).toEqual(['validation loss rose from 0.0400 to 0.200']);
  });
});

describe('learningRoundFromApi', () => {
  it('reads a round of the API with its record: rejections, participants, the rule and Krum\'s choice', () => {
    const item = {
      task: 'fl-1',
      round: 3,
      outcome: 'model',
      participants: 2,
      meanValidationLoss: 0.03,
      record: { participants: ['gw-1', 'gw-2'], rejections: { malformed: 0, 'non-finite': 1 }, strategy: { type: 'krum', options: {}, combination: 'rule', selected: ['gw-1'] } },
    };
    expect(learningRoundFromApi(item)).toEqual({ round: 3, outcome: 'model', participants: 2, meanValidationLoss: 0.03, rejected: { malformed: 0, 'non-finite': 1 }, participantIds: ['gw-1', 'gw-2'], rule: 'krum', selectedIds: ['gw-1'] });
    expect(learningRoundFromApi({ ...item, record: null })).toMatchObject({ participantIds: null, rule: null, selectedIds: null, rejected: {} });
  });

  it('names the field that is not what the API documents, and never throws anything else', () => {
    expect(() => learningRoundFromApi({ round: 1, outcome: 'done', participants: 1, meanValidationLoss: null, record: null })).toThrow('round.outcome: expected open, model, no-model or abandoned');
    fc.assert(
      fc.property(fc.anything(), (v) => {
        try {
          learningRoundFromApi(v);
        } catch (err) {
          expect(err).toBeInstanceOf(ScoreInputError);
        }
      }),
    );
  });
});
