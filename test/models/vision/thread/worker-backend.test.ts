import { describe, expect, it } from 'vitest';
import type { InferenceBackend } from '../../../../models/engine/engine.js';
import type { BackendPlugin } from '../../../../runtime/inference/backend-plugin.js';
import { LazyBackend } from '../../../../runtime/inference/lazy-backend.js';
import { packedLayout } from '../../../../runtime/pipeline/frame.js';
import { createVisionStage } from '../../../../models/vision/stage-factory.js';
import type { VisionStage } from '../../../../models/vision/vision-stage.js';
import { ConveyorScene } from '../../../../sim/camera/index.js';
import { SIM_NPU_DEVICE, newSimNpuCounters, simNpuPlugin, simNpuWorkerPlugin, type SimNpuCounters } from '../../../support/sim-npu-backend.js';
import { CapturingEventLog } from '../../shadow-support.js';

const W = 320;
const H = 180;
const FRAMES = 8;

/** The backend a gateway with this `inference` section builds (validated by the plug-in, as the config loader does). */
function backendOf(plugin: BackendPlugin, section: Record<string, unknown>): LazyBackend {
  const v = plugin.validate(section);
  if (v.error !== undefined) throw new Error(`sim-npu refuses ${JSON.stringify(section)}`);
  return new LazyBackend(plugin, v.value);
}

/** A vision stage (the repo's detector and crop classifier, worker thread by default) fed FRAMES conveyor frames; its stats after the last is inferred. */
async function run(backend: InferenceBackend, events: CapturingEventLog, providers?: string[]): Promise<Record<string, unknown>> {
  const stage: VisionStage = await createVisionStage({ type: 'vision', motion: { enabled: false }, ...(providers === undefined ? {} : { providers }) }, { backend, gatewayId: 'gw', stateDir: '/tmp/none', decisions: { append: async () => undefined }, events: events.for('vision') });
  try {
    const scene = new ConveyorScene({ width: W, height: H, fps: 10, seed: 3 });
    for (let i = 0; i < FRAMES; i += 1) {
      const f = scene.next();
      const { layout, size } = packedLayout('I420', W, H);
      const data = new Uint8Array(size);
      data.set(f.y, 0);
      data.set(f.u, (layout[1] as { offset: number }).offset);
      data.set(f.v, (layout[2] as { offset: number }).offset);
      await stage.process([{ stream: 'cam-1', class: 'telemetry', ts: i * 100, data: { frame: { format: 'I420', width: W, height: H, data, layout, timestampUs: i * 100_000 } } }]);
    }
    await stage.settled();
    return stage.stats();
  } finally {
    await stage.stop();
    await backend.close?.();
  }
}

describe("the vision stage's worker builds the gateway's backend from its plug-in", () => {
  it('a third-party backend runs in the worker, built from its plug-in and section: its provider, its fallback in the stage health, a stage’s own providers over the section’s', async () => {
    // The device is there: the section's first provider.
    const events = new CapturingEventLog();
    expect(await run(backendOf(simNpuWorkerPlugin, { backend: 'sim-npu' }), events)).toMatchObject({ inferenceThread: 'worker', inferred: FRAMES, frameErrors: 0, provider: 'npu', degraded: false });
    expect(events.seen.find((e) => e.event === 'vision.model_loaded')?.fields).toMatchObject({ thread: 'worker', provider: 'npu' });
    expect(events.has('vision.inference_thread')).toBe(false);

    // No device: the worker's backend falls back to cpu, and the stage's health says from what and why.
    const absent = await run(backendOf(simNpuWorkerPlugin, { backend: 'sim-npu', devicePresent: false }), new CapturingEventLog());
    expect(absent).toMatchObject({ inferenceThread: 'worker', inferred: FRAMES, provider: 'cpu', degraded: true });
    expect(String(absent['degradedReason'])).toContain(`runs on cpu; preferred npu (npu: no NPU at ${SIM_NPU_DEVICE})`);

    // The stage names its own providers: the worker's loads take them over the section's.
    expect(await run(backendOf(simNpuWorkerPlugin, { backend: 'sim-npu', providers: ['npu', 'cpu'] }), new CapturingEventLog(), ['cpu'])).toMatchObject({ inferenceThread: 'worker', provider: 'cpu', degraded: false, degradedReason: null });
  }, 60_000);

  it('a backend whose plug-in runs on the gateway’s thread only: the stage runs its models there, saying why, on that very backend', async () => {
    const counters: SimNpuCounters = newSimNpuCounters();
    const plugin = simNpuPlugin(counters, { mainThreadOnly: `one process opens ${SIM_NPU_DEVICE} once` });
    const events = new CapturingEventLog();
    expect(await run(backendOf(plugin, { backend: 'sim-npu', devicePresent: false }), events)).toMatchObject({ inferenceThread: 'main', workerRestarts: 0, inferred: FRAMES, frameErrors: 0, provider: 'cpu', degraded: true });
    expect(events.seen.find((e) => e.event === 'vision.inference_thread')).toMatchObject({ level: 'info', fields: { thread: 'main', reason: `the sim-npu backend runs on the gateway's thread only: one process opens ${SIM_NPU_DEVICE} once` } });
    // Detector and crop classifier loaded on this thread's backend, and every inference went through it.
    expect(counters).toMatchObject({ created: 1, loads: 2 });
    expect(counters.runs).toBeGreaterThanOrEqual(FRAMES);
  }, 60_000);

  it('a backend whose module the worker cannot import: the first load says so, and the stage goes on on its own thread with no frame lost', async () => {
    const counters: SimNpuCounters = newSimNpuCounters();
    const plugin = simNpuPlugin(counters, { module: new URL('./no-such-backend.js', import.meta.url).href });
    const events = new CapturingEventLog();
    expect(await run(backendOf(plugin, { backend: 'sim-npu' }), events)).toMatchObject({ inferenceThread: 'main', inferred: FRAMES, frameErrors: 0, provider: 'npu', degraded: false });
    const said = events.seen.find((e) => e.event === 'vision.inference_thread');
    expect(said).toMatchObject({ level: 'info', fields: { thread: 'main' } });
    expect(String(said?.fields['reason'])).toMatch(/the sim-npu backend's module .*no-such-backend\.js could not be imported/);
    expect(events.has('vision.model_invalid')).toBe(false);
    expect(counters.loads).toBe(2);
  }, 60_000);

  it('a backend handed in that says nothing of threads (not built from a plug-in) runs the stage on the gateway’s thread, saying why', async () => {
    const events = new CapturingEventLog();
    const counters: SimNpuCounters = newSimNpuCounters();
    const inner = backendOf(simNpuPlugin(counters), { backend: 'sim-npu' });
    const bare: InferenceBackend = { name: inner.name, availableProviders: () => inner.availableProviders(), load: (bytes, o) => inner.load(bytes, o), close: () => inner.close() };
    expect(await run(bare, events)).toMatchObject({ inferenceThread: 'main', inferred: FRAMES, provider: 'npu' });
    expect(events.seen.find((e) => e.event === 'vision.inference_thread')?.fields['reason']).toBe('the sim-npu backend does not say how a worker thread could build it');
  }, 60_000);
});
