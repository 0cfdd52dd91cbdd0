import { describe, expect, it } from 'vitest';
import { AutoencoderScorer } from '../../../models/anomaly/autoencoder/model.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { buildDataset } from '../../../sim/federated/dataset.js';
import { calibrationOf, federatedModelFile, logErrorMoments } from '../../../sim/federated/federated-model.js';
import { runFederated, type FederatedRunOptions } from '../../../sim/federated/simulation.js';

const data = buildDataset({ gateways: 4, seed: 3, rateHz: 200, windowSamples: 32, collectSeconds: 180, keptWindows: 60 });
const options: FederatedRunOptions = { task: 't', rounds: 2, hidden: [32, 8, 32], initSeed: 1, local: { epochs: 1, batchSize: 8, learningRate: 0.005, optimiser: 'adam' }, transport: { type: 'float32' }, aggregation: { strategy: 'fedavg' }, minClients: 2, seed: 1 };

describe('the federated model as a release', () => {
  it('is calibrated on every gateway\'s held-out windows, from sums alone', async () => {
    const { model: m } = await runFederated(data, options);
    const parts = data.gateways.map((g) => logErrorMoments(m, g.localValidation, g.localValidationCount));
    const logs: number[] = [];
    data.gateways.forEach((g) => {
      const out = m.predict(g.localValidation, g.localValidationCount);
      for (let k = 0; k < g.localValidationCount; k += 1) {
        let s = 0;
        for (let i = k * data.dims; i < (k + 1) * data.dims; i += 1) s += (out[i]! - g.localValidation[i]!) ** 2;
        logs.push(Math.log(s / data.dims + 1e-12));
      }
    });
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const std = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / logs.length);
    const c = calibrationOf(parts);
    expect(c.logMean).toBeCloseTo(mean, 9);
    expect(c.logStd).toBeCloseTo(std, 9);
    expect(() => calibrationOf([{ count: 1, sum: 0, sumSquares: 0 }])).toThrow(RangeError);
  });

  it('is an ONNX file the anomaly stage\'s scorer loads and scores as the trained network does', async () => {
    const { model } = await runFederated(data, { ...options, rounds: 1 });
    const { bytes, meta } = federatedModelFile(model, data, 1);
    expect(meta).toMatchObject({ channels: ['vibration', 'temperature', 'current'], windowSamples: 32, mean: data.normalisation.mean, std: data.normalisation.std });
    const scorer = await AutoencoderScorer.load(bytes, new OnnxBackend(), { providers: ['cpu'] });
    try {
      const raw = data.raw[0]!.globalValidation;
      const scores = await scorer.score(raw.data, raw.count);
      const x = Float64Array.from(raw.data, (v, i) => (v - data.normalisation.mean[i % 3]!) / data.normalisation.std[i % 3]!);
      const out = model.predict(x, raw.count);
      scores.forEach((s, k) => {
        let e = 0;
        for (let i = k * 96; i < (k + 1) * 96; i += 1) e += (out[i]! - x[i]!) ** 2;
        expect(s.meanSquaredError / (e / 96)).toBeCloseTo(1, 3);
      });
    } finally {
      await scorer.close();
    }
  });
});
