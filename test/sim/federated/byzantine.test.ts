import { beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, type FederatedDataset } from '../../../sim/federated/dataset.js';
import { finalLoss, lossGap } from '../../../sim/federated/measures.js';
import { FEDERATED_SIM } from '../../../sim/federated/scenario.js';
import { runFederated, type FederatedRun } from '../../../sim/federated/simulation.js';

/**
 * 4 of the 20 gateways attack in every round, one of each kind: sign flip, x100, NaN (which the
 * fleet's decoder refuses) and noise. Updates travel as top-k int8. The trimmed mean trims 20%
 * per side (3 of the 19 accepted updates: as many as there are attackers left). 25 rounds;
 * about 20 s on a loaded 2-core machine.
 */
const { rounds, attackers, trimShare } = FEDERATED_SIM.byzantine;
const base = { ...FEDERATED_SIM.federated, rounds, transport: FEDERATED_SIM.topK };
const trimmed = { strategy: 'trimmed-mean', options: { trimShare } };

describe('federated training with 20% Byzantine gateways', () => {
  let data: FederatedDataset;
  let clean: FederatedRun;
  let attacked: FederatedRun;

  beforeAll(async () => {
    data = buildDataset(FEDERATED_SIM.data);
    clean = await runFederated(data, { ...base, aggregation: trimmed });
    attacked = await runFederated(data, { ...base, aggregation: trimmed, attackers });
  }, 600_000); // CPU-bound and deterministic: the limit is only a safety net (a loaded 2-core box took over 120 s)

  it('refuses the NaN update in every round and aggregates the other 19', () => {
    for (const r of attacked.rounds) expect(r).toMatchObject({ accepted: 19, rejected: { malformed: 1 }, updated: true });
  });

  it('with the trimmed mean ends within 5% of the same run without attackers', () => {
    expect(lossGap(attacked, clean)).toBeLessThan(0.05);
    expect(finalLoss(attacked)).toBeLessThan(0.05 * attacked.initialLoss);
  });

  it('with plain FedAvg is ruined: worse than the untrained model within 5 rounds', async () => {
    const fedavg = await runFederated(data, { ...base, rounds: 5, attackers });
    expect(fedavg.rounds.at(-1)!.accepted).toBe(19);
    const loss = finalLoss(fedavg);
    expect(!Number.isFinite(loss) || loss > fedavg.initialLoss).toBe(true);
  }, 60_000);
});
