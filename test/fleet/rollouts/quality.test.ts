import { describe, expect, it } from 'vitest';
import type { ShadowEvaluation } from '../../../fleet/protocol/update.js';
import { QualityGateError, evaluateQuality, qualityGates, shadowShortfalls } from '../../../fleet/rollouts/quality.js';
import { shadowSummary } from './rollout-sim.js';

const Q = qualityGates({ inferences: 200 });
const evaluated = (e: Partial<ShadowEvaluation>, agreement = 0.5): ReturnType<typeof shadowSummary> => shadowSummary(agreement, { evaluation: { metric: 'roc-auc', samples: 370, active: 0.8, candidate: 0.95, error: null, ...e } });

describe('the quality gate', () => {
  it('without an evaluation set, judges agreement with the active model', () => {
    expect(shadowShortfalls(shadowSummary(0.97), Q, 100)).toEqual([]);
    expect(shadowShortfalls(shadowSummary(0.5), Q, 100)).toEqual(['alert agreement 0.500 below 0.9']);
  });

  it('with an evaluation set, judges the candidate on it: a better model that disagrees passes, a worse one fails with both numbers', () => {
    expect(shadowShortfalls(evaluated({}), Q, 100, true)).toEqual([]);
    expect(shadowShortfalls(evaluated({ active: 0.95, candidate: 0.95 }), Q, 100, true)).toEqual([]);
    expect(shadowShortfalls(evaluated({ active: 0.95, candidate: 0.9 }), Q, 100, true)).toEqual(['ROC AUC on the labelled set 0.900, below the active model\'s 0.950 (370 windows)']);
    // An allowed drop, stated by the rollout.
    expect(shadowShortfalls(evaluated({ active: 0.95, candidate: 0.9 }), qualityGates({ inferences: 200, maxEvaluationDrop: 0.1 }), 100, true)).toEqual([]);
    // No active model to be worse than: the candidate's own number stands.
    expect(shadowShortfalls(evaluated({ active: null, candidate: 0.6 }), Q, 100, true)).toEqual([]);
  });

  it('judges a vision release on its detection F1 the same way, naming the metric and the frames', () => {
    const f1 = (active: number, candidate: number): ReturnType<typeof shadowSummary> => evaluated({ metric: 'f1@0.5', samples: 24, active, candidate });
    expect(shadowShortfalls(f1(0.9, 0.93), Q, 100, true)).toEqual([]);
    expect(shadowShortfalls(f1(0.9, 0.9), Q, 100, true)).toEqual([]);
    expect(shadowShortfalls(f1(0.92, 0.41), Q, 100, true)).toEqual(['detection F1 (IoU 0.5) on the labelled set 0.410, below the active model\'s 0.920 (24 frames)']);
    expect(evaluateQuality([{ gw: 'a', shadow: f1(0.92, 0.41) }], Q, 100, true).detail.evaluation).toEqual({ worstMargin: -0.51, minCandidate: 0.41, evaluated: 1 });
  });

  it('with an evaluation set, fails a gateway that did not evaluate, or could not, saying why', () => {
    expect(shadowShortfalls(shadowSummary(0.99), Q, 100, true)).toEqual(['the release carries an evaluation set, and the gateway reported no evaluation on it']);
    expect(shadowShortfalls(evaluated({ candidate: null, error: 'vision stages do not score labelled evaluation sets yet' }), Q, 100, true)).toEqual(['no evaluation on the labelled set: vision stages do not score labelled evaluation sets yet']);
  });

  it('with an evaluation set, still holds latency and errors', () => {
    const slow = { ...evaluated({}), latencyMs: { p50: 50, p99: 300 }, errors: 10 };
    expect(shadowShortfalls(slow, Q, 100, true)).toEqual(['10 of 200 runs failed (5.0%, limit 0.0%)', 'latency p99 300.0 ms over 100 ms']);
  });

  it('gives the wave the worst margin and the lowest candidate value', () => {
    const r = evaluateQuality(
      [
        { gw: 'a', shadow: evaluated({ active: 0.9, candidate: 0.95 }) },
        { gw: 'b', shadow: evaluated({ active: 0.9, candidate: 0.85 }) },
      ],
      Q,
      100,
      true,
    );
    expect(r.pass).toBe(false);
    expect(r.detail.evaluation).toEqual({ worstMargin: -0.05, minCandidate: 0.85, evaluated: 2 });
    expect(r.detail.failing).toEqual([{ gw: 'b', why: ['ROC AUC on the labelled set 0.850, below the active model\'s 0.900 (370 windows)'] }]);
    expect(evaluateQuality([{ gw: 'a', shadow: shadowSummary(0.97) }], Q, 100).detail.evaluation).toBeNull();
  });

  it('refuses an allowed drop out of range, naming it', () => {
    expect(() => qualityGates({ maxEvaluationDrop: 2 })).toThrow(QualityGateError);
    expect(() => qualityGates({ maxEvaluationDrop: -0.1 })).toThrow('quality.maxEvaluationDrop');
  });
});
