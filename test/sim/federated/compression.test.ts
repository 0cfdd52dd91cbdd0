import { beforeAll, describe, expect, it } from 'vitest';
import { trainCentralised, type CentralisedResult } from '../../../sim/federated/centralised.js';
import { buildDataset, type FederatedDataset } from '../../../sim/federated/dataset.js';
import { bytesRatio, finalLoss, lossGap } from '../../../sim/federated/measures.js';
import { FEDERATED_SIM, WITHIN_CENTRAL } from '../../../sim/federated/scenario.js';
import { roundsToWithin, runFederated, type FederatedRun } from '../../../sim/federated/simulation.js';

/**
 * Issue 14's science, its configuration: 20 gateways with different motors, FedAvg over updates
 * sent as top-k (half of each tensor) int8 with error feedback, against the same run with raw
 * float32 updates and against the autoencoder trained centrally on the pooled windows.
 * Sizes: sim/federated/scenario.ts; about 20 to 35 s on a loaded 2-core machine.
 */
const PARAMETERS = 6824;

describe('federated training of the anomaly autoencoder with compressed updates', () => {
  let data: FederatedDataset;
  let central: CentralisedResult;
  let float32: FederatedRun;
  let topK: FederatedRun;

  beforeAll(async () => {
    data = buildDataset(FEDERATED_SIM.data);
    central = await trainCentralised(data, FEDERATED_SIM.central);
    float32 = await runFederated(data, FEDERATED_SIM.federated);
    topK = await runFederated(data, { ...FEDERATED_SIM.federated, transport: FEDERATED_SIM.topK });
  }, 600_000); // CPU-bound and deterministic: the limit is only a safety net (a loaded 2-core box took over 120 s)

  it(`gets within ${WITHIN_CENTRAL * 100}% of the centralised model's validation loss`, () => {
    const rounds = roundsToWithin(topK, central.validationLoss, WITHIN_CENTRAL);
    expect(rounds, `top-k never got within 5% of ${central.validationLoss}; final ${finalLoss(topK)}`).not.toBeNull();
    expect(rounds!).toBeLessThanOrEqual(FEDERATED_SIM.federated.rounds);
    expect(finalLoss(topK)).toBeLessThanOrEqual(central.validationLoss * (1 + WITHIN_CENTRAL));
    // A run that cannot fail is no test: the start is far from the target.
    expect(topK.initialLoss).toBeGreaterThan(10 * central.validationLoss);
  });

  it('ends within 2% of float32 FedAvg', () => {
    expect(Math.abs(lossGap(topK, float32))).toBeLessThan(0.02);
  });

  it('sends at least 4x fewer bytes per client per round than float32 FedAvg', () => {
    expect(topK.rounds.every((r) => r.accepted === 20 && r.updated)).toBe(true);
    expect(bytesRatio(float32, PARAMETERS)).toBe(1);
    expect(bytesRatio(topK, PARAMETERS)).toBeGreaterThanOrEqual(4);
  });
});
