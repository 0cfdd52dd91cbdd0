import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { onnxruntimeBackend } from '../../../models/engine/backends/onnxruntime/index.js';
import { OnnxBackend } from '../../../models/engine/backends/onnxruntime/onnx-backend.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import type { PluginRegistry } from '../../../runtime/pipeline/registry.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { useGatewayRig } from '../../support/gateway-rig.js';
import { SIM_NPU_DEVICE, newSimNpuCounters, simNpuPlugin, type SimNpuCounters } from '../../support/sim-npu-backend.js';
import { waitFor } from '../../support/wait-for.js';
import { constantOutputs, yolov8Output } from '../../models/vision/layout-models.js';

const W = 160;
const H = 96;
const FRAMES = 12;

/** A clip and a detector that sees one part in every frame: what two vision stages run on. */
async function writeInputs(dir: string): Promise<void> {
  const detector = constantOutputs([1, 3, H, W], [yolov8Output(60, 2, [{ anchor: 7, cx: 80, cy: 50, w: 40, h: 40, classId: 1, score: 0.9 }])]);
  await writeFile(`${dir}/detector.onnx`, detector);
  const y = new Uint8Array(W * H).fill(200);
  const uv = new Uint8Array((W / 2) * (H / 2)).fill(128);
  await writeFile(`${dir}/clip.h264`, await encodeH264({ width: W, height: H, framerate: 10, frames: FRAMES, picture: () => ({ y, u: uv, v: uv }) }));
}

/** Two cameras, each with a vision stage: cam-1 takes the gateway's providers, cam-2 names its own (`stageProviders`). */
function config(dir: string, url: string, inference: string, stageProviders: string): string {
  const camera = (id: string): string => `  - { id: ${id}, type: camera, input: { file: ${JSON.stringify(`${dir}/clip.h264`)} }, streamFps: 10, realtime: false }\n`;
  const stage = `type: vision, model: { path: ${JSON.stringify(`${dir}/detector.onnx`)} }, classNames: [part, defect], motion: { enabled: false }`;
  return `gateway: { id: gw-backend, dataDir: ${JSON.stringify(`${dir}/gw`)}, shutdownTimeoutMs: 5000 }
inference: ${inference}
devices:
${camera('cam-1')}${camera('cam-2')}pipelines:
  - id: cam-1
    source: cam-1
    queue: { maxRecords: 4, whenFull: block }
    stages:
      - { ${stage} }
  - id: cam-2
    source: cam-2
    queue: { maxRecords: 4, whenFull: block }
    stages:
      - { ${stage}, providers: ${stageProviders} }
store: { maxSizeBytes: 1073741824 }
uplink: { url: ${url}, connectTimeoutMs: 2000, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }
health: { intervalMs: 1000 }
log: { level: warn }
`;
}

function accelerators(gw: Gateway): readonly string[] {
  return gw.health().hardware?.accelerators ?? [];
}

interface Case {
  readonly name: string;
  readonly registry: () => PluginRegistry;
  /** The `inference` section, preferring a provider this box does not have over `fallback`. */
  readonly inference: () => string;
  readonly absent: () => string;
  readonly fallback: string;
  readonly fallbackReason: RegExp;
}

const simCounters = newSimNpuCounters();
let ortAbsent = '';

const cases: readonly Case[] = [
  {
    name: 'onnxruntime (the built-in backend)',
    registry: builtinRegistry,
    inference: () => `{ backend: onnxruntime, providers: [${ortAbsent}, cpu], threads: 1 }`,
    absent: () => ortAbsent,
    fallback: 'cpu',
    fallbackReason: /.+/,
  },
  {
    name: 'sim-npu (a test-only backend the stages have never heard of)',
    registry: () => builtinRegistry().register(simNpuPlugin(simCounters)),
    inference: () => '{ backend: sim-npu, providers: [npu, cpu], devicePresent: false }',
    absent: () => 'npu',
    fallback: 'cpu',
    fallbackReason: new RegExp(`no NPU at ${SIM_NPU_DEVICE}`),
  },
];

describe('the inference backend is the one the config names', () => {
  const rig = useGatewayRig();

  beforeAll(async () => {
    // A provider ONNX Runtime knows by name that this box cannot start (cuda without a GPU; dml on Linux).
    const available = await new OnnxBackend().availableProviders();
    ortAbsent = onnxruntimeBackend.providers.find((p) => !available.includes(p)) ?? '';
    expect(ortAbsent).not.toBe('');
  });

  for (const c of cases) {
    it(`${c.name}: every stage runs on it; one that falls back is degraded in its health, saying from what and why; a stage's own providers win`, async () => {
      await writeInputs(rig.dir.path);
      const registry = c.registry();
      const gw = await Gateway.create(parseConfig(config(rig.dir.path, rig.broker.url, c.inference(), `[${c.fallback}]`), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
      rig.gateway = gw;
      await gw.start();
      const stage = (p: number): Record<string, unknown> => gw.health().pipelines[p]?.stages[0]?.details ?? {};
      await waitFor(() => stage(0)['inferred'] === FRAMES && stage(1)['inferred'] === FRAMES, `${FRAMES} frames inferred by both vision stages`, 30_000);

      // cam-1 took the gateway's list: it runs on the fallback, and its health says so.
      expect(stage(0)).toMatchObject({ provider: c.fallback, degraded: true, frameErrors: 0 });
      const reason = String(stage(0)['degradedReason']);
      expect(reason).toContain(`runs on ${c.fallback}; preferred ${c.absent()}`);
      expect(reason).toContain(`${c.absent()}: `);
      expect(reason).toMatch(c.fallbackReason);
      // cam-2 asked for the fallback itself: nothing to fall back from.
      expect(stage(1)).toMatchObject({ provider: c.fallback, degraded: false, degradedReason: null, frameErrors: 0 });
      // The health report's accelerators are what the same backend's probe found.
      await waitFor(() => accelerators(gw).length > 0, 'the backend probe to answer', 30_000);
      expect(accelerators(gw)).toContain(c.fallback);
      expect(accelerators(gw)).not.toContain(c.absent());
    }, 60_000);
  }

  it('sim-npu: one backend per gateway, shared by every stage and the probe, built on first use and closed at stop; with the device there, models run on it', async () => {
    await writeInputs(rig.dir.path);
    const counters: SimNpuCounters = newSimNpuCounters();
    const registry = builtinRegistry().register(simNpuPlugin(counters));
    const gw = await Gateway.create(parseConfig(config(rig.dir.path, rig.broker.url, '{ backend: sim-npu }', '[cpu]'), 'test', registry), registry, { logger: pino({ level: 'silent' }) });
    rig.gateway = gw;
    // Built, not yet used: nothing of the backend exists.
    expect(counters.created).toBe(0);
    await gw.start();
    const stage = (p: number): Record<string, unknown> => gw.health().pipelines[p]?.stages[0]?.details ?? {};
    await waitFor(() => stage(0)['inferred'] === FRAMES && stage(1)['inferred'] === FRAMES, `${FRAMES} frames inferred by both vision stages`, 30_000);
    expect(stage(0)).toMatchObject({ provider: 'npu', degraded: false, degradedReason: null });
    expect(stage(1)).toMatchObject({ provider: 'cpu', degraded: false });
    await waitFor(() => accelerators(gw).length > 0, 'the backend probe to answer', 30_000);
    expect(accelerators(gw)).toEqual(['npu', 'cpu']);
    expect(counters.created).toBe(1);
    expect(counters.loads).toBe(2);
    // Every inference went through it: nothing ran on a backend of the stage's own making.
    expect(counters.runs).toBe(2 * FRAMES);
    await gw.stop();
    expect(counters.backendsClosed).toBe(1);
  }, 60_000);
});
