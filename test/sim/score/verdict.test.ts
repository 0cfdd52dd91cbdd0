import { describe, expect, it } from 'vitest';
import { score } from '../../../sim/score/scorecard.js';
import { ISSUE_THRESHOLDS, verdict } from '../../../sim/score/verdict.js';
import { scenario, syntheticRun } from './synthetic-run.js';

describe('verdict', () => {
  it('names every bar of the issue a run missed', () => {
    const { truth, obs } = syntheticRun();
    expect(verdict(score(truth, obs, scenario))).toEqual([
      '1 record lost (at most 0)',
      'alert recall 0.667 (at least 0.9): 1 of 3 faults missed',
      'alert precision 0.667 (at least 0.8): 1 false alert',
      'defect recall 0.800 (at least 0.9): 1 of 5 defective parts missed',
    ]);
  });

  it('passes the same run against a lower bar, and a run with nothing to judge', () => {
    const { truth, obs } = syntheticRun();
    expect(verdict(score(truth, obs, scenario), { ...ISSUE_THRESHOLDS, maxLost: 1, minAlertPrecision: 0.6, minAlertRecall: 0.6, minDefectRecall: 0.8 })).toEqual([]);
    const empty = { ...truth, gatewayIds: [], sensorFaults: [], defectiveParts: [], rollouts: [], learning: null };
    expect(verdict(score(empty, { ...obs, gateways: [] }, scenario))).toEqual([]);
  });
});
