import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import type { ShadowSummary } from '../../../fleet/protocol/update.js';
import { encodeAnomalyEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { seededRandom, gaussian } from '../../../devices/synthetic/signals.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { CapturingEventLog, activate, candidateOf } from '../shadow-support.js';
import { defaultBackend } from '../../support/inference-backend.js';

const RATE = 200;
const CHANNELS = ['vibration', 'temperature', 'current'];
const MODEL = 'motor-ae';
/** Samples per record (0.1 s). */
const CHUNK = 20;
const T0 = 1e12;

/** A clearly different machine: another running speed, amplitudes and operating point on the same channels. */
function otherMachine(seconds: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(seconds * RATE * 3);
  for (let i = 0; i < seconds * RATE; i += 1) {
    const t = i / RATE;
    const vibration = 1.6 * Math.sin(2 * Math.PI * 41 * t) + 0.5 * Math.sin(2 * Math.PI * 7 * t + 0.4) + 0.1 * gaussian(random);
    const temperature = 62 + 4 * Math.sin((2 * Math.PI * t) / 40) + 0.2 * gaussian(random);
    const current = 3 + 1.1 * Math.sin(2 * Math.PI * 60 * t) + 0.3 * Math.sin((2 * Math.PI * t) / 5) + 0.1 * gaussian(random);
    out.set([vibration, temperature, current], i * 3);
  }
  return out;
}

function motor(seconds: number, seed: number): Float64Array {
  const sig = new MotorSignals(seed);
  const out = new Float64Array(seconds * RATE * 3);
  for (let i = 0; i < seconds * RATE; i += 1) out.set(sig.sample(i, RATE), i * 3);
  return out;
}

/**
 * A labelled evaluation set from the same motor: 16-sample windows of normal running (0) and of
 * bearing wear and a stuck sensor (1), recorded apart from everything the models or the stage saw.
 */
function motorEvaluationSet(seed: number): Uint8Array {
  const sig = new MotorSignals(seed);
  const w = 16;
  const windows: number[] = [];
  const labels: number[] = [];
  let n = 0;
  const take = (count: number, label: 0 | 1): void => {
    for (let k = 0; k < count; k += 1) {
      for (let t = 0; t < w; t += 1, n += 1) windows.push(...sig.sample(n, RATE));
      labels.push(label);
    }
  };
  take(150, 0);
  sig.setFault('bearing-wear', true, n);
  take(60, 1);
  sig.setFault('bearing-wear', false, n);
  take(100, 0);
  // A stuck sensor: every window of it is anomalous (sparse spikes would leave most windows normal).
  sig.setFault('stuck', true, n);
  take(60, 1);
  return encodeAnomalyEvaluationSet({ channels: CHANNELS, windowSamples: w, count: labels.length, windows: Float32Array.from(windows), labels: Uint8Array.from(labels) });
}

const TRAIN = { channels: CHANNELS, windowSamples: 16, stride: 4, hidden: [16, 4, 16], epochs: 5, batchSize: 64, learningRate: 0.005, seed: 2, heldOut: 0.2 };

/** What a stage made of the scenario: every record out, every decision, and the shadow's summary (if one ran). */
interface RunResult {
  readonly out: RecordInput[];
  readonly decisions: DecisionEntry[];
  readonly summary: ShadowSummary | undefined;
  readonly events: CapturingEventLog;
}

/**
 * One stage on the managed model: warm-up, then (with a candidate) a shadow started and the
 * scenario fed (normal running, bearing wear, normal again, spikes), then the shadow ended.
 * The scenario is the same for every run, so the active path's outputs must be too.
 */
let runs = 0;

async function run(dir: string, candidate: Uint8Array | undefined, evaluation?: Uint8Array): Promise<RunResult> {
  const managed = new ManagedModels(dir);
  // Each run is a new stage of its own (alert ids would go on from the last run's in a shared state dir).
  runs += 1;
  const stateDir = `${dir}/stage-${runs}`;
  const events = new CapturingEventLog();
  const decisions: DecisionEntry[] = [];
  const stage = (await anomalyStagePlugin.create(
    { type: 'anomaly', detector: 'autoencoder', scoreEveryMs: 1000, alert: { raiseThreshold: 0.25, clearThreshold: 0.15, minDurationMs: 1000, smoothingMs: 1000, cooldownMs: 0 }, autoencoder: { managed: MODEL, windowSamples: 16, strideSamples: 8 } },
    { backend: defaultBackend(), gatewayId: 'gw', stateDir, decisions: { append: async (e) => void decisions.push(e) }, events: events.for('anomaly'), models: managed },
  )) as AnomalyStage;
  const sig = new MotorSignals(7);
  const out: RecordInput[] = [];
  let n = 0;
  const feed = async (seconds: number): Promise<void> => {
    for (let k = 0; k < seconds * RATE; k += CHUNK) {
      const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
      for (let j = 0; j < CHUNK; j += 1, n += 1) sig.sample(n, RATE).forEach((v, c) => values[CHANNELS[c] as string]?.push(v));
      out.push(...(await stage.process([{ stream: 'motor', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { n, rateHz: RATE, values } }])));
    }
  };
  await feed(0.1);
  await waitFor(() => stage.stats()['phase'] === 'scoring', 'the active release to load', 10_000);
  await feed(5);
  let summary: Promise<ShadowSummary> | undefined;
  const stop = new AbortController();
  if (candidate !== undefined) {
    summary = managed.shadow(MODEL, { ...candidateOf(MODEL, candidate, 2, 'candidate'), ...(evaluation === undefined ? {} : { evaluation }) }, { inferences: 1_000_000, maxMs: 60_000 }, stop.signal);
    await waitFor(() => events.has('anomaly.shadow_started') || events.has('anomaly.shadow_invalid'), 'the candidate to load (or fail to)', 10_000);
  }
  await feed(10);
  sig.setFault('bearing-wear', true, n);
  await feed(8);
  sig.setFault('bearing-wear', false, n);
  await feed(8);
  sig.setFault('spikes', true, n);
  await feed(8);
  sig.setFault('spikes', false, n);
  await feed(4);
  if (evaluation !== undefined) await waitFor(() => events.has('anomaly.shadow_evaluated') || events.has('anomaly.shadow_evaluation_failed'), 'the evaluation set to be scored', 20_000);
  stop.abort();
  const result = await summary;
  out.push(...(await stage.flush()));
  await stage.stop();
  return { out, decisions, summary: result, events };
}

describe('anomaly stage running a candidate release in shadow', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let active: Uint8Array;
  let other: Uint8Array;
  let baseline: RunResult;

  beforeAll(async () => {
    dir = await makeTempDir();
    active = (await trainAutoencoderModel(motor(60, 1), 60 * RATE, TRAIN)).bytes;
    other = (await trainAutoencoderModel(otherMachine(60, 3), 60 * RATE, TRAIN)).bytes;
    await activate(dir.path, MODEL, active, 1, 'fleet-1');
    baseline = await run(dir.path, undefined);
  }, 30_000);
  afterAll(async () => {
    await dir.remove();
  });

  it('the scenario makes the active model alert (so agreement means something)', () => {
    const raised = baseline.out.filter((r) => r.class === 'alert' && (r.data as { state: string }).state === 'raised');
    expect(raised.length).toBeGreaterThanOrEqual(1);
    expect(baseline.decisions.length).toBeGreaterThanOrEqual(2);
  });

  it('the same model as candidate agrees with itself, and the active path is unchanged', async () => {
    const r = await run(dir.path, active);
    const s = r.summary as ShadowSummary;
    console.log('shadow, same model:', JSON.stringify(s));
    expect(s).toMatchObject({ stages: 1, errors: 0, vision: null });
    expect(s.inferences).toBeGreaterThan(100);
    expect(s.anomaly?.windows).toBeGreaterThan(s.inferences);
    // The scenario holds alerts for a while: agreement is measured on both states.
    expect(s.anomaly?.activeAlerting).toBeGreaterThan(20);
    expect(s.anomaly?.alertAgreement).toBe(1);
    expect(s.anomaly?.candidateAlerting).toBe(s.anomaly?.activeAlerting);
    expect(s.anomaly?.scoreCorrelation).toBeGreaterThan(0.99);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);

  it('a model of another machine (same channels and window) disagrees, and the active path is unchanged', async () => {
    const r = await run(dir.path, other);
    const s = r.summary as ShadowSummary;
    console.log('shadow, other machine:', JSON.stringify(s));
    expect(s).toMatchObject({ stages: 1, errors: 0 });
    expect(s.inferences).toBeGreaterThan(100);
    // Everything on this machine looks anomalous to it: it alerts nearly all the time, the active model rarely.
    expect(s.anomaly?.alertAgreement).toBeLessThan(0.6);
    expect(s.anomaly?.candidateAlerting).toBeGreaterThan(0.8 * (s.anomaly?.windows ?? 0));
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);

  it('a candidate that is not a model: a warning, every batch an error, and the active path is unchanged', async () => {
    const r = await run(dir.path, new TextEncoder().encode('not an onnx model'));
    const s = r.summary as ShadowSummary;
    console.log('shadow, not a model:', JSON.stringify(s));
    expect(s.inferences).toBeGreaterThan(100);
    expect(s.errors).toBe(s.inferences);
    expect(s.anomaly).toBeNull();
    const warned = r.events.seen.find((e) => e.event === 'anomaly.shadow_invalid');
    expect(warned?.level).toBe('warn');
    expect(String(warned?.fields['reason'])).toMatch(/autoencoder/);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);

  it('a candidate that loads but throws when run: errors with their time, and the active path is unchanged', async () => {
    // An "autoencoder" whose metadata and input fit, but whose output is not the reconstruction.
    const meta = { kind: 'edgewise-autoencoder', version: 1, channels: CHANNELS, windowSamples: 16, mean: [0, 0, 0], std: [1, 1, 1], calibration: { logMean: 0, logStd: 1 }, seed: 1, trainingWindows: 8, heldOutWindows: 2 };
    const bytes = buildModel({ name: 'broken', inputs: [{ name: 'x', dims: ['n', 48] }], outputs: [{ name: 'y', dims: ['n', 48] }], initializers: [], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }], metadata: { edgewise: JSON.stringify(meta) } });
    const r = await run(dir.path, bytes);
    const s = r.summary as ShadowSummary;
    expect(r.events.has('anomaly.shadow_started')).toBe(true);
    expect(r.events.seen.filter((e) => e.event === 'anomaly.shadow_failed')).toHaveLength(1);
    expect(s.inferences).toBeGreaterThan(100);
    expect(s.errors).toBe(s.inferences);
    expect(s.latencyMs?.p99).toBeGreaterThan(0);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
  }, 20_000);

  it('scores a release\'s labelled evaluation set with both models: the same model ties, a model of another machine is worse', async () => {
    const set = motorEvaluationSet(21);
    const same = (await run(dir.path, active, set)).summary as ShadowSummary;
    console.log('evaluation, same model:', JSON.stringify(same.evaluation));
    expect(same.evaluation).toMatchObject({ metric: 'roc-auc', samples: 370, error: null });
    // The active model finds the labelled faults; the same bytes as candidate, exactly as well.
    expect(same.evaluation?.active).toBeGreaterThan(0.8);
    expect(same.evaluation?.candidate).toBe(same.evaluation?.active);
    const r = await run(dir.path, other, set);
    const worse = r.summary as ShadowSummary;
    console.log('evaluation, other machine:', JSON.stringify(worse.evaluation));
    expect(worse.evaluation?.error).toBeNull();
    expect(worse.evaluation?.active).toBe(same.evaluation?.active);
    expect(worse.evaluation?.candidate).toBeLessThan((same.evaluation?.active ?? 0) - 0.1);
    expect(r.events.seen.find((e) => e.event === 'anomaly.shadow_evaluated')?.fields).toMatchObject({ samples: 370, activeAuc: same.evaluation?.active, candidateAuc: worse.evaluation?.candidate });
    // The evaluation is the candidate's business: what the active path does is unchanged.
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
  }, 40_000);

  it('an evaluation set that cannot be read is said, with why, and is no result', async () => {
    const r = await run(dir.path, active, new TextEncoder().encode('not cbor at all'));
    const s = r.summary as ShadowSummary;
    expect(s.evaluation).toMatchObject({ candidate: null, samples: 0 });
    expect(s.evaluation?.error).toMatch(/evaluation set/);
    expect(r.events.seen.find((e) => e.event === 'anomaly.shadow_evaluation_failed')?.level).toBe('warn');
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
  }, 20_000);
});
