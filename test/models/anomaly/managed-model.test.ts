import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { EventLog } from '../../../runtime/health/events.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { ModelSlots } from '../../../runtime/updater/slots.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { defaultBackend } from '../../support/inference-backend.js';

const RATE = 200;
const CHANNELS = ['vibration', 'temperature', 'current'];

function samples(seconds: number, seed: number): Float64Array {
  const sig = new MotorSignals(seed);
  const out = new Float64Array(seconds * RATE * 3);
  for (let i = 0; i < seconds * RATE; i += 1) out.set(sig.sample(i, RATE), i * 3);
  return out;
}

describe('anomaly stage on an autoencoder from the fleet (signed updates)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('waits degraded (no training on the gateway), scores with the active release, and switches on activation', async () => {
    const managed = new ManagedModels(dir.path);
    const stage = (await anomalyStagePlugin.create(
      { type: 'anomaly', detector: 'autoencoder', scoreEveryMs: 1000, autoencoder: { managed: 'motor-ae', windowSamples: 16 } },
      { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir.path, decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('a'), models: managed },
    )) as AnomalyStage;
    const sig = new MotorSignals(4);
    let n = 0;
    const feed = async (seconds: number): Promise<RecordInput[]> => {
      const out: RecordInput[] = [];
      for (let k = 0; k < seconds * RATE; k += 20) {
        const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
        for (let j = 0; j < 20; j += 1, n += 1) sig.sample(n, RATE).forEach((v, c) => values[CHANNELS[c] as string]?.push(v));
        out.push(...(await stage.process([{ stream: 'motor', class: 'telemetry', ts: 1e12 + (n * 1000) / RATE, data: { n, rateHz: RATE, values } }])));
      }
      return out.filter((r) => r.class === 'result');
    };

    expect(await feed(3)).toEqual([]);
    await waitFor(() => stage.stats()['phase'] === 'waiting', 'the stage to look for the model');
    expect(stage.stats()).toMatchObject({ degraded: true });
    expect(String(stage.stats()['degradedReason'])).toMatch(/no signed release of motor-ae/);

    const trained = await trainAutoencoderModel(samples(60, 1), 60 * RATE, { channels: CHANNELS, windowSamples: 16, stride: 4, hidden: [16, 4, 16], epochs: 5, batchSize: 64, learningRate: 0.005, seed: 2, heldOut: 0.2 });
    const sha = createHash('sha256').update(trained.bytes).digest('hex');
    const slots = new ModelSlots(dir.path, 'motor-ae');
    await slots.activate(await slots.install(trained.bytes, { release: 1, version: 'fleet-1' }), { release: 1, version: 'fleet-1', sha256: sha });
    managed.changed('motor-ae');
    await waitFor(() => stage.stats()['phase'] === 'scoring', 'release 1 to load');
    const first = await feed(5);
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((r) => (r.data as { model: { name: string; version: string } }).model.version === 'fleet-1')).toBe(true);
    expect(stage.stats()).toMatchObject({ degraded: false, phase: 'scoring', modelHash: `sha256:${sha}` });

    await slots.activate(await slots.install(trained.bytes, { release: 2, version: 'fleet-2' }), { release: 2, version: 'fleet-2', sha256: sha });
    managed.changed('motor-ae');
    await waitFor(() => stage.stats()['phase'] === 'scoring', 'release 2 to load');
    const second = await feed(5);
    expect(second.at(-1)?.data).toMatchObject({ model: { name: 'motor-ae', version: 'fleet-2' } });
    await stage.stop();
  }, 60_000);
});
