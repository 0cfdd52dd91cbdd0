import { describe, expect, it } from 'vitest';
import { AutoencoderScorer } from '../../../models/anomaly/autoencoder/model.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { MOTOR_CHANNELS, MotorSignals } from '../../../sim/mcu/signals.js';
import { FLEET_MODEL_WINDOW, fleetModelTraining, trainFleetModel } from '../../../sim/run/fleet-model.js';

/**
 * The share of windows of a healthy running motor sampled at `rateHz`, from `fromS` to `toS`, that
 * the model scores at or above 0.3 (the alert policy's clear threshold): windows a learning
 * gateway would not keep as normal.
 */
async function abnormalShare(bytes: Uint8Array, rateHz: number, fromS: number, toS: number): Promise<number> {
  const channels = MOTOR_CHANNELS.length;
  const motor = new MotorSignals(4242, {}, { running: true });
  const starts: number[] = [];
  for (let start = fromS * rateHz; start + FLEET_MODEL_WINDOW <= toS * rateHz; start += rateHz / 2) starts.push(start);
  const raw = new Float64Array(starts.length * FLEET_MODEL_WINDOW * channels);
  starts.forEach((start, k) => {
    for (let i = 0; i < FLEET_MODEL_WINDOW; i += 1) raw.set(motor.sample(start + i, rateHz), (k * FLEET_MODEL_WINDOW + i) * channels);
  });
  const scorer = await AutoencoderScorer.load(bytes, new OnnxBackend(), { providers: ['cpu'] });
  try {
    const scores = await scorer.score(raw, starts.length);
    return scores.filter((s) => s.score >= 0.3).length / scores.length;
  } finally {
    await scorer.model.close();
  }
}

describe('the fleet model of a run', () => {
  it('is trained on the run\'s own MCU rates and length: a 50 Hz plant motor late in a 5-minute run looks normal to it', async () => {
    const plant = fleetModelTraining([50, 50, 50], 300_000);
    expect(plant).toEqual({ ratesHz: [50], seconds: 330 });
    expect(fleetModelTraining([], 20_000)).toEqual({ ratesHz: [100], seconds: 120 });
    const forPlant = await trainFleetModel(7, plant);
    const forDefault = await trainFleetModel(7, fleetModelTraining([100, 200], 90_000));
    // Where plant.yaml's learning round meets its motors: 240 s in, sampled at 50 Hz.
    const plantShare = await abnormalShare(forPlant.bytes, 50, 240, 300);
    const defaultShare = await abnormalShare(forDefault.bytes, 50, 240, 300);
    expect(plantShare).toBeLessThan(0.1);
    expect(defaultShare).toBeGreaterThan(0.5);
  }, 60_000);
});
