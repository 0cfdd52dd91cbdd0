import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderScorer } from '../../../models/anomaly/autoencoder/model.js';
import { ANOMALY_DEFAULTS } from '../../../models/anomaly/index.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { Mlp } from '../../../models/train/mlp.js';
import { detectionQuality, faultSchedule, faultySamples, newGatewayQuality, windowScores, type NewGatewayQuality } from '../../../sim/federated/anomaly-quality.js';
import { buildDataset, type FederatedDataset } from '../../../sim/federated/dataset.js';
import { federatedModelFile } from '../../../sim/federated/federated-model.js';
import { motorFleet } from '../../../sim/federated/motor-fleet.js';
import { FEDERATED_SIM, NEW_GATEWAY_SCENARIO } from '../../../sim/federated/scenario.js';
import { runFederated } from '../../../sim/federated/simulation.js';

/**
 * Issue 14's test 3. A 21st gateway, with a motor none of the 20 trained on, installs the
 * federated model (40 rounds, top-k int8 updates) and scores from its first second; 12 fault
 * episodes of 15 s (bearing wear, spikes, a stuck sensor in turn, 30 s apart) start at 20 s.
 * Its own model, trained as the stage trains it on its first hour, sets the false-alarm bound.
 * About 25 s on a loaded 2-core machine.
 */
const a = ANOMALY_DEFAULTS.autoencoder;
const options = NEW_GATEWAY_SCENARIO;

describe('a new gateway with the federated model', () => {
  const backend = new OnnxBackend();
  const motor = motorFleet(FEDERATED_SIM.data.gateways + 1, FEDERATED_SIM.data.seed).at(-1)!;
  let data: FederatedDataset;
  let quality: NewGatewayQuality;

  beforeAll(async () => {
    data = buildDataset(FEDERATED_SIM.data);
    const run = await runFederated(data, { ...FEDERATED_SIM.federated, transport: FEDERATED_SIM.topK });
    quality = await newGatewayQuality(federatedModelFile(run.model, data, 1).bytes, motor, backend, options);
  }, 600_000); // CPU-bound and deterministic: the limit is only a safety net (a loaded 2-core box took over 120 s)

  it('is a gateway the federation never saw', () => {
    expect(data.raw.map((g) => g.motor.seed)).not.toContain(motor.seed);
  });

  it('detects at least 90% of the faults from its first minute, within the false-alarm rate its own model reaches after an hour', () => {
    const { federated, local } = quality;
    expect(local.recall, 'the own model after its hour (the baseline)').toBeGreaterThanOrEqual(0.9);
    expect(federated.recall, JSON.stringify(federated.byKind)).toBeGreaterThanOrEqual(0.9);
    expect(federated.normalWindows).toBeGreaterThan(5000);
    expect(federated.falseAlarmRate).toBeLessThanOrEqual(local.falseAlarmRate);
  });

  it('would not: an untrained model calibrated the same way (so this test can fail)', async () => {
    const untrained = await AutoencoderScorer.load(federatedModelFile(new Mlp([96, ...a.hidden, 96], 1), data, 1).bytes, backend, { providers: ['cpu'] });
    const episodes = faultSchedule(options.episodes.kinds, options.episodes.count, { rateHz: options.rateHz, ...options.episodes });
    const { starts, scores } = await windowScores(untrained, faultySamples(motor, options.rateHz, options.seconds, episodes), options.strideSamples);
    await untrained.close();
    expect(detectionQuality(starts, scores, options.windowSamples, episodes, options.threshold).recall).toBeLessThan(0.9);
  });
});
