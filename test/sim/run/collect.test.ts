import { describe, expect, it } from 'vitest';
import { collectTruth } from '../../../sim/run/collect.js';
import { parseScenario } from '../../../sim/scenario/index.js';

/** A scenario that asks for a rollout and a learning round; this runner does not play them yet. */
const ASKS_MORE = `
name: asks-more
duration: 60s
gateways:
  - group: motor
    count: 3
    mcu: { rateHz: 100 }
rollouts:
  - { release: bad, at: 10s, waves: "1, 100%" }
learning:
  at: 20s
  rounds: 1
  strategy: median
  byzantine: motor-2
`;

describe('collectTruth', () => {
  it('expects every rollout and learning round the scenario asks for, so one not played fails its verdict instead of passing', () => {
    const scenario = parseScenario(ASKS_MORE, 'asks-more.yaml');
    const truth = collectTruth({ scenario, ids: ['motor-1', 'motor-2', 'motor-3'], gateways: new Map(), mcuTruth: new Map(), runStartMs: 0, runEndMs: 60_000, durationMs: 60_000 });
    expect(truth.rollouts).toEqual([{ rolloutId: 'not-played-1', release: 'bad', stopAtWave: 0 }]);
    expect(truth.learning).toEqual({ rounds: 1, byzantineIds: ['motor-2'], strategy: 'median' });
  });
});
