import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderScorer, trainAutoencoderModel, type TrainedModel } from '../../../models/anomaly/autoencoder/model.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { ANOMALY_DEFAULTS } from '../../../models/anomaly/index.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';

const RATE = 200;
const W = 16;
const CHANNELS = ['vibration', 'temperature', 'current'];

function motorSamples(seconds: number, seed: number, fault?: { kind: 'bearing-wear' | 'spikes' | 'stuck' | 'drift'; atSecond: number }): Float64Array {
  const sig = new MotorSignals(seed);
  const rows = seconds * RATE;
  const out = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i += 1) {
    if (fault !== undefined && i === fault.atSecond * RATE) sig.setFault(fault.kind, true, i);
    out.set(sig.sample(i, RATE), i * 3);
  }
  return out;
}

function windowsOf(samples: Float64Array, fromRow: number, count: number, stride = W): Float64Array {
  const out = new Float64Array(count * W * 3);
  for (let k = 0; k < count; k += 1) out.set(samples.subarray((fromRow + k * stride) * 3, (fromRow + k * stride + W) * 3), k * W * 3);
  return out;
}

describe('the multivariate autoencoder', () => {
  const backend = new OnnxBackend();
  let trained: TrainedModel;
  let scorer: AutoencoderScorer;
  const options = { channels: CHANNELS, windowSamples: W, stride: 4, hidden: [24, 6, 24], epochs: 25, batchSize: 64, learningRate: 0.005, seed: 7, heldOut: 0.2 };

  beforeAll(async () => {
    const normal = motorSamples(120, 1);
    trained = await trainAutoencoderModel(normal, 120 * RATE, options);
    scorer = await AutoencoderScorer.load(trained.bytes, backend, { providers: ['cpu'] });
  }, 120_000);

  it('is trained deterministically from its seed', async () => {
    const again = await trainAutoencoderModel(motorSamples(120, 1), 120 * RATE, options);
    expect(Buffer.from(again.bytes).equals(Buffer.from(trained.bytes))).toBe(true);
    expect(trained.losses[trained.losses.length - 1] as number).toBeLessThan(trained.losses[0] as number);
  }, 120_000);

  it('scores normal data low and faults above every normal window, blaming the right channel', async () => {
    const fresh = motorSamples(60, 2); // normal data it never saw (another seed)
    const normal = await scorer.score(windowsOf(fresh, 0, 200, 40), 200);
    const scores = normal.map((r) => r.score).sort((a, b) => a - b);
    expect(scores[Math.floor(scores.length / 2)] as number).toBeLessThan(0.1);
    expect(scores[Math.floor(scores.length * 0.95)] as number).toBeLessThan(ANOMALY_DEFAULTS.alert.clearThreshold);

    const wear = motorSamples(60, 2, { kind: 'bearing-wear', atSecond: 10 });
    const faulty = await scorer.score(windowsOf(wear, 20 * RATE, 50, 40), 50);
    const median = faulty.map((r) => r.score).sort((a, b) => a - b)[25] as number;
    // Above every normal window (whether above the raise threshold depends on how much normal
    // running it learned from: fault-detection.test.ts checks that with the stage's defaults).
    expect(median).toBeGreaterThan(scores[scores.length - 1] as number);
    const top = faulty.map((r) => Object.entries(r.channels).sort((a, b) => b[1] - a[1])[0]?.[0]);
    expect(top.filter((c) => c === 'vibration').length).toBeGreaterThan(45);
  });

  it('explains every score: contributions per channel and per time step are non-negative and sum to it (property)', async () => {
    const base = motorSamples(10, 3);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 10 * RATE - W - 1 }), fc.integer({ min: 0, max: 2 }), fc.double({ min: -50, max: 50, noNaN: true }), async (row, channel, bump) => {
        const w = windowsOf(base, row, 1);
        w[5 * 3 + channel] = (w[5 * 3 + channel] as number) + bump;
        const [r] = await scorer.score(w, 1);
        if (r === undefined) throw new Error('no result');
        const byChannel = Object.values(r.channels);
        for (const v of [...byChannel, ...r.steps]) expect(v).toBeGreaterThanOrEqual(0);
        expect(byChannel.reduce((a, b) => a + b, 0)).toBeCloseTo(r.score, 9);
        expect(r.steps.reduce((a, b) => a + b, 0)).toBeCloseTo(r.score, 9);
        expect(r.score).toBeGreaterThanOrEqual(0);
        expect(r.score).toBeLessThanOrEqual(1);
      }),
      { numRuns: 100 },
    );
  });

  it('runs the ONNX export through ONNX Runtime with the same numbers as the trainer', async () => {
    expect(scorer.model.inputs[0]?.shape).toEqual(['batch', W * 3]);
    expect(scorer.meta.channels).toEqual(CHANNELS);
    const x = Float32Array.from({ length: 4 * W * 3 }, (_, i) => Math.sin(i / 7));
    const onnx = (await scorer.model.run({ x: { data: x, dims: [4, W * 3] } }))['reconstruction']?.data ?? new Float32Array();
    const js = trained.network.predict(Float64Array.from(x), 4);
    expect(onnx.length).toBe(js.length);
    for (let i = 0; i < js.length; i += 1) expect(Math.abs((onnx[i] as number) - (js[i] as number))).toBeLessThan(1e-4);
  });
});
