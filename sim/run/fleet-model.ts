import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gaussian, seededRandom } from '../../devices/synthetic/signals.js';
import { cutWindows, trainAutoencoderOnWindows } from '../../models/anomaly/autoencoder/model.js';
import { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import { MOTOR_CHANNELS, MotorSignals } from '../mcu/signals.js';
import type { SimRepo } from './sim-repo.js';

/**
 * The fleet's model in a run: an autoencoder of the simulated motor that the MCU gateways run
 * from the fleet's signed releases (`anomaly` stage, `autoencoder.managed`), which rollouts
 * deliver and a learning round retrains. Its alerts are not the ones the run is scored on (the
 * streaming detector's are): collect.ts leaves out alerts whose `model.name` is FLEET_MODEL.
 */
export const FLEET_MODEL = 'motor-ae';
/** Samples per window (x 3 channels): short, so the model is small and each window is cheap to score. */
export const FLEET_MODEL_WINDOW = 16;
const STRIDE = 8;
/**
 * What the model is trained on: normal running at each MCU rate of the run, for as long as the
 * run's motors run and more (at least 120 s), so the loads and temperatures its learning round
 * meets are ones it has seen. Trained on 40 s, it scored most windows past 40 s above its clear
 * threshold and the round's gateways kept 0 to 11 normal windows; trained on 100 and 200 Hz
 * only, plant.yaml's 50 Hz motors kept none either (4 of 20 answered its round).
 */
export interface FleetModelTraining {
  readonly ratesHz: readonly number[];
  readonly seconds: number;
}

/** The training for a scenario: its MCU rates (100 Hz when it has none) and its duration plus 30 s, at least 120 s. */
export function fleetModelTraining(rates: readonly number[], durationMs: number): FleetModelTraining {
  const ratesHz = [...new Set(rates)].sort((a, b) => a - b);
  return { ratesHz: ratesHz.length === 0 ? [100] : ratesHz, seconds: Math.max(120, Math.ceil(durationMs / 1000) + 30) };
}

/**
 * The stage the MCU gateways' `motor` pipeline gets after its streaming detector: it scores
 * with the active release of FLEET_MODEL and waits (degraded) while there is none. Records pass
 * through it untouched, so the streaming stage before it sees and alerts exactly as without it.
 * Its alerts and decisions carry `model.name` FLEET_MODEL (without `model`, a managed stage
 * would name them `autoencoder-<stream>`), which is how `fromFleetModel` tells them apart.
 */
export const FLEET_MODEL_STAGE = `      - { type: anomaly, detector: autoencoder, model: { name: ${FLEET_MODEL} }, alert: { minDurationMs: 2000, smoothingMs: 3000, cooldownMs: 10000 }, autoencoder: { managed: ${FLEET_MODEL}, windowSamples: ${FLEET_MODEL_WINDOW}, strideSamples: ${STRIDE} } }`;

/** True when an alert record's data comes from the fleet model's stage (not scored as an anomaly alert). */
export function fromFleetModel(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const model = (data as { model?: unknown }).model;
  return typeof model === 'object' && model !== null && (model as { name?: unknown }).name === FLEET_MODEL;
}

export interface TrainedFleetModel {
  readonly bytes: Uint8Array;
  readonly goldenIn: Float32Array;
  readonly goldenOut: Float32Array;
}

/**
 * Trains the fleet model on normal running of the simulator's motor at the run's MCU rates (the
 * MCUs' own signal code, offline), deterministically from the seed, and computes its golden
 * output with ONNX Runtime on a seeded input: what the fleet signs and each gateway repeats.
 */
export async function trainFleetModel(seed: number, training: FleetModelTraining = fleetModelTraining([100, 200], 90_000)): Promise<TrainedFleetModel> {
  const channels = MOTOR_CHANNELS.length;
  const parts: Float64Array[] = [];
  let count = 0;
  for (const [k, rate] of training.ratesHz.entries()) {
    // Running before sampling starts, as the run's MCUs are (sim-gateway.ts: runningMotor): a model of a
    // cold motor sees their warm winding as an anomaly and keeps no normal window to learn from.
    const motor = new MotorSignals((seed * 31 + k) % 2 ** 32, {}, { running: true });
    const rows = training.seconds * rate;
    const samples = new Float64Array(rows * channels);
    for (let i = 0; i < rows; i += 1) samples.set(motor.sample(i, rate), i * channels);
    const w = cutWindows(samples, rows, channels, FLEET_MODEL_WINDOW, STRIDE);
    parts.push(w.data);
    count += w.count;
  }
  const windows = new Float64Array(count * FLEET_MODEL_WINDOW * channels);
  let at = 0;
  for (const p of parts) {
    windows.set(p, at);
    at += p.length;
  }
  // Every 5th window held out, spread over the rates (positions: far apart between the rates, so none overlaps).
  const positions = new Float64Array(count);
  let k = 0;
  parts.forEach((p, r) => {
    for (let i = 0; i < p.length / (FLEET_MODEL_WINDOW * channels); i += 1) positions[k++] = r * 1e9 + i * STRIDE;
  });
  const { bytes } = await trainAutoencoderOnWindows(windows, count, { channels: MOTOR_CHANNELS.map((c) => c.name), windowSamples: FLEET_MODEL_WINDOW, hidden: [16, 4, 16], epochs: 5, batchSize: 64, learningRate: 0.005, seed, heldOut: 0.2, positions });
  const random = seededRandom(seed);
  const goldenIn = Float32Array.from({ length: FLEET_MODEL_WINDOW * channels }, () => gaussian(random));
  const model = await new OnnxBackend().load(bytes, { providers: ['cpu'] });
  try {
    const out = (await model.run({ x: { data: goldenIn, dims: [1, goldenIn.length] } }))['reconstruction'];
    if (out === undefined) throw new Error('the fleet model has no output "reconstruction"');
    return { bytes, goldenIn, goldenOut: Float32Array.from(out.data as ArrayLike<number>) };
  } finally {
    await model.close();
  }
}

/** How long a release is on probation after it activates: the bake time of each wave (the driver judges a wave after it). */
export const PROBATION_S = 2;

/**
 * Publishes release `release` of the fleet model to the run's repository. A `broken` release
 * carries the same model with a golden output it does not give (every value off by 0.5, as a
 * broken export or a wrong build would): each gateway's health check refuses it before
 * activating, and the rollout's failure gate stops it. Returns the model's target path.
 */
export async function publishFleetModel(repo: SimRepo, m: TrainedFleetModel, release: number, broken: boolean): Promise<string> {
  const d = await repo.inputDir();
  const out = broken ? m.goldenOut.map((v) => v + 0.5) : m.goldenOut;
  await writeFile(join(d, 'model.onnx'), m.bytes);
  await writeFile(join(d, 'golden-input.bin'), new Uint8Array(m.goldenIn.buffer, m.goldenIn.byteOffset, m.goldenIn.byteLength));
  await writeFile(join(d, 'golden-output.bin'), new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  return repo.publishModel({
    model: join(d, 'model.onnx'),
    goldenInput: join(d, 'golden-input.bin'),
    goldenOutput: join(d, 'golden-output.bin'),
    release: {
      model: FLEET_MODEL,
      release,
      version: `sim ${release}${broken ? ' (broken)' : ''}`,
      hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] },
      minRuntimeVersion: '0.0.1',
      golden: { inputName: 'x', dims: [1, m.goldenIn.length], outputName: 'reconstruction', tolerance: '0.001' },
      budgets: { latencyMs: 5000, errorRatePpm: 10_000, probationS: PROBATION_S },
    },
  });
}
