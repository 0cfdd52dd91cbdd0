import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShadowSummary } from '../../../fleet/protocol/update.js';
import { buildModel } from '../../../models/onnx/builder.js';
import { BUILTIN_DETECTOR_PATH, visionStagePlugin } from '../../../models/vision/index.js';
import type { VisionStage } from '../../../models/vision/vision-stage.js';
import { packedLayout } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import type { DecisionEntry } from '../../../runtime/store/decision-log.js';
import { ManagedModels } from '../../../runtime/updater/managed-models.js';
import { ConveyorScene } from '../../../sim/camera/index.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { CapturingEventLog, activate, candidateOf } from '../shadow-support.js';
import { defaultBackend } from '../../support/inference-backend.js';

const { onnx } = onnxProto;
const MODEL = 'belt-parts';
const W = 640;
const H = 360;

/**
 * The built-in detector with its box centres moved `dx` input pixels to the right (the bias of
 * the x output of its last layer): it finds every part, and puts the box beside it.
 */
function shifted(bytes: Uint8Array, dx: number): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const b = m.graph?.initializer?.find((t) => t.name === 'b2');
  if (b?.rawData === undefined || b.rawData === null) throw new Error('the built-in detector has no last-layer bias b2');
  const values = new Float32Array(Uint8Array.from(b.rawData).buffer);
  values[0] = (values[0] as number) + dx;
  b.rawData = new Uint8Array(values.buffer);
  return onnx.ModelProto.encode(m).finish();
}

/**
 * A detector of another input size (160 x 96) that finds nothing: one 16 x 16 convolution with
 * zero weights whose score channel is always -10, in the YOLOv8 layout [1, 5, cells].
 */
function blind(): Uint8Array {
  return buildModel({
    name: 'blind',
    inputs: [{ name: 'images', dims: [1, 1, 96, 160] }],
    outputs: [{ name: 'output0', dims: [1, 5, 60] }],
    initializers: [
      { name: 'w', dims: [5, 1, 16, 16], data: new Float32Array(5 * 256) },
      { name: 'b', dims: [5], data: [8, 8, 16, 16, -10] },
      { name: 'shape', dims: [3], data: [1, 5, 60], type: 'int64' },
    ],
    nodes: [
      { op: 'Conv', inputs: ['images', 'w', 'b'], outputs: ['c'], attributes: { kernel_shape: [16, 16], strides: [16, 16] } },
      { op: 'Reshape', inputs: ['c', 'shape'], outputs: ['output0'] },
    ],
  });
}

interface RunResult {
  readonly out: RecordInput[];
  readonly decisions: DecisionEntry[];
  readonly summary: ShadowSummary | undefined;
  readonly events: CapturingEventLog;
  /** Frames the active model inferred while the shadow ran, and all frames then. */
  readonly inferred: number;
  readonly frames: number;
}

/** One vision stage on the managed detector: the same conveyor (moving and still spells) every run. */
async function run(dir: string, candidate: Uint8Array | undefined): Promise<RunResult> {
  const managed = new ManagedModels(dir);
  const events = new CapturingEventLog();
  const decisions: DecisionEntry[] = [];
  const stage = (await visionStagePlugin.create(
    { type: 'vision', model: { managed: MODEL }, classNames: ['part'], defectClass: 'part', motion: { enabled: true } },
    { backend: defaultBackend(), gatewayId: 'gw', stateDir: dir, decisions: { append: async (e) => void decisions.push(e) }, events: events.for('vision'), models: managed },
  )) as VisionStage;
  const scene = new ConveyorScene({ width: W, height: H, fps: 10, seed: 5, stillShare: 0.3, stillPeriodS: 4 });
  const out: RecordInput[] = [];
  const feed = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i += 1) {
      const f = scene.next();
      const { layout, size } = packedLayout('I420', W, H);
      const data = new Uint8Array(size);
      data.set(f.y, 0);
      data.set(f.u, W * H);
      data.set(f.v, W * H + (W / 2) * (H / 2));
      out.push(...(await stage.process([{ stream: 'cam', class: 'telemetry', ts: f.timestampUs / 1000, data: { frame: { format: 'I420', width: W, height: H, data, layout, timestampUs: 1e15 + f.timestampUs } } }])));
    }
  };
  await feed(10);
  // Frames are pipelined: the ones still in inference would finish after the candidate started.
  await stage.settled();
  expect(stage.stats()['degraded']).toBe(false);
  let summary: Promise<ShadowSummary> | undefined;
  const stop = new AbortController();
  if (candidate !== undefined) {
    summary = managed.shadow(MODEL, candidateOf(MODEL, candidate, 2, 'candidate'), { inferences: 1_000_000, maxMs: 60_000 }, stop.signal);
    await waitFor(() => events.has('vision.shadow_started') || events.has('vision.shadow_invalid'), 'the candidate to load (or fail to)', 10_000);
  }
  const before = stage.stats();
  await feed(80);
  out.push(...(await stage.flush()));
  const after = stage.stats();
  stop.abort();
  const result = await summary;
  await stage.stop();
  return { out, decisions, summary: result, events, inferred: (after['inferred'] as number) - (before['inferred'] as number), frames: (after['frames'] as number) - (before['frames'] as number) };
}

describe('vision stage running a candidate release in shadow', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let detector: Uint8Array;
  let baseline: RunResult;

  beforeAll(async () => {
    dir = await makeTempDir();
    detector = await readFile(BUILTIN_DETECTOR_PATH());
    await activate(dir.path, MODEL, detector, 1, '1.0');
    baseline = await run(dir.path, undefined);
  }, 20_000);
  afterAll(async () => {
    await dir.remove();
  });

  it('the scene has parts to find and still spells the motion gate skips', () => {
    expect(baseline.out.filter((r) => (r.data as { event?: string }).event === 'entered').length).toBeGreaterThanOrEqual(3);
    expect(baseline.inferred).toBeLessThan(baseline.frames);
    expect(baseline.inferred).toBeGreaterThan(20);
  });

  it('the same detector as candidate: F1 1, classes agree, one run per inferred frame, the active path unchanged', async () => {
    const r = await run(dir.path, detector);
    const s = r.summary as ShadowSummary;
    console.log('vision shadow, same detector:', JSON.stringify(s));
    expect(s).toMatchObject({ stages: 1, errors: 0, anomaly: null });
    // Frames the motion gate skipped are not run.
    expect(s.inferences).toBe(r.inferred);
    expect(s.vision?.frames).toBe(r.inferred);
    expect(s.vision?.activeDetections).toBeGreaterThan(10);
    expect(s.vision).toMatchObject({ f1: 1, classAgreement: 1 });
    expect(s.vision?.matched).toBe(s.vision?.activeDetections);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);

  it('a detector that puts its boxes beside the parts: F1 far below, the active path unchanged', async () => {
    // 20 input pixels is about two thirds of a part (parts are ~30 px in the 320 x 192 input): IoU ~0.2.
    const r = await run(dir.path, shifted(detector, 20));
    const s = r.summary as ShadowSummary;
    console.log('vision shadow, shifted detector:', JSON.stringify(s));
    expect(s).toMatchObject({ stages: 1, errors: 0 });
    expect(s.inferences).toBe(r.inferred);
    expect(s.vision?.candidateDetections).toBeGreaterThan(10);
    expect(s.vision?.f1).toBeLessThan(0.5);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);

  it('a detector of another input size that finds nothing: F1 0 (its own preprocessing), the active path unchanged', async () => {
    const r = await run(dir.path, blind());
    const s = r.summary as ShadowSummary;
    console.log('vision shadow, blind detector:', JSON.stringify(s));
    expect(s).toMatchObject({ stages: 1, errors: 0 });
    expect(s.inferences).toBe(r.inferred);
    expect(s.vision).toMatchObject({ candidateDetections: 0, matched: 0, f1: 0, classAgreement: null });
    expect(s.vision?.activeDetections).toBeGreaterThan(10);
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
  }, 20_000);

  it('a candidate that is not a model: a warning, an error per inferred frame, the active path unchanged', async () => {
    const r = await run(dir.path, new TextEncoder().encode('not an onnx model'));
    const s = r.summary as ShadowSummary;
    console.log('vision shadow, not a model:', JSON.stringify(s));
    expect(s.inferences).toBe(r.inferred);
    expect(s.errors).toBe(s.inferences);
    expect(s.vision).toBeNull();
    expect(r.events.seen.find((e) => e.event === 'vision.shadow_invalid')?.level).toBe('warn');
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(baseline.out));
    expect(JSON.stringify(r.decisions)).toBe(JSON.stringify(baseline.decisions));
  }, 20_000);
});
