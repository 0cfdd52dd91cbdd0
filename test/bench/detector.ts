import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AnomalyStage } from '../../models/anomaly/anomaly-stage.js';
import { ANOMALY_DEFAULTS } from '../../models/anomaly/index.js';
import { StreamingDetector } from '../../models/anomaly/streaming/detector.js';
import { EventLog } from '../../runtime/health/events.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { MotorSignals } from '../../sim/mcu/signals.js';
import { finish, median, progress } from './report.js';
import { defaultBackend } from '../support/inference-backend.js';

/**
 * `npm run bench -- detector`: points per second per channel through the streaming anomaly
 * detector on one core, against the cheapest streaming detector there is (an EWMA mean and
 * variance and a z-score) on the same points, in alternating rounds. Also measured in the same
 * run: the anomaly stage (three channels, explanation, smoothing, alert policy) in points/s
 * per channel. Signals: the simulated motor at 200 Hz (vibration, temperature, current).
 */
const RATE = 200;
const POINTS = 600_000; // per channel and round: 50 minutes of the motor
const ROUNDS = 5;
const T0 = Date.UTC(2026, 10, 24);

function motor(): Float64Array[] {
  const sig = new MotorSignals(1);
  const channels = [new Float64Array(POINTS), new Float64Array(POINTS), new Float64Array(POINTS)];
  for (let n = 0; n < POINTS; n += 1) sig.sample(n, RATE).forEach((v, c) => ((channels[c] as Float64Array)[n] = v));
  return channels;
}

/** The baseline: exponentially weighted mean and variance, score = |z| squashed to [0, 1]. */
class EwmaZScore {
  private mean = 0;
  private variance = 1;
  private n = 0;
  update(x: number): number {
    const alpha = Math.max(0.001, 1 / (this.n + 1));
    this.n += 1;
    const d = x - this.mean;
    const z = Math.abs(d) / Math.sqrt(this.variance + 1e-12);
    this.mean += alpha * d;
    this.variance = (1 - alpha) * (this.variance + alpha * d * d);
    return z / (z + 3);
  }
}

function timeDetector(channels: readonly Float64Array[], make: () => { update(x: number, ts: number): number }): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (const values of channels) {
    const d = make();
    for (let n = 0; n < values.length; n += 1) sink += d.update(values[n] as number, T0 + n * 5);
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (Number.isNaN(sink)) throw new Error('detector produced NaN');
  return (channels.length * POINTS) / s;
}

function records(channels: readonly Float64Array[]): RecordInput[] {
  const out: RecordInput[] = [];
  const per = 20;
  const names = ['vibration', 'temperature', 'current'];
  for (let n = 0; n < POINTS; n += per) {
    const values = Object.fromEntries(names.map((c, i) => [c, Array.from((channels[i] as Float64Array).subarray(n, n + per))]));
    out.push({ stream: 'motor', class: 'telemetry', ts: T0 + n * 5, data: { n, rateHz: RATE, values, units: { vibration: 'g', temperature: 'degC', current: 'A' } } });
  }
  return out;
}

async function timeStage(input: readonly RecordInput[]): Promise<number> {
  const stage = new AnomalyStage(
    { detector: 'streaming', smoothingMs: ANOMALY_DEFAULTS.alert.smoothingMs, channels: undefined, modelName: undefined, modelVersion: undefined, alert: { ...ANOMALY_DEFAULTS.alert }, scoreEveryMs: 0, autoencoder: { ...ANOMALY_DEFAULTS.autoencoder }, backend: defaultBackend() },
    '/tmp/edgewise-bench-no-state',
    { append: async () => undefined },
    new EventLog(pino({ level: 'silent' }), new Registry()).for('bench'),
  );
  const start = process.hrtime.bigint();
  for (let i = 0; i < input.length; i += 50) await stage.process(input.slice(i, i + 50));
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  await stage.stop();
  return POINTS / s; // per channel: each record carries all three
}

export async function benchDetector(): Promise<void> {
  progress(`generating ${POINTS} points x 3 channels of the simulated motor`);
  const channels = motor();
  const input = records(channels);
  const ours: number[] = [];
  const base: number[] = [];
  const stage: number[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    base.push(timeDetector(channels, () => new EwmaZScore()));
    ours.push(timeDetector(channels, () => new StreamingDetector({ suppress: false })));
    stage.push(await timeStage(input));
    progress(`round ${round}/${ROUNDS}: detector ${Math.round(ours[ours.length - 1] as number)} points/s, EWMA z-score ${Math.round(base[base.length - 1] as number)}, stage ${Math.round(stage[stage.length - 1] as number)} points/s per channel`);
  }
  finish('detector', median(ours), median(base), 'points/s', { stage_points_per_s_per_channel: Math.round(median(stage)) });
}
