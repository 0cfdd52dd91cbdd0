import { pino } from 'pino';
import { Registry } from 'prom-client';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnomalyStageOptions } from '../../../models/anomaly/anomaly-stage.js';
import { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { ANOMALY_DEFAULTS } from '../../../models/anomaly/index.js';
import { EventLog } from '../../../runtime/health/events.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { waitFor } from '../../support/wait-for.js';
import { FAULT_KINDS, MOTOR_CHANNELS, MotorSignals, type FaultKind } from '../../../sim/mcu/signals.js';
import { defaultBackend } from '../../support/inference-backend.js';

const RATE = 200;
const PER_RECORD = 20;
const T0 = Date.UTC(2026, 10, 24);

/** Records of the simulated motor, as the serial sensor would store them. */
function* motorRecords(seconds: number, seed: number, fault?: { kind: FaultKind; atSecond: number }): Generator<RecordInput> {
  const sig = new MotorSignals(seed);
  const units = Object.fromEntries(MOTOR_CHANNELS.map((c) => [c.name, c.unit]));
  for (let n = 0; n < seconds * RATE; n += PER_RECORD) {
    const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
    for (let k = 0; k < PER_RECORD; k += 1) {
      if (fault !== undefined && n + k === fault.atSecond * RATE) sig.setFault(fault.kind, true, n + k);
      const [v, t, c] = sig.sample(n + k, RATE) as [number, number, number];
      values['vibration']?.push(v);
      values['temperature']?.push(t);
      values['current']?.push(c);
    }
    yield { stream: 'motor-1', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { n, rateHz: RATE, values, units } };
  }
}

type Settings = AnomalyStageOptions['autoencoder'];

function stage(detector: 'streaming' | 'autoencoder', decisions: DecisionEntry[], stateDir = '/tmp/edgewise-test-no-state', autoencoder: Partial<Settings> = {}): AnomalyStage {
  return new AnomalyStage(
    { detector, smoothingMs: ANOMALY_DEFAULTS.alert.smoothingMs, channels: undefined, modelName: undefined, modelVersion: undefined, alert: { ...ANOMALY_DEFAULTS.alert }, scoreEveryMs: 0, autoencoder: { ...ANOMALY_DEFAULTS.autoencoder, ...autoencoder }, backend: defaultBackend() },
    stateDir,
    { append: async (e) => void decisions.push(e) },
    new EventLog(pino({ level: 'silent' }), new Registry()).for('test'),
  );
}

interface Run {
  alerts: RecordInput[];
  decisions: DecisionEntry[];
}

async function run(make: (decisions: DecisionEntry[]) => AnomalyStage, seconds: number, fault?: { kind: FaultKind; atSecond: number }, seed = 1): Promise<Run> {
  const decisions: DecisionEntry[] = [];
  const s = make(decisions);
  const alerts: RecordInput[] = [];
  let first = true;
  for (const r of motorRecords(seconds, seed, fault)) {
    for (const out of await s.process([r])) if (out.class === 'alert') alerts.push(out);
    // An autoencoder stage loads its saved model when it sees the stream's first record.
    if (first) await waitFor(() => s.stats()['phase'] === 'scoring', 'the stage to score', 30_000);
    first = false;
  }
  alerts.push(...(await s.flush()));
  await s.stop();
  return { alerts, decisions };
}

interface RaisedAlert {
  start: number;
  channels: string[];
  explanation: Record<string, { contribution: number; unit: string }>;
  span?: { start: number; end: number };
  model: { name: string; hash: string };
}

/** The first raised alert, checked against when and where the fault was injected. */
function expectCaught(r: Run, kind: FaultKind, atSecond: number, maxDelayS: number, channels: readonly string[]): RaisedAlert {
  const raised = r.alerts.find((a) => (a.data as { state: string }).state === 'raised');
  expect(raised, 'an alert').toBeDefined();
  const d = raised?.data as RaisedAlert;
  const delayS = (d.start - (T0 + atSecond * 1000)) / 1000;
  expect(delayS, `${kind}: delay`).toBeGreaterThanOrEqual(0);
  expect(delayS, `${kind}: delay`).toBeLessThanOrEqual(maxDelayS);
  expect(d.channels.some((c) => channels.includes(c)), `${kind}: blamed ${d.channels.join(', ')}`).toBe(true);
  expect(d.model.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(r.decisions.find((x) => x.kind === 'alert')?.model).toEqual(d.model);
  return d;
}

const EXPECTED_CHANNEL: Record<FaultKind, string[]> = { 'bearing-wear': ['vibration'], spikes: ['vibration', 'current'], stuck: ['vibration', 'temperature', 'current'], drift: ['temperature'] };
const MAX_DELAY_S: Record<FaultKind, number> = { 'bearing-wear': 10, spikes: 30, stuck: 10, drift: 15 * 60 };
/** A drift is judged against the band the channel kept before it: it starts after an hour of normal running. */
const FAULT_AT_S: Record<FaultKind, number> = { 'bearing-wear': 5 * 60, spikes: 5 * 60, stuck: 5 * 60, drift: 60 * 60 };

describe('streaming detector on the simulated motor', () => {
  const streaming = (d: DecisionEntry[]): AnomalyStage => stage('streaming', d);

  it('raises no alert in 90 minutes without a fault', async () => {
    const { alerts } = await run(streaming, 90 * 60);
    expect(alerts).toEqual([]);
  }, 120_000);

  for (const kind of FAULT_KINDS) {
    it(`catches ${kind} within ${MAX_DELAY_S[kind]} s, on the right channel, and logs the decision`, async () => {
      const at = FAULT_AT_S[kind];
      expectCaught(await run(streaming, at + MAX_DELAY_S[kind] + 30, { kind, atSecond: at }), kind, at, MAX_DELAY_S[kind], EXPECTED_CHANNEL[kind]);
    }, 120_000);
  }
});

/** The autoencoder learns from the first half hour (the motor warms up in it) and is then saved. */
const AE_TRAIN_MS = 30 * 60_000;
/** What the autoencoder is for: faults in the shape of the signals, seen across channels. */
const AE_FAULTS: readonly FaultKind[] = ['bearing-wear', 'spikes', 'stuck'];

describe('autoencoder on the simulated motor', () => {
  let stateDir: string;
  let trainedHash: string;
  const autoencoder = (d: DecisionEntry[]): AnomalyStage => stage('autoencoder', d, stateDir, { trainMs: AE_TRAIN_MS });

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgewise-ae-'));
    const s = autoencoder([]);
    let first = true;
    for (const r of motorRecords(AE_TRAIN_MS / 1000 + 1, 1)) {
      await s.process([r]);
      // It looks for a saved model first; there is none, so it learns.
      if (first) await waitFor(() => s.stats()['phase'] === 'collecting', 'the stage to collect');
      first = false;
    }
    expect(s.stats()['phase']).not.toBe('collecting');
    await waitFor(() => {
      if (s.stats()['phase'] === 'failed') throw new Error(`training failed: ${String(s.stats()['trainingError'])}`);
      return s.stats()['phase'] === 'scoring';
    }, 'training to finish', 60_000);
    trainedHash = s.stats()['modelHash'] as string;
    await s.stop();
  }, 120_000);

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('keeps its trained model across a restart instead of retraining', async () => {
    expect(await readdir(stateDir)).toEqual(['motor-1.onnx']);
    const s = autoencoder([]);
    await s.process([motorRecords(1, 2).next().value as RecordInput]);
    await waitFor(() => s.stats()['phase'] === 'scoring', 'the saved model to load');
    expect(s.stats()['modelHash']).toBe(trainedHash);
    expect(s.stats()['provider']).toBe('cpu');
    await s.stop();
  });

  it('raises no alert in 60 minutes without a fault (another motor, from a cold start)', async () => {
    const { alerts } = await run(autoencoder, 60 * 60, undefined, 3);
    expect(alerts).toEqual([]);
  }, 120_000);

  for (const kind of AE_FAULTS) {
    it(`catches ${kind} within ${MAX_DELAY_S[kind]} s and names the channel and the time span`, async () => {
      const at = FAULT_AT_S[kind];
      const d = expectCaught(await run(autoencoder, at + MAX_DELAY_S[kind] + 30, { kind, atSecond: at }, 2), kind, at, MAX_DELAY_S[kind], EXPECTED_CHANNEL[kind]);
      expect(d.model.hash).toBe(trainedHash);
      expect(d.span, 'the window span that carries the error').toBeDefined();
      expect((d.span as { end: number }).end - (d.span as { start: number }).start).toBeLessThan((ANOMALY_DEFAULTS.autoencoder.windowSamples * 1000) / RATE);
      expect(d.explanation['vibration']?.unit).toBe('g');
    }, 120_000);
  }
});
