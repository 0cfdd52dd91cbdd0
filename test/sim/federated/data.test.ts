import { describe, expect, it } from 'vitest';
import { cutWindows } from '../../../models/anomaly/autoencoder/model.js';
import { faultySamples } from '../../../sim/federated/anomaly-quality.js';
import { buildDataset } from '../../../sim/federated/dataset.js';
import { collectGatewayData, collectNormalWindows, poolWindows } from '../../../sim/federated/gateway-data.js';
import { MIXED_MOTOR_RANGES, motorFleet, PLANT_MOTOR_RANGES } from '../../../sim/federated/motor-fleet.js';
import { addMoments, channelMoments, normalisationOf, normalise } from '../../../sim/federated/normalisation.js';

const RATE = 200;
const W = 32;

describe('the fleet of simulated motors', () => {
  it('gives each gateway its own motor, within the ranges, the same for the same seed', () => {
    const fleet = motorFleet(20, 14);
    expect(motorFleet(20, 14)).toEqual(fleet);
    expect(new Set(fleet.map((m) => m.gateway)).size).toBe(20);
    expect(new Set(fleet.map((m) => m.seed)).size).toBe(20);
    for (const m of fleet) {
      for (const [key, range] of Object.entries(PLANT_MOTOR_RANGES)) {
        if (!Array.isArray(range)) continue;
        const value = m.profile[key as keyof typeof m.profile];
        expect(value).toBeGreaterThanOrEqual(range[0] as number);
        expect(value).toBeLessThanOrEqual(range[1] as number);
      }
    }
    // A 21st gateway joins the same 20.
    expect(motorFleet(21, 14).slice(0, 20)).toEqual(fleet);
    expect(motorFleet(40, 1, MIXED_MOTOR_RANGES).some((m) => m.profile.mainsHz === 60)).toBe(true);
    expect(() => motorFleet(0, 1)).toThrow(RangeError);
  });
});

describe('a gateway collecting normal running', () => {
  const motor = motorFleet(1, 5)[0]!;

  it('cuts the windows the anomaly stage cuts: one every half window, as cutWindows does', () => {
    const seconds = 30;
    const all = collectNormalWindows(motor, { rateHz: RATE, windowSamples: W, seconds, capacity: 10_000, seed: 1 });
    const expected = cutWindows(faultySamples(motor, RATE, seconds, []), seconds * RATE, 3, W, W / 2);
    expect(all.count).toBe(expected.count);
    expect(all.data).toEqual(expected.data);
    expect(Array.from(all.positions.slice(0, 3))).toEqual([0, 16, 32]);
  });

  it('keeps a bounded, uniform sample over the whole period, and splits it without leaks', () => {
    const g = collectGatewayData(motor, { rateHz: RATE, windowSamples: W, collectSeconds: 600, keptWindows: 200 });
    const held = [...g.localValidation.starts, ...g.globalValidation.starts];
    expect(g.localValidation.count).toBe(40);
    expect(g.globalValidation.count).toBe(40);
    expect(g.train.count).toBeGreaterThan(110);
    expect(g.train.count).toBeLessThanOrEqual(120);
    // No training window shares a sample with a held-out one.
    for (const s of g.train.starts) for (const h of held) expect(Math.abs(s - h)).toBeGreaterThanOrEqual(W);
    // Every part spans the period (windows start up to 600 s x 200 Hz).
    for (const part of [g.train, g.localValidation, g.globalValidation]) {
      expect(Math.min(...part.starts)).toBeLessThan(0.1 * 600 * RATE);
      expect(Math.max(...part.starts)).toBeGreaterThan(0.9 * 600 * RATE);
    }
  });
});

describe('the fleet data', () => {
  const options = { gateways: 6, seed: 14, rateHz: RATE, windowSamples: W, collectSeconds: 300, keptWindows: 80 };

  it('is not identically distributed: levels and noise differ between gateways', () => {
    const data = buildDataset(options);
    const perGateway = data.raw.map((g) => normalisationOf(channelMoments(g.train, 3)));
    const pooled = data.normalisation;
    // Temperature and current: the gateways' own means lie far apart in units of the pooled spread.
    for (const c of [1, 2]) {
      const means = perGateway.map((n) => n.mean[c]!);
      expect((Math.max(...means) - Math.min(...means)) / pooled.std[c]!).toBeGreaterThan(0.5);
    }
    // Sensor noise: the temperature's sample-to-sample jitter inside a window (its level moves far
    // slower) differs several-fold between gateways.
    const jitter = data.raw.map((g) => {
      let sum = 0;
      let n = 0;
      for (let k = 0; k < g.train.count; k += 1) {
        for (let t = 1; t < W; t += 1) {
          const i = k * g.train.dims + t * 3 + 1;
          sum += (g.train.data[i]! - g.train.data[i - 3]!) ** 2;
          n += 1;
        }
      }
      return Math.sqrt(sum / n / 2);
    });
    expect(Math.max(...jitter) / Math.min(...jitter)).toBeGreaterThan(2);
  });

  it('is standardised with the pooled moments, exactly what a central trainer computes from the pooled windows', () => {
    const data = buildDataset(options);
    const pooled = poolWindows(data.raw.map((g) => g.train));
    const direct = [0, 1, 2].map((c) => {
      const values = Array.from(pooled.data).filter((_, i) => i % 3 === c);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) };
    });
    direct.forEach((d, c) => {
      expect(data.normalisation.mean[c]).toBeCloseTo(d.mean, 9);
      expect(data.normalisation.std[c]! / d.std).toBeCloseTo(1, 9);
    });
    expect(normalisationOf(addMoments(data.raw.map((g) => channelMoments(g.train, 3))))).toEqual(data.normalisation);
    expect(data.pooledTrain.x).toEqual(normalise(pooled, data.normalisation));
    expect(data.pooledTrain.count).toBe(data.gateways.reduce((n, g) => n + g.trainCount, 0));
  });

  it('is the same for the same seed', () => {
    const a = buildDataset(options);
    const b = buildDataset(options);
    expect(b.pooledTrain.x).toEqual(a.pooledTrain.x);
    expect(b.pooledValidation.x).toEqual(a.pooledValidation.x);
    expect(buildDataset({ ...options, seed: 15 }).pooledTrain.x).not.toEqual(a.pooledTrain.x);
  });
});
