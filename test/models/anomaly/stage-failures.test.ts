import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { Pipeline } from '../../../runtime/pipeline/pipeline.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { StoreWriter } from '../../../runtime/store/store-writer.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { ManualSource } from '../../support/manual-source.js';
import { openOutbox, quietEvents, readAll } from '../../support/store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { CapturingEventLog, activate, sha256 } from '../shadow-support.js';
import { defaultBackend } from '../../support/inference-backend.js';

const RATE = 200;
const CHANNELS = ['vibration', 'temperature', 'current'];
const CHUNK = 20;
const T0 = 1e12;
const MODEL = 'motor-ae';
const ALERT = { raiseThreshold: 0.25, clearThreshold: 0.15, minDurationMs: 1000, smoothingMs: 1000, cooldownMs: 0 };

/** Records of the simulated motor, `CHUNK` samples each. */
function motorRecords(count: number, from = 0): RecordInput[] {
  const sig = new MotorSignals(7);
  const out: RecordInput[] = [];
  for (let i = 0; i < count; i += 1) {
    const n = (from + i) * CHUNK;
    const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
    for (let j = 0; j < CHUNK; j += 1) sig.sample(n + j, RATE).forEach((v, c) => values[CHANNELS[c] as string]?.push(v));
    out.push({ stream: 'motor', class: 'telemetry', ts: T0 + (n * 1000) / RATE, data: { n, rateHz: RATE, values } });
  }
  return out;
}

/** An "autoencoder" whose metadata and input fit but whose output is not the reconstruction: every run throws. */
function throwingModel(): Uint8Array {
  const meta = { kind: 'edgewise-autoencoder', version: 1, channels: CHANNELS, windowSamples: 16, mean: [0, 0, 0], std: [1, 1, 1], calibration: { logMean: 0, logStd: 1 }, seed: 1, trainingWindows: 8, heldOutWindows: 2 };
  return buildModel({ name: 'broken', inputs: [{ name: 'x', dims: ['n', 48] }], outputs: [{ name: 'y', dims: ['n', 48] }], initializers: [], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }], metadata: { edgewise: JSON.stringify(meta) } });
}

describe('anomaly stage failures', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('a model that throws at run time costs its windows, not the records: every record reaches the store, the failures are counted and said', async () => {
    await activate(dir.path, MODEL, throwingModel(), 1, 'broken');
    const events = new CapturingEventLog();
    const stage = (await anomalyStagePlugin.create(
      { type: 'anomaly', detector: 'autoencoder', scoreEveryMs: 1000, alert: ALERT, autoencoder: { managed: MODEL, windowSamples: 16, strideSamples: 8 } },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: `${dir.path}/state`, decisions: { append: async () => undefined }, events: events.for('anomaly'), models: new ManagedModels(dir.path) },
    )) as AnomalyStage;
    await stage.process(motorRecords(1));
    await waitFor(() => stage.stats()['phase'] === 'scoring', 'the release to load', 10_000);

    // Through a real pipeline into a real LevelDB outbox.
    const store = await openOutbox(`${dir.path}/data`, { maxSizeBytes: 1 << 30, sync: false });
    const writer = new StoreWriter(store.outbox, quietEvents('store'), { batchMaxRecords: 64, retryMinDelayMs: 10, retryMaxDelayMs: 100 });
    const source = new ManualSource();
    const queue = { maxRecords: 100, whenFull: 'block' as const, sampleEvery: 2 };
    const p = new Pipeline({ id: 'p', sourceId: 'motor', sourceType: 'manual', source, stages: [{ type: 'anomaly', stage, queue }], queue }, quietEvents());
    writer.attach(p.output);
    writer.start();
    await p.start();
    const input = motorRecords(100, 1);
    const results = await Promise.all(input.map(async (r) => (await source.emit([r])).stored));
    await p.stopSource();
    await p.drainStages();
    await writer.whenIdle();
    await writer.stop();

    expect(results.map((r) => r.stored)).toEqual(input.map(() => 1));
    const stored = (await readAll(store.outbox, 1000)).filter((r) => r.cls === 'telemetry');
    expect(stored).toHaveLength(input.length);
    await store.close();
    expect(stage.stats()['scoreErrors'] as number).toBeGreaterThan(100);
    const said = events.seen.filter((e) => e.event === 'anomaly.score_failed');
    expect(said.length).toBeGreaterThan(0);
    expect(said[0]).toMatchObject({ level: 'error', fields: { code: 'E_MODEL_RUN', stream: 'motor' } });
    expect(events.has('stage.failed')).toBe(false);
  }, 30_000);

  it('a garbage saved model is moved aside with a warning naming the file, and the stage retrains instead of staying failed', async () => {
    const stateDir = `${dir.path}/state`;
    await mkdir(stateDir, { recursive: true });
    const garbage = Buffer.from('this is not an onnx file \u0000\u0001\u0002 torn here');
    await writeFile(`${stateDir}/motor.onnx`, garbage);
    const events = new CapturingEventLog();
    const stage = (await anomalyStagePlugin.create(
      { type: 'anomaly', detector: 'autoencoder', scoreEveryMs: 0, alert: ALERT, autoencoder: { windowSamples: 16, strideSamples: 8, trainMs: 3000, trainWindows: 200, hidden: [16, 4, 16], epochs: 3 } },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir, decisions: { append: async () => undefined }, events: events.for('anomaly'), models: new ManagedModels(dir.path) },
    )) as AnomalyStage;
    await stage.process(motorRecords(1));
    await waitFor(() => events.has('anomaly.saved_model_unreadable'), 'the warning about the saved model', 10_000);
    const warning = events.seen.find((e) => e.event === 'anomaly.saved_model_unreadable');
    expect(warning).toMatchObject({ level: 'warn', fields: { code: 'E_MODEL_INVALID', file: `${stateDir}/motor.onnx`, stream: 'motor' } });
    expect(String(warning?.fields['reason'])).not.toBe('');
    expect(stage.stats()['phase']).toBe('collecting');

    let i = 1;
    await waitFor(async () => {
      await stage.process(motorRecords(10, i));
      i += 10;
      if (stage.stats()['phase'] === 'failed') throw new Error(`failed: ${String(stage.stats()['trainingError'])}`);
      return stage.stats()['phase'] === 'scoring';
    }, 'the stage to retrain and score', 30_000, 1);
    expect(await readFile(`${stateDir}/motor.onnx.unreadable`)).toEqual(garbage);
    expect((await readdir(stateDir)).sort()).toEqual(['motor.onnx', 'motor.onnx.unreadable']);
    expect(stage.stats()['modelHash']).toBe(`sha256:${sha256(await readFile(`${stateDir}/motor.onnx`))}`);
    await stage.stop();
  }, 60_000);
});
