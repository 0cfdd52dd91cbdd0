import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
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
import { finish, median, progress } from './report.js';
import { threadCpuDelta, threadCpuMs } from './thread-cpu.js';
import { defaultBackend } from '../support/inference-backend.js';

/**
 * `npm run bench -- vision [--rounds N] [--thread worker|main]`: a 1280x720 H.264 clip of the
 * simulated conveyor (the belt stands still half of the time), measured in one run:
 * - decode: the camera source alone (file as fast as it goes, Annex B parsing, decoding, copy out);
 * - infer: the detector alone on the same frames, preprocessed beforehand;
 * - pipeline: camera source -> bounded edge (4 frames, block) -> vision stage (motion gate,
 *   preprocessing, detector, crop classifier, tracker), concurrently, as in a gateway; with
 *   `inferenceThread: worker` (default) or `main`.
 * Decode and pipeline alternate over N rounds (default 5), so a change of load on the machine
 * hits both alike. Ratio: the median over rounds of pipeline frames/s over the slower of that
 * round's decode and inference. gated_share: the share of frames that reached inference.
 * CPU per frame (all threads of the process) says what the pipeline costs beside decoding:
 * `cpu_ratio` (decode's CPU per frame over the pipeline's) is the most the ratio can be when the
 * process gets no more than the CPU time of one core (other work on the box).
 * `cores_available`: what a probe that keeps every core busy gets, before and after each
 * pipeline pass (with other work on the box, the scheduler shares the cores between sessions);
 * `ratio_cpu_bound`: pipeline frames/s over the most any schedule of the same work could give on
 * that much CPU: min(decode, inference, cores_available / pipeline CPU per frame), median over rounds.
 */
const W = 1280;
const H = 720;
const FPS = 10;
const SECONDS = 40;
const FRAMES = SECONDS * FPS;
const EDGE_FRAMES = 4;

interface Pass {
  readonly fps: number;
  /** CPU time of the whole process (every thread) per frame, ms. */
  readonly cpuMsPerFrame: number;
  /**
   * CPU time per frame (ms) by thread: the main thread, the H.264 decoder's (node-webcodecs'
   * worker and FFmpeg's, started by the pass), the inference worker's (and ONNX Runtime's in
   * it), and Node's own (V8's garbage collector and compiler, libuv). Empty where /proc is missing.
   */
  readonly threads: { main?: number; decoder?: number; worker?: number; node?: number };
  /** Cores the process used on average (CPU time over wall time). */
  readonly cores: number;
}

/** Threads that were there before any camera, model or worker: Node's own. */
let nodeThreads: ReadonlySet<number> = new Set();

function events(): ReturnType<EventLog['for']> {
  return new EventLog(pino({ level: 'silent' }), new Registry()).for('bench');
}

/**
 * Runs `work` and measures it: frames per second, CPU time per frame, and by thread. `work`
 * calls its argument just before it stops its camera source (whose decoder threads end then).
 */
async function measured(frames: number, work: (ending: () => void) => Promise<void>): Promise<Pass> {
  const threads0 = threadCpuMs();
  let atEnd: Map<number, number> | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work(() => (atEnd = threadCpuMs()));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const threads1 = threadCpuMs();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const decoder = threadCpuDelta(threads0, atEnd ?? threads1, (_, isNew) => (isNew ? 'decoder' : 'other'))['decoder'];
  const rest = threadCpuDelta(threads0, threads1, (tid, isNew) => (tid === process.pid ? 'main' : isNew ? 'ended' : nodeThreads.has(tid) ? 'node' : 'worker'));
  const perFrame = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / frames);
  const byThread = threads0.size === 0 ? {} : { main: perFrame(rest['main']), decoder: perFrame(decoder), worker: perFrame(rest['worker']), node: perFrame(rest['node']) };
  return { fps: frames / seconds, cpuMsPerFrame: cpuMs / frames, threads: byThread as Pass['threads'], cores: cpuMs / 1000 / seconds };
}

/** Runs a camera source over the clip; every record goes to `take`, awaited (that is the edge). */
async function runSource(path: string, take: (r: RecordInput) => Promise<void>, ending: () => void = () => undefined): Promise<void> {
  const source = new CameraSource({ id: 'cam', stream: 'cam', input: { file: path }, streamFps: FPS, realtime: false, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
  const abort = new AbortController();
  let n = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
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
  ending();
  abort.abort();
  await source.stop();
}

/** The clip: the simulated conveyor, H.264, written to `dir`. Returns its path and how many frames show the belt moving. */
async function conveyorClip(dir: string): Promise<{ path: string; moving: number }> {
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
  const path = `${dir}/conveyor-720p.h264`;
  await writeFile(path, clip);
  return { path, moving };
}

/** Decode only: the camera source, each frame handed back at once (or kept, for the inference pass). */
function decodePass(path: string, keep?: RawFrame[]): Promise<Pass> {
  return measured(FRAMES, (ending) =>
    runSource(
      path,
      async (r) => {
        if (!isFrameRecordData(r.data)) return;
        if (keep === undefined) r.data.frame.release?.();
        else keep.push(r.data.frame);
      },
      ending,
    ),
  );
}

/** Inference only: the detector on tensors preprocessed beforehand, on the stage's thread. */
async function inferPass(frames: readonly RawFrame[]): Promise<number> {
  const detector = await VisionModel.load(await readFile(BUILTIN_DETECTOR_PATH()), new OnnxBackend({ threads: ONNXRUNTIME_DEFAULTS.threads }), { providers: ['cpu'] }, { task: 'detection', classNames: [...CLASS_NAMES] });
  const tensors = frames.map((f) => Float32Array.from(detector.preprocess(f).tensor));
  const t0 = performance.now();
  for (const t of tensors) await detector.infer(t);
  const fps = tensors.length / ((performance.now() - t0) / 1000);
  await detector.close();
  return fps;
}

/** The pipeline: source and stage concurrently through a bounded edge of EDGE_FRAMES frames (block when full). */
async function pipelinePass(path: string, stage: VisionStage): Promise<Pass> {
  const edge: RecordInput[] = [];
  let space: (() => void) | undefined;
  let item: (() => void) | undefined;
  return measured(FRAMES, async (ending) => {
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
      await stage.settled();
    })();
    await runSource(
      path,
      async (r) => {
        while (edge.length >= EDGE_FRAMES) await new Promise<void>((resolve) => (space = resolve));
        edge.push(r);
        item?.();
      },
      ending,
    );
    await consumer;
  });
}

/**
 * How many cores the process can get now: this thread and one worker per other core spin for
 * `ms`; their CPU time over the wall time. With other work on the box it is below the core count.
 */
class CoreProbe {
  private readonly workers: Worker[];

  constructor(readonly cores = availableParallelism()) {
    const spin = `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (ms) => { const end = performance.now() + ms; while (performance.now() < end); parentPort.postMessage(0); });`;
    this.workers = Array.from({ length: cores - 1 }, () => new Worker(spin, { eval: true }));
  }

  async measure(ms = 250): Promise<number> {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = Promise.all(this.workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    for (const w of this.workers) w.postMessage(ms);
    const end = t0 + ms;
    while (performance.now() < end);
    await done;
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Median CPU ms per frame of each thread group over the passes, as `main 0.52, decoder 1.41, ...`. */
function threadsOf(passes: readonly Pass[]): string {
  const groups = ['main', 'decoder', 'worker', 'node'] as const;
  return groups
    .map((g) => `${g} ${median(passes.map((p) => p.threads[g] ?? Number.NaN)).toFixed(2)}`)
    .filter((t) => !t.endsWith('NaN'))
    .join(', ');
}

export async function benchVision(args: readonly string[] = []): Promise<void> {
  const rounds = Number(option(args, 'rounds') ?? 5);
  const thread = option(args, 'thread') ?? 'worker';
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 50) || (thread !== 'worker' && thread !== 'main')) {
    process.stderr.write('usage: npm run bench -- vision [--rounds 1..50] [--thread worker|main]\n');
    process.exit(2);
  }
  const dir = await makeTempDir();
  nodeThreads = new Set(threadCpuMs().keys());
  try {
    const { path, moving } = await conveyorClip(dir.path);
    const make = async (): Promise<VisionStage> =>
      (await visionStagePlugin.create({ type: 'vision', inferenceThread: thread }, { backend: defaultBackend(), gatewayId: 'bench', stateDir: dir.path, decisions: { append: async () => undefined }, events: events() })) as VisionStage;

    // Decode once keeping the frames, for the inference pass; the stage warms up (loads its model, JIT) on a first pass.
    const frames: RawFrame[] = [];
    await decodePass(path, frames);
    const inferFps = await inferPass(frames);
    progress(`inference: ${inferFps.toFixed(1)} frames/s (detector, ${frames.length} preprocessed frames)`);
    frames.length = 0;
    const stage = await make();
    await pipelinePass(path, stage);

    const probe = new CoreProbe();
    const decodes: Pass[] = [];
    const pipelines: Pass[] = [];
    const ratios: number[] = [];
    const bounded: number[] = [];
    const available: number[] = [];
    for (let r = 0; r < rounds; r += 1) {
      const d = await decodePass(path);
      const before = await probe.measure();
      const p = await pipelinePass(path, stage);
      // The probe's moments are not the pass's: the pass itself shows it could get at least what it used.
      const cores = Math.max(p.cores, (before + (await probe.measure())) / 2);
      decodes.push(d);
      pipelines.push(p);
      available.push(cores);
      ratios.push(p.fps / Math.min(d.fps, inferFps));
      bounded.push(p.fps / Math.min(d.fps, inferFps, (cores * 1000) / p.cpuMsPerFrame));
      progress(
        `round ${r + 1}: decode ${d.fps.toFixed(1)} frames/s (${d.cpuMsPerFrame.toFixed(2)} ms CPU/frame), pipeline ${p.fps.toFixed(1)} frames/s (${p.cpuMsPerFrame.toFixed(2)} ms CPU/frame, ${p.cores.toFixed(2)} cores of ${cores.toFixed(2)} available): ratio ${(ratios[r] as number).toFixed(3)}, CPU-bound ratio ${(bounded[r] as number).toFixed(3)}`,
      );
    }
    await probe.close();
    const s = stage.stats();
    await stage.stop();
    const passes = rounds + 1;
    const gated = (s['inferred'] as number) / (FRAMES * passes);
    const med = (xs: readonly Pass[], f: (p: Pass) => number | undefined): number => median(xs.map((x) => f(x) ?? Number.NaN));
    const decodeFps = med(decodes, (p) => p.fps);
    const pipelineFps = med(pipelines, (p) => p.fps);
    const decodeCpu = med(decodes, (p) => p.cpuMsPerFrame);
    const pipelineCpu = med(pipelines, (p) => p.cpuMsPerFrame);
    progress(
      `pipeline (${thread} thread): median ${pipelineFps.toFixed(1)} frames/s; inference ran on ${(gated * 100).toFixed(1)}% of frames (belt moving in ${((moving / FRAMES) * 100).toFixed(1)}%); preprocess ${String(s['preprocessMeanMs'])} ms, inference ${String(s['inferenceMeanMs'])} ms per inferred frame; ${String(s['defects'])} defect events in ${passes} passes; ratios ${ratios.map((x) => x.toFixed(3)).join(', ')}`,
    );
    finish('vision', pipelineFps, Math.min(decodeFps, inferFps), 'frames/s', {
      // The median of the rounds' own ratios (each round's pipeline over that round's decode), not the ratio of the medians.
      ratio: round3(median(ratios)),
      thread,
      rounds,
      gated_share: round3(gated),
      motion_share: round3(moving / FRAMES),
      decode_fps: Math.round(decodeFps),
      infer_fps: Math.round(inferFps),
      decode_cpu_ms_per_frame: round3(decodeCpu),
      pipeline_cpu_ms_per_frame: round3(pipelineCpu),
      decode_threads_cpu_ms_per_frame: threadsOf(decodes),
      pipeline_threads_cpu_ms_per_frame: threadsOf(pipelines),
      pipeline_cores: round3(med(pipelines, (p) => p.cores)),
      cpu_ratio: round3(decodeCpu / pipelineCpu),
      cores_available: round3(median(available)),
      ratio_cpu_bound: round3(median(bounded)),
      ratio_min: round3(Math.min(...ratios)),
      ratio_max: round3(Math.max(...ratios)),
    });
  } finally {
    await dir.remove();
  }
  process.exit(0);
}
