import { writeFile } from 'node:fs/promises';
import type * as Ort from 'onnxruntime-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { VISION_DEFAULTS, visionStagePlugin } from '../../models/vision/index.js';
import { nms } from '../../models/vision/nms.js';
import { Preprocessor } from '../../models/vision/preprocess.js';
import type { VisionStage } from '../../models/vision/vision-stage.js';
import { decodeYolo } from '../../models/vision/yolo.js';
import { EventLog } from '../../runtime/health/events.js';
import { packedLayout, type RawFrame } from '../../runtime/pipeline/frame.js';
import { ConveyorScene } from '../../sim/camera/index.js';
import { buildYolov8 } from '../../sim/vision/yolov8/architecture.js';
import { makeTempDir } from '../support/temp-dir.js';
import { finish, median, progress } from './report.js';
import { defaultBackend } from '../support/inference-backend.js';

/**
 * `npm run bench -- yolov8n [--rounds 6] [--frames 10] [--confidence 0.5]`: per-frame latency of
 * YOLOv8n (640x640, the real architecture built by sim/vision/yolov8 with seeded random
 * weights) on one thread, in one run, alternating rounds of:
 * - bare: onnxruntime-node alone, `InferenceSession.create(bytes, { intraOpNumThreads: 1,
 *   interOpNumThreads: 1, executionMode: 'sequential' })` and `session.run` on a tensor
 *   preprocessed beforehand;
 * - stage: the vision stage (one thread, motion gate off) on a 1280x720 I420 frame of the
 *   simulated conveyor: letterbox and preprocessing, inference, decoding and NMS, tracker;
 *   timed from `process()` until `flush()` has the frame's results (the stage runs inference
 *   behind `process()`, so `process()` alone would time the previous frame).
 * value: the stage's median ms; baseline: the bare median; ratio: stage / bare (the stage's
 * overhead). p95s and the stage's own preprocessing and inference means are extras.
 * The random weights give no box above the default confidence (0.5), so decoding scans all
 * 8400 anchors and NMS and the tracker see an empty scene; `--confidence 0.001` gives about 20
 * candidates and 10 boxes a frame (counted from the bare outputs and printed).
 */
const W = 1280;
const H = 720;
const SIZE = 640;

function option(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got ${String(args[i + 1])}`);
  return v;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Distinct conveyor frames (the belt moving), as a camera source hands them to the stage. */
function conveyorFrames(n: number): RawFrame[] {
  const scene = new ConveyorScene({ width: W, height: H, fps: 10, seed: 8, stillShare: 0 });
  const { layout, size } = packedLayout('I420', W, H);
  return Array.from({ length: n }, (_, i) => {
    const f = scene.next();
    const data = new Uint8Array(size);
    data.set(f.y, 0);
    data.set(f.u, (layout[1] as { offset: number }).offset);
    data.set(f.v, (layout[2] as { offset: number }).offset);
    return { format: 'I420', width: W, height: H, data, layout, timestampUs: Date.UTC(2026, 11, 1) * 1000 + i * 100_000 };
  });
}

async function onnxRuntime(): Promise<typeof Ort> {
  const m = await import('onnxruntime-node');
  return ((m as unknown as { default?: typeof Ort }).default ?? m) as typeof Ort;
}

export async function benchYolov8n(args: readonly string[]): Promise<void> {
  const rounds = option(args, 'rounds', 6);
  const perRound = option(args, 'frames', 10);
  const confidence = option(args, 'confidence', 0.5);
  const dir = await makeTempDir();
  try {
    const t0 = performance.now();
    const model = buildYolov8({ scale: 'n', seed: 1 });
    const buildMs = performance.now() - t0;
    progress(`built YOLOv8n ${SIZE}x${SIZE} in ${buildMs.toFixed(0)} ms: ${model.parameters.toLocaleString('en')} parameters, ${(model.bytes.length / 1e6).toFixed(1)} MB, output [${model.output.dims.join(', ')}]`);
    const path = `${dir.path}/yolov8n.onnx`;
    await writeFile(path, model.bytes);

    const frames = conveyorFrames(perRound);
    const pre = new Preprocessor({ width: SIZE, height: SIZE, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] });
    const tensors = frames.map((f) => Float32Array.from(pre.run(f)));

    const ort = await onnxRuntime();
    const session = await ort.InferenceSession.create(model.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
    const events = new EventLog(pino({ level: 'silent' }), new Registry()).for('bench');
    const stage = (await visionStagePlugin.create(
      { type: 'vision', model: { path }, threads: 1, motion: { enabled: false }, confidence },
      { backend: defaultBackend(), gatewayId: 'bench', stateDir: dir.path, decisions: { append: async () => undefined }, events },
    )) as VisionStage;

    let ts = 0;
    const bare = async (i: number): Promise<number> => {
      const start = performance.now();
      await session.run({ images: new ort.Tensor('float32', tensors[i % tensors.length] as Float32Array, [1, 3, SIZE, SIZE]) });
      return performance.now() - start;
    };
    const throughStage = async (i: number): Promise<number> => {
      const f = frames[i % frames.length] as RawFrame;
      // Timestamps keep increasing over the rounds, as a camera's do.
      const frame = { ...f, timestampUs: f.timestampUs + (ts += 1) * 100_000 };
      const start = performance.now();
      await stage.process([{ stream: 'cam', class: 'telemetry', ts: frame.timestampUs / 1000, data: { frame } }]);
      await stage.flush();
      return performance.now() - start;
    };

    progress('warming up (2 frames each)');
    for (let i = 0; i < 2; i += 1) {
      await bare(i);
      await throughStage(i);
    }
    const warm = stage.stats();
    const bareMs: number[] = [];
    const stageMs: number[] = [];
    for (let r = 0; r < rounds; r += 1) {
      // Alternate which goes first, so neither always runs on a cache the other warmed.
      const order = r % 2 === 0 ? [bare, throughStage] : [throughStage, bare];
      for (const run of order) {
        const into = run === bare ? bareMs : stageMs;
        for (let i = 0; i < perRound; i += 1) into.push(await run(i));
      }
      progress(`round ${r + 1}/${rounds}: bare median ${median(bareMs.slice(-perRound)).toFixed(1)} ms, stage median ${median(stageMs.slice(-perRound)).toFixed(1)} ms`);
    }
    const s = stage.stats();
    // What decoding and NMS had to do: candidates above the confidence, and boxes kept, per frame (from the bare outputs).
    let candidates = 0;
    let kept = 0;
    for (const t of tensors) {
      const out = (await session.run({ images: new ort.Tensor('float32', t, [1, 3, SIZE, SIZE]) }))['output0'] as Ort.Tensor;
      const found = decodeYolo(out.data as Float32Array, out.dims, { layout: 'yolov8', confidence });
      candidates += found.length;
      kept += nms(found, VISION_DEFAULTS.iouThreshold, 100).length;
    }
    await stage.stop();
    await session.release();
    if (s['frameErrors'] !== 0 || s['degraded'] !== false) throw new Error(`the stage failed frames: ${JSON.stringify(s)}`);

    const bareP95 = percentile(bareMs, 95);
    const stageP95 = percentile(stageMs, 95);
    const round = (x: number): number => Math.round(x * 10) / 10;
    const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    // The stage's own means over the measured frames (its stats count the warm-up too).
    const measured = (key: string): number => ((s[key] as number) * (s['inferred'] as number) - (warm[key] as number) * (warm['inferred'] as number)) / stageMs.length;
    const preprocessMs = measured('preprocessMeanMs');
    const inference = measured('inferenceMeanMs');
    // Decoding, NMS, the tracker and the hand-offs: the rest of the stage's time.
    const rest = mean(stageMs) - preprocessMs - inference;
    progress(`bare: median ${median(bareMs).toFixed(1)} ms, p95 ${bareP95.toFixed(1)} ms; stage: median ${median(stageMs).toFixed(1)} ms, p95 ${stageP95.toFixed(1)} ms`);
    progress(`stage, mean per frame: preprocessing ${preprocessMs.toFixed(1)} ms, inference ${inference.toFixed(1)} ms, the rest about ${rest.toFixed(1)} ms; ${(candidates / tensors.length).toFixed(1)} candidates and ${(kept / tensors.length).toFixed(1)} boxes after NMS per frame`);
    finish('yolov8n', median(stageMs), median(bareMs), 'ms', {
      stage_p95_ms: round(stageP95),
      bare_p95_ms: round(bareP95),
      ratio_p95: Math.round((stageP95 / bareP95) * 1000) / 1000,
      stage_preprocess_mean_ms: round(preprocessMs),
      stage_inference_mean_ms: round(inference),
      stage_rest_mean_ms: round(rest),
      candidates_per_frame: round(candidates / tensors.length),
      boxes_per_frame: round(kept / tensors.length),
      frames_each: bareMs.length,
      confidence,
      parameters: model.parameters,
      build_ms: Math.round(buildMs),
    });
  } finally {
    await dir.remove();
  }
}
