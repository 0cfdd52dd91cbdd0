import { readFile, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CameraSource } from '../../devices/camera/camera-source.js';
import { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import { ONNXRUNTIME_DEFAULTS } from '../../models/engine/backends/onnxruntime/schema.js';
import { CLASS_NAMES } from '../../models/vision/detector/architecture.js';
import { BUILTIN_DETECTOR_PATH, visionStagePlugin } from '../../models/vision/index.js';
import { VisionModel } from '../../models/vision/vision-model.js';
import type { VisionStage } from '../../models/vision/vision-stage.js';
import { EventLog } from '../../runtime/health/events.js';
import type { SourceContext } from '../../runtime/pipeline/components.js';
import { isFrameRecordData, type RawFrame } from '../../runtime/pipeline/frame.js';
import { emptyResult, type RecordInput } from '../../runtime/pipeline/record.js';
import { ConveyorScene } from '../../sim/camera/index.js';
import { encodeH264 } from '../../sim/video/encode-h264.js';
import { makeTempDir } from '../support/temp-dir.js';
import { finish, progress } from './report.js';
import { defaultBackend } from '../support/inference-backend.js';

/**
 * `npm run bench -- vision`: a 1280x720 H.264 clip of the simulated conveyor (the belt
 * stands still half of the time), measured in one run:
 * - decode: the camera source alone (file as fast as it goes, Annex B parsing, decoding, copy out);
 * - infer: the detector alone on the same frames, preprocessed beforehand;
 * - pipeline: camera source -> bounded edge (4 frames, block) -> vision stage (motion gate,
 *   preprocessing, detector, crop classifier, tracker), concurrently, as in a gateway.
 * Ratio: pipeline frames/s over the slower of decode and infer. gated_share: the share of
 * frames that reached inference.
 */
const W = 1280;
const H = 720;
const FPS = 10;
const SECONDS = 40;
const FRAMES = SECONDS * FPS;

function events(): ReturnType<EventLog['for']> {
  return new EventLog(pino({ level: 'silent' }), new Registry()).for('bench');
}

/** Runs a camera source over the clip; every record goes to `take`, awaited (that is the edge). */
async function runSource(path: string, take: (r: RecordInput) => Promise<void>): Promise<number> {
  const source = new CameraSource({ id: 'cam', stream: 'cam', input: { file: path }, streamFps: FPS, realtime: false, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
  const abort = new AbortController();
  let n = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const ctx: SourceContext = {
    signal: abort.signal,
    events: events(),
    emit: async (records) => {
      for (const r of records) await take(r);
      n += records.length;
      if (n >= FRAMES) done();
      return { stored: Promise.resolve(emptyResult) };
    },
  };
  await source.start(ctx);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  abort.abort();
  await source.stop();
  return FRAMES / seconds;
}

export async function benchVision(): Promise<void> {
  const dir = await makeTempDir();
  try {
    progress(`rendering and encoding ${FRAMES} frames of ${W}x${H} (${SECONDS} s at ${FPS} fps, belt still half the time)`);
    const scene = new ConveyorScene({ width: W, height: H, fps: FPS, seed: 5, stillShare: 0.5, stillPeriodS: 10 });
    let moving = 0;
    const clip = await encodeH264({
      width: W,
      height: H,
      framerate: FPS,
      frames: FRAMES,
      picture: () => {
        const f = scene.next();
        if (f.moving) moving += 1;
        return { y: f.y, u: f.u, v: f.v };
      },
    });
    const path = `${dir.path}/conveyor-720p.h264`;
    await writeFile(path, clip);

    const make = async (): Promise<VisionStage> => (await visionStagePlugin.create({ type: 'vision' }, { backend: defaultBackend(), gatewayId: 'bench', stateDir: dir.path, decisions: { append: async () => undefined }, events: events() })) as VisionStage;

    // Decode only (frames kept for the inference run).
    const frames: RawFrame[] = [];
    const decodeFps = await runSource(path, async (r) => {
      if (isFrameRecordData(r.data)) frames.push(r.data.frame);
    });
    progress(`decode: ${decodeFps.toFixed(1)} frames/s`);

    // Inference only: the detector on tensors preprocessed beforehand.
    const detector = await VisionModel.load(await readFile(BUILTIN_DETECTOR_PATH()), new OnnxBackend({ threads: ONNXRUNTIME_DEFAULTS.threads }), { providers: ['cpu'] }, { task: 'detection', classNames: [...CLASS_NAMES] });
    const tensors = frames.map((f) => Float32Array.from(detector.preprocess(f).tensor));
    const t0 = performance.now();
    for (const t of tensors) await detector.infer(t);
    const inferFps = tensors.length / ((performance.now() - t0) / 1000);
    await detector.close();
    progress(`inference: ${inferFps.toFixed(1)} frames/s (detector, ${tensors.length} preprocessed frames)`);

    // The pipeline: source and stage concurrently through a bounded edge of 4 frames.
    const stage = await make();
    const edge: RecordInput[] = [];
    let space: (() => void) | undefined;
    let item: (() => void) | undefined;
    let consumed = 0;
    const consumer = (async () => {
      while (consumed < FRAMES) {
        const r = edge.shift();
        if (r === undefined) {
          await new Promise<void>((resolve) => (item = resolve));
          continue;
        }
        space?.();
        await stage.process([r]);
        consumed += 1;
      }
    })();
    const t1 = performance.now();
    await runSource(path, async (r) => {
      while (edge.length >= 4) await new Promise<void>((resolve) => (space = resolve));
      edge.push(r);
      item?.();
    });
    await consumer;
    const pipelineFps = FRAMES / ((performance.now() - t1) / 1000);
    const s = stage.stats();
    await stage.stop();
    const gated = (s['inferred'] as number) / FRAMES;
    progress(`pipeline: ${pipelineFps.toFixed(1)} frames/s; inference ran on ${(gated * 100).toFixed(1)}% of frames (belt moving in ${((moving / FRAMES) * 100).toFixed(1)}%); preprocess ${String(s['preprocessMeanMs'])} ms, inference ${String(s['inferenceMeanMs'])} ms per frame; ${String(s['defects'])} defect events`);
    finish('vision', pipelineFps, Math.min(decodeFps, inferFps), 'frames/s', { gated_share: Math.round(gated * 1000) / 1000, motion_share: Math.round((moving / FRAMES) * 1000) / 1000, decode_fps: Math.round(decodeFps), infer_fps: Math.round(inferFps) });
  } finally {
    await dir.remove();
  }
  process.exit(0);
}
