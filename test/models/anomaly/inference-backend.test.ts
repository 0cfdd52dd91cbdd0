import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnomalyStage } from '../../../models/anomaly/anomaly-stage.js';
import { trainAutoencoderModel } from '../../../models/anomaly/autoencoder/model.js';
import { anomalyStagePlugin } from '../../../models/anomaly/index.js';
import { EventLog } from '../../../runtime/health/events.js';
import { LazyBackend } from '../../../runtime/inference/lazy-backend.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { ModelSlots } from '../../../runtime/updater/slots.js';
import { MotorSignals } from '../../../sim/mcu/signals.js';
import { newSimNpuCounters, simNpuPlugin, type SimNpuCounters } from '../../support/sim-npu-backend.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const RATE = 200;
const CHANNELS = ['vibration', 'temperature', 'current'];
const MODEL = 'motor-ae';

function samples(seconds: number, seed: number): Float64Array {
  const sig = new MotorSignals(seed);
  const out = new Float64Array(seconds * RATE * 3);
  for (let i = 0; i < seconds * RATE; i += 1) out.set(sig.sample(i, RATE), i * 3);
  return out;
}

/** The backend a gateway with `inference: { backend: sim-npu, ... }` would hand its stages. */
function simBackend(counters: SimNpuCounters, section: Record<string, unknown>): LazyBackend {
  const plugin = simNpuPlugin(counters);
  const valid = plugin.validate({ backend: 'sim-npu', ...section });
  if (valid.error !== undefined) throw new Error('bad sim-npu section');
  return new LazyBackend(plugin, valid.value);
}

describe('the anomaly stage runs its autoencoder on the backend it is handed', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = (await trainAutoencoderModel(samples(30, 1), 30 * RATE, { channels: CHANNELS, windowSamples: 16, stride: 4, hidden: [16, 4, 16], epochs: 2, batchSize: 64, learningRate: 0.005, seed: 2, heldOut: 0.2 })).bytes;
  });
  beforeEach(async () => {
    dir = await makeTempDir();
    const slots = new ModelSlots(dir.path, MODEL);
    await slots.activate(await slots.install(bytes, { release: 1, version: 'fleet-1' }), { release: 1, version: 'fleet-1', sha256: createHash('sha256').update(bytes).digest('hex') });
  });
  afterEach(async () => {
    await dir.remove();
  });

  async function scoringStage(backend: LazyBackend, providers?: string[]): Promise<{ stage: AnomalyStage; results: number }> {
    const stage = (await anomalyStagePlugin.create(
      { type: 'anomaly', detector: 'autoencoder', scoreEveryMs: 1000, autoencoder: { managed: MODEL, windowSamples: 16, ...(providers === undefined ? {} : { providers }) } },
      { backend, gatewayId: 'gw', stateDir: dir.path, decisions: { append: async () => undefined }, events: new EventLog(pino({ level: 'silent' }), new Registry()).for('a'), models: new ManagedModels(dir.path) },
    )) as AnomalyStage;
    const sig = new MotorSignals(4);
    let results = 0;
    let n = 0;
    const feed = async (seconds: number): Promise<void> => {
      for (let k = 0; k < seconds * RATE; k += 20) {
        const values: Record<string, number[]> = { vibration: [], temperature: [], current: [] };
        for (let j = 0; j < 20; j += 1, n += 1) sig.sample(n, RATE).forEach((v, c) => values[CHANNELS[c] as string]?.push(v));
        results += (await stage.process([{ stream: 'motor', class: 'telemetry', ts: 1e12 + (n * 1000) / RATE, data: { n, rateHz: RATE, values } }])).filter((r) => r.class === 'result').length;
      }
    };
    await feed(1);
    await waitFor(() => stage.stats()['phase'] === 'scoring', 'the release to load', 20_000);
    await feed(4);
    return { stage, results };
  }

  it('falling back from the NPU makes the stage degraded in its health, naming the provider and why; it keeps scoring', async () => {
    const counters = newSimNpuCounters();
    const { stage, results } = await scoringStage(simBackend(counters, { devicePresent: false }));
    expect(results).toBeGreaterThan(0);
    expect(stage.stats()).toMatchObject({ provider: 'cpu', degraded: true });
    expect(String(stage.stats()['degradedReason'])).toBe('runs on cpu; preferred npu (npu: no NPU at /dev/sim-npu0)');
    expect(counters.runs).toBeGreaterThan(0);
    await stage.stop();
  }, 60_000);

  it("on the NPU it is not degraded; the stage's own providers override the backend's", async () => {
    const counters = newSimNpuCounters();
    const present = await scoringStage(simBackend(counters, { devicePresent: true }));
    expect(present.stage.stats()).toMatchObject({ provider: 'npu', degraded: false });
    await present.stage.stop();
    const own = await scoringStage(simBackend(counters, { devicePresent: true }), ['cpu']);
    expect(own.stage.stats()).toMatchObject({ provider: 'cpu', degraded: false });
    await own.stage.stop();
    expect(counters.created).toBe(2);
  }, 60_000);
});
