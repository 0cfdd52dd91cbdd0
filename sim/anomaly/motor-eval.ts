import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { onnxruntimeBackend } from '../../models/engine/backends/onnxruntime/index.js';
import type { InferenceBackend } from '../../models/engine/engine.js';
import { AnomalyStage } from '../../models/anomaly/anomaly-stage.js';
import { ANOMALY_DEFAULTS } from '../../models/anomaly/index.js';
import { EventLog } from '../../runtime/health/events.js';
import { LazyBackend } from '../../runtime/inference/lazy-backend.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { MOTOR_CHANNELS, MotorSignals, type FaultKind, type MotorProfile } from '../mcu/signals.js';

/**
 * Runs the anomaly stage (either detector) over the simulated motor, as
 * test/models/anomaly/fault-detection.test.ts does, and measures instead of asserting: false
 * alerts in normal running, and for each fault whether, how fast and on which channel it is
 * caught. The constants below are the test's.
 */
export type Detector = 'streaming' | 'autoencoder';

const RATE_HZ = 200;
const PER_RECORD = 20;
const T0 = Date.UTC(2026, 10, 24);
const STREAM = 'motor-1';

export const EXPECTED_CHANNEL: Record<FaultKind, readonly string[]> = { 'bearing-wear': ['vibration'], spikes: ['vibration', 'current'], stuck: ['vibration', 'temperature', 'current'], drift: ['temperature'] };
export const MAX_DELAY_S: Record<FaultKind, number> = { 'bearing-wear': 10, spikes: 30, stuck: 10, drift: 15 * 60 };
/** A drift is judged against the band the channel kept before it: it starts after an hour of normal running. */
export const FAULT_AT_S: Record<FaultKind, number> = { 'bearing-wear': 5 * 60, spikes: 5 * 60, stuck: 5 * 60, drift: 60 * 60 };

/**
 * The load change: the motor moves to a lighter operating point (mean load 0.7 -> 0.45 of
 * full, the ten-minute cycle goes on). MotorSignals fixes its profile at construction, so the
 * motor after the change is a second MotorSignals already running at the new point: current
 * steps by 2 A, as it would, but the winding temperature steps by 10 degC at once where a real
 * winding would take ~5 minutes (a harsher change than the plant's).
 */
export const LOAD_CHANGE = { atS: 20 * 60, afterS: 40 * 60, profile: { loadMean: 0.45 } satisfies Partial<MotorProfile> };
/** The autoencoder learns from another day of the same motor (another noise draw): no evaluated minute is one it was trained on. */
const TRAIN_SEED_OFFSET = 1000;

interface Scenario {
  readonly seconds: number;
  readonly seed: number;
  readonly fault?: { readonly kind: FaultKind; readonly atS: number };
  readonly load?: { readonly atS: number; readonly profile: Partial<MotorProfile> };
}

/** Records of the simulated motor, as the serial sensor would store them. */
function* motorRecords(sc: Scenario): Generator<RecordInput> {
  let sig = new MotorSignals(sc.seed);
  const units = Object.fromEntries(MOTOR_CHANNELS.map((c) => [c.name, c.unit]));
  for (let n = 0; n < sc.seconds * RATE_HZ; n += PER_RECORD) {
    const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
    for (let k = 0; k < PER_RECORD; k += 1) {
      if (sc.fault !== undefined && n + k === sc.fault.atS * RATE_HZ) sig.setFault(sc.fault.kind, true, n + k);
      if (sc.load !== undefined && n + k === sc.load.atS * RATE_HZ) sig = new MotorSignals(sc.seed, sc.load.profile, { running: true });
      const [v, t, c] = sig.sample(n + k, RATE_HZ) as [number, number, number];
      values['vibration']?.push(v);
      values['temperature']?.push(t);
      values['current']?.push(c);
    }
    yield { stream: STREAM, class: 'telemetry', ts: T0 + (n * 1000) / RATE_HZ, data: { n, rateHz: RATE_HZ, values, units } };
  }
}

/** The backend a gateway without an `inference` section builds (ONNX Runtime on cpu). */
function defaultBackend(): InferenceBackend {
  const section = onnxruntimeBackend.validate({ backend: 'onnxruntime' });
  if (section.error !== undefined) throw new Error('the onnxruntime backend refuses its own default section');
  return new LazyBackend(onnxruntimeBackend, section.value);
}

function stage(detector: Detector, stateDir: string, scoreEveryMs = 0): AnomalyStage {
  return new AnomalyStage(
    { detector, smoothingMs: ANOMALY_DEFAULTS.alert.smoothingMs, channels: undefined, modelName: undefined, modelVersion: undefined, alert: { ...ANOMALY_DEFAULTS.alert }, scoreEveryMs, autoencoder: { ...ANOMALY_DEFAULTS.autoencoder }, backend: defaultBackend() },
    stateDir,
    { append: async () => undefined },
    new EventLog(pino({ level: 'silent' }), new Registry()).for('motor-eval'),
  );
}

async function phase(s: AnomalyStage, want: (p: unknown) => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!want(s.stats()['phase'])) {
    if (s.stats()['phase'] === 'failed') throw new Error(`motor-eval: autoencoder training failed: ${String(s.stats()['trainingError'])}`);
    if (Date.now() > deadline) throw new Error(`motor-eval: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** An alert as it left the stage, with the time of the last sample of the record whose processing emitted it. */
export interface SeenAlert {
  readonly state: 'raised' | 'reopened' | 'cleared';
  readonly emittedTs: number;
  readonly start: number;
  readonly peakScore: number;
  readonly channels: readonly string[];
}

/** Score results every this-many ms in fault runs: when the score first reaches raiseThreshold, whatever the alert policy's state. */
const RESULT_EVERY_MS = 100;

/**
 * The alerts of one run, whether one was still open when the run ended (the flush closed it),
 * and (with scoreEveryMs) the start of each score interval whose peak reached raiseThreshold.
 */
async function runStage(detector: Detector, stateDir: string, sc: Scenario, scoreEveryMs = 0): Promise<{ seen: SeenAlert[]; openAtEnd: boolean; high: number[] }> {
  const s = stage(detector, stateDir, scoreEveryMs);
  const seen: SeenAlert[] = [];
  const high: number[] = [];
  const keep = (out: readonly RecordInput[], ts: number): void => {
    for (const o of out) {
      if (o.class === 'result' && (o.data as { peakScore: number }).peakScore >= ANOMALY_DEFAULTS.alert.raiseThreshold) high.push(o.ts);
      if (o.class !== 'alert') continue;
      const d = o.data as { state: SeenAlert['state']; start: number; peakScore: number; channels: string[] };
      seen.push({ state: d.state, emittedTs: ts, start: d.start, peakScore: d.peakScore, channels: d.channels });
    }
  };
  let first = true;
  let lastTs = T0;
  for (const r of motorRecords(sc)) {
    // An alert leaves with the record whose processing raised it: the plant sees it once that record's last sample is in.
    lastTs = r.ts + ((PER_RECORD - 1) * 1000) / RATE_HZ;
    keep(await s.process([r]), lastTs);
    // An autoencoder stage loads its saved model when it sees the stream's first record.
    if (first) await phase(s, (p) => p === 'scoring', 'the stage to score', 30_000);
    first = false;
  }
  const closed = await s.flush();
  keep(closed, lastTs);
  await s.stop();
  return { seen, openAtEnd: closed.some((o) => o.class === 'alert'), high };
}

/** The autoencoder as configured by default: it learns from the first trainMs of normal running and saves the model in stateDir. */
async function trainAutoencoder(stateDir: string, seed: number): Promise<void> {
  const s = stage('autoencoder', stateDir);
  let first = true;
  for (const r of motorRecords({ seconds: ANOMALY_DEFAULTS.autoencoder.trainMs / 1000 + 1, seed })) {
    await s.process([r]);
    // It looks for a saved model first; there is none, so it collects.
    if (first) await phase(s, (p) => p === 'collecting', 'the stage to collect', 30_000);
    first = false;
  }
  await phase(s, (p) => p === 'scoring', 'training to finish', 120_000);
  await s.stop();
}

export interface NormalResult {
  readonly detector: Detector;
  readonly seed: number;
  readonly hours: number;
  /** Alerts raised or reopened. */
  readonly alerts: number;
  /** When each of them left the stage (minutes into the run). */
  readonly atMinutes: readonly number[];
}

export interface FaultResult {
  readonly detector: Detector;
  readonly seed: number;
  readonly kind: FaultKind;
  /** An alert was raised (or reopened) within MAX_DELAY_S of the injection. */
  readonly caught: boolean;
  /** From the injection to the sample time at which the first alert after it left the stage (null: none in the run). */
  readonly delayS: number | null;
  /**
   * How that alert came: raised, or reopened (an alert that ended less than cooldownMs before
   * comes back at once, without minDurationMs: its delay is not the detector's).
   */
  readonly how: 'raised' | 'reopened' | null;
  /** From the injection to the first score at raiseThreshold (the detector's own delay, before smoothing and minDurationMs). */
  readonly scoreDelayS: number | null;
  readonly channels: readonly string[];
  readonly rightChannel: boolean;
  /** The highest peak score of the alerts after the injection. */
  readonly peakScore: number | null;
  /** Alerts raised before the fault was injected. */
  readonly alertsBefore: number;
}

export interface LoadResult {
  readonly detector: Detector;
  readonly seed: number;
  /** Alerts raised or reopened after the change. */
  readonly alerts: number;
  /** Alerts before the change. */
  readonly alertsBefore: number;
  /** Seconds with an alert open after the change. */
  readonly alertS: number;
  /** An alert was still open when the run ended (LOAD_CHANGE.afterS after the change). */
  readonly openAtEnd: boolean;
}

/** Seconds with an alert open after `from` (an alert left open is closed by the run's flush). */
function alertSeconds(seen: readonly SeenAlert[], from: number): number {
  let seconds = 0;
  let openSince: number | undefined;
  for (const a of seen) {
    if (a.state !== 'cleared') openSince ??= a.emittedTs;
    else if (openSince !== undefined) {
      seconds += Math.max(0, Math.max(a.emittedTs, from) - Math.max(openSince, from)) / 1000;
      openSince = undefined;
    }
  }
  return seconds;
}

export interface MotorEvalOptions {
  readonly seeds: readonly number[];
  readonly minutesNormal: number;
  readonly detectors: readonly Detector[];
  readonly faults: readonly FaultKind[];
  readonly loadChange: boolean;
  readonly progress?: (line: string) => void;
}

export interface MotorEvalResults {
  readonly normal: NormalResult[];
  readonly faults: FaultResult[];
  readonly load: LoadResult[];
}

export async function evaluateMotor(o: MotorEvalOptions): Promise<MotorEvalResults> {
  const results: MotorEvalResults = { normal: [], faults: [], load: [] };
  const say = o.progress ?? (() => undefined);
  for (const detector of o.detectors) {
    for (const seed of o.seeds) {
      const stateDir = await mkdtemp(join(tmpdir(), 'edgewise-motor-eval-'));
      try {
        let t = performance.now();
        const took = (): string => {
          const s = ((performance.now() - t) / 1000).toFixed(1);
          t = performance.now();
          return `${s} s`;
        };
        if (detector === 'autoencoder') {
          await trainAutoencoder(stateDir, seed + TRAIN_SEED_OFFSET);
          say(`${detector} seed ${seed}: trained on ${ANOMALY_DEFAULTS.autoencoder.trainMs / 60_000} min of motor ${seed + TRAIN_SEED_OFFSET} (${took()})`);
        }
        if (o.minutesNormal > 0) {
          const { seen } = await runStage(detector, stateDir, { seconds: o.minutesNormal * 60, seed });
          const atMinutes = seen.filter((a) => a.state !== 'cleared').map((a) => Math.round((a.emittedTs - T0) / 6000) / 10);
          results.normal.push({ detector, seed, hours: o.minutesNormal / 60, alerts: atMinutes.length, atMinutes });
          say(`${detector} seed ${seed}: ${o.minutesNormal} min normal: ${atMinutes.length} alerts${atMinutes.length === 0 ? '' : ` (at minute ${atMinutes.join(', ')})`} (${took()})`);
        }
        for (const kind of o.faults) {
          const atS = FAULT_AT_S[kind];
          const injected = T0 + atS * 1000;
          const { seen, high } = await runStage(detector, stateDir, { seconds: atS + MAX_DELAY_S[kind] + 30, seed, fault: { kind, atS } }, RESULT_EVERY_MS);
          const firstHigh = high.find((ts) => ts >= injected);
          const after = seen.filter((a) => a.emittedTs >= injected);
          const raised = after.find((a) => a.state !== 'cleared');
          const delayS = raised === undefined ? null : (raised.emittedTs - injected) / 1000;
          const peaks = after.map((a) => a.peakScore);
          const r: FaultResult = {
            detector,
            seed,
            kind,
            caught: delayS !== null && delayS <= MAX_DELAY_S[kind],
            delayS,
            how: raised === undefined ? null : raised.state === 'reopened' ? 'reopened' : 'raised',
            scoreDelayS: firstHigh === undefined ? null : (firstHigh - injected) / 1000,
            channels: raised?.channels ?? [],
            rightChannel: raised?.channels.some((c) => EXPECTED_CHANNEL[kind].includes(c)) ?? false,
            peakScore: peaks.length === 0 ? null : Math.max(...peaks),
            alertsBefore: seen.filter((a) => a.emittedTs < injected && a.state !== 'cleared').length,
          };
          results.faults.push(r);
          const before = r.alertsBefore === 0 ? '' : `, ${r.alertsBefore} alerts before it`;
          say(`${detector} seed ${seed}: ${kind}: ${r.caught ? 'caught' : delayS === null ? 'missed' : 'late'}${delayS === null ? '' : ` (${r.how}) after ${delayS.toFixed(1)} s on ${r.channels.join('+')}`}, score at threshold after ${r.scoreDelayS?.toFixed(1) ?? '-'} s${before} (${took()})`);
        }
        if (o.loadChange) {
          const at = T0 + LOAD_CHANGE.atS * 1000;
          const { seen, openAtEnd } = await runStage(detector, stateDir, { seconds: LOAD_CHANGE.atS + LOAD_CHANGE.afterS, seed, load: { atS: LOAD_CHANGE.atS, profile: LOAD_CHANGE.profile } });
          const raised = seen.filter((a) => a.state !== 'cleared');
          const r: LoadResult = { detector, seed, alerts: raised.filter((a) => a.emittedTs >= at).length, alertsBefore: raised.filter((a) => a.emittedTs < at).length, alertS: alertSeconds(seen, at), openAtEnd };
          results.load.push(r);
          say(`${detector} seed ${seed}: load change: ${r.alerts} alerts after it, ${Math.round(r.alertS)} s alerting${openAtEnd ? ', open at the end' : ''} (${took()})`);
        }
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    }
  }
  return results;
}
