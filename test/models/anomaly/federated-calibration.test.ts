import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderScorer, trainAutoencoderModel, type TrainedModel } from '../../../models/anomaly/autoencoder/model.js';
import { FEDERATED_CALIBRATION_KEY } from '../../../models/anomaly/autoencoder/federated-calibration.js';
import { evidenceScore, normalTailEvidence } from '../../../models/anomaly/math.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { readFloatInitializers, withInitializers } from '../../../models/onnx/initializers.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';

const RATE = 200;
const W = 16;
const CHANNELS = ['vibration', 'temperature', 'current'];

function motorSamples(seconds: number, seed: number, from = 0): Float64Array {
  const sig = new MotorSignals(seed);
  const out = new Float64Array(seconds * RATE * 3);
  for (let i = 0; i < seconds * RATE; i += 1) out.set(sig.sample(from + i, RATE), i * 3);
  return out;
}

/** The same model (same weights) released with `federated.calibration` = `value` (a string is written as is). */
function released(t: TrainedModel, value: unknown): Uint8Array {
  return withInitializers(t.bytes, readFloatInitializers(t.bytes), { [FEDERATED_CALIBRATION_KEY]: typeof value === 'string' ? value : JSON.stringify(value) });
}

describe('the autoencoder scorer with a federated release calibration', () => {
  const backend = new OnnxBackend();
  const scorers: AutoencoderScorer[] = [];
  let trained: TrainedModel;
  const load = async (bytes: Uint8Array): Promise<AutoencoderScorer> => {
    const s = await AutoencoderScorer.load(bytes, backend, { providers: ['cpu'] });
    scorers.push(s);
    return s;
  };

  beforeAll(async () => {
    trained = await trainAutoencoderModel(motorSamples(60, 1), 60 * RATE, { channels: CHANNELS, windowSamples: W, stride: 4, hidden: [16, 4, 16], epochs: 5, batchSize: 64, learningRate: 0.005, seed: 3, heldOut: 0.2 });
  }, 60_000);
  afterAll(async () => {
    for (const s of scorers) await s.close();
  });

  it('scores with federated.calibration over the trained one: a window scores by the pooled fit', async () => {
    const windows = motorSamples(1, 1, 100_000).subarray(0, 4 * W * 3);
    const own = await load(trained.bytes);
    expect(own.calibrationChoice).toEqual({ source: 'trained', calibration: trained.meta.calibration, ignored: null });
    // After rounds lowered the errors, the gateways measured them lower and tighter.
    const pooled = { logMean: trained.meta.calibration.logMean - 2, logStd: trained.meta.calibration.logStd / 2, windows: 120, measuredOnRelease: 4 };
    const fed = await load(released(trained, pooled));
    expect(fed.calibrationChoice).toEqual({ source: 'federated', calibration: { logMean: pooled.logMean, logStd: pooled.logStd }, windows: 120, measuredOnRelease: 4 });
    expect(fed.meta.calibration).toEqual({ logMean: pooled.logMean, logStd: pooled.logStd });
    // The model's own metadata is untouched but for the calibration it scores with.
    expect({ ...fed.meta, calibration: null }).toEqual({ ...trained.meta, calibration: null });
    const before = await own.score(windows, 4);
    const after = await fed.score(windows, 4);
    for (const [k, b] of before.entries()) {
      const a = after[k];
      // Same weights, same error; the score follows the pooled fit.
      expect(a?.meanSquaredError).toBe(b.meanSquaredError);
      const z = (Math.log(b.meanSquaredError + 1e-12) - pooled.logMean) / pooled.logStd;
      expect(a?.score).toBeCloseTo(evidenceScore(normalTailEvidence(z)), 12);
    }
    // The same normal errors are more surprising to a fit of lower errors.
    expect(after.reduce((s, r) => s + r.score, 0)).toBeGreaterThan(before.reduce((s, r) => s + r.score, 0));
  });

  it('ignores an invalid federated.calibration with the reason and scores with the trained one', async () => {
    const good = { logMean: -3, logStd: 0.5, windows: 40, measuredOnRelease: 2 };
    const cases: [unknown, string][] = [
      ['{not json', 'not JSON'],
      [[1, 2], 'not a JSON object'],
      [{ ...good, logMean: null }, 'logMean null'],
      [{ ...good, logStd: 0 }, 'logStd 0: expected a finite number > 0'],
      [{ ...good, logStd: -1 }, 'logStd -1'],
      [{ ...good, windows: 1 }, 'windows 1: expected an integer >= 2'],
      [{ ...good, measuredOnRelease: 'r2' }, 'measuredOnRelease "r2"'],
    ];
    for (const [value, reason] of cases) {
      const s = await load(released(trained, value));
      expect(s.calibrationChoice.source, reason).toBe('trained');
      expect(s.meta.calibration).toEqual(trained.meta.calibration);
      expect(s.calibrationChoice.source === 'trained' ? s.calibrationChoice.ignored : null).toContain(`${FEDERATED_CALIBRATION_KEY}: ${reason}`);
    }
  });
});
