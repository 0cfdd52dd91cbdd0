import { readFile } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultBackend, defaultBackendRecipe } from '../../../support/inference-backend.js';
import { BUILTIN_CLASSIFIER_PATH, BUILTIN_DETECTOR_PATH, VISION_DEFAULTS } from '../../../../models/vision/index.js';
import { CLASS_NAMES } from '../../../../models/vision/detector/architecture.js';
import { FrameRunError, LocalFrameRunner, type FrameModelSpec } from '../../../../models/vision/thread/frame-runner.js';
import { InferenceThread } from '../../../../models/vision/thread/inference-thread.js';
import { FrameBufferPool, packedLayout, type RawFrame } from '../../../../runtime/pipeline/frame.js';
import { ConveyorScene } from '../../../../sim/camera/index.js';
import { CapturingEventLog } from '../../shadow-support.js';

const W = 640;
const H = 360;

/** Frames of the simulated conveyor with parts on the belt; `shared`: in a SharedArrayBuffer, as the camera decoder hands them out. */
function conveyorFrames(n: number, shared: boolean): RawFrame[] {
  const scene = new ConveyorScene({ width: W, height: H, fps: 10, seed: 7 });
  const pool = new FrameBufferPool();
  return Array.from({ length: n }, () => {
    const f = scene.next();
    const { layout, size } = packedLayout('I420', W, H);
    const data = shared ? pool.take(size) : new Uint8Array(size);
    data.set(f.y, 0);
    data.set(f.u, W * H);
    data.set(f.v, W * H + (W / 2) * (H / 2));
    return { format: 'I420', width: W, height: H, data, layout, timestampUs: f.timestampUs };
  });
}

async function spec(): Promise<FrameModelSpec> {
  return {
    bytes: await readFile(BUILTIN_DETECTOR_PATH()),
    classifierBytes: await readFile(BUILTIN_CLASSIFIER_PATH()),
    providers: ['cpu'],
    threads: 1,
    options: { task: 'detection', classNames: [...CLASS_NAMES], confidence: VISION_DEFAULTS.confidence, iouThreshold: VISION_DEFAULTS.iouThreshold },
  };
}

describe('the inference worker thread of a vision stage', () => {
  let thread: InferenceThread | undefined;
  afterEach(async () => {
    await thread?.close();
    thread = undefined;
  });

  it('gives the same detections and crop classes as the model on the stage thread, for frames in shared memory and frames it must copy', async () => {
    const events = new CapturingEventLog();
    thread = new InferenceThread({ backend: defaultBackendRecipe(), events: events.for('vision') });
    const s = await spec();
    const inWorker = await thread.load(s);
    const local = await LocalFrameRunner.load(s, defaultBackend());
    expect(inWorker.info).toEqual(local.info);
    let boxes = 0;
    for (const shared of [true, false]) {
      for (const frame of conveyorFrames(12, shared)) {
        const [a, b] = await Promise.all([inWorker.run(frame, { tensor: true }), local.run(frame, { tensor: true })]);
        expect(a.result).toEqual(b.result);
        expect(a.crops).toEqual(b.crops);
        expect(a.letterbox).toEqual(b.letterbox);
        expect(Array.from(a.tensor ?? [])).toEqual(Array.from(b.tensor ?? []));
        boxes += a.result.kind === 'detections' ? a.result.detections.length : 0;
      }
    }
    await local.close();
    expect(boxes).toBeGreaterThan(10);
    expect(thread.restarts).toBe(0);
    expect(threadId).toBe(0); // the test itself runs on the main thread: the worker is another one
  });

  it('a worker that dies fails the frames it had (no wait), says so with an event, and the next load starts a new one that works', async () => {
    const events = new CapturingEventLog();
    thread = new InferenceThread({ backend: defaultBackendRecipe(), events: events.for('vision'), restart: { minDelayMs: 10, maxDelayMs: 50 } });
    let exits = 0;
    thread.onExit(() => (exits += 1));
    const frames = conveyorFrames(4, true);
    const runner = await thread.load(await spec());
    await runner.run(frames[0] as RawFrame, { tensor: false });

    thread.crash();
    const lost = await Promise.allSettled([runner.run(frames[1] as RawFrame, { tensor: false }), runner.run(frames[2] as RawFrame, { tensor: false })]);
    for (const r of lost) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(FrameRunError);
      expect(String((r as PromiseRejectedResult).reason.message)).toMatch(/the inference worker exited \(exit code 70\)/);
    }
    expect(exits).toBe(1);
    expect(thread.restarts).toBe(1);
    const exited = events.seen.find((e) => e.event === 'vision.worker_exited');
    expect(exited).toMatchObject({ level: 'warn', fields: { code: 'E_VISION_WORKER', exitCode: 70, requestsFailed: 2, restarts: 1 } });
    // The old runner's model went with its worker.
    await expect(runner.run(frames[3] as RawFrame, { tensor: false })).rejects.toThrow(/restarted/);

    const again = await thread.load(await spec());
    const out = await again.run(frames[3] as RawFrame, { tensor: false });
    expect(out.result.kind).toBe('detections');
    expect(events.seen.find((e) => e.event === 'vision.worker_started')).toMatchObject({ level: 'info', fields: { restarts: 1 } });
  });

  it('a worker that does not answer within the timeout is ended and said (hung, then exited); the frames behind it fail and a new one takes over', async () => {
    const events = new CapturingEventLog();
    thread = new InferenceThread({ backend: defaultBackendRecipe(), events: events.for('vision'), timeoutMs: 5_000, restart: { minDelayMs: 10, maxDelayMs: 50 } });
    const runner = await thread.load(await spec());
    const [frame] = conveyorFrames(1, true);
    const [stalled, behind] = await Promise.allSettled([thread.stall(120_000), runner.run(frame as RawFrame, { tensor: false })]);
    expect(stalled.status === 'rejected' && String(stalled.reason)).toMatch(/the inference worker exited \(no answer to a stall request in 5000 ms\)/);
    expect(behind.status === 'rejected' && String(behind.reason)).toMatch(/the inference worker exited \(no answer to a stall request/);
    expect(events.seen.filter((e) => e.event === 'vision.worker_hung')).toHaveLength(1);
    expect(events.seen.find((e) => e.event === 'vision.worker_hung')).toMatchObject({ level: 'warn', fields: { code: 'E_VISION_WORKER', request: 'stall', timeoutMs: 5_000 } });
    expect(events.seen.find((e) => e.event === 'vision.worker_exited')).toMatchObject({ fields: { requestsFailed: 2 } });
    expect(thread.restarts).toBe(1);
    expect((await (await thread.load(await spec())).run(frame as RawFrame, { tensor: false })).result.kind).toBe('detections');
  }, 60_000);

  it('a failing frame is an error for that frame only: the worker goes on', async () => {
    thread = new InferenceThread({ backend: defaultBackendRecipe(), events: new CapturingEventLog().for('vision') });
    const runner = await thread.load(await spec());
    const [good] = conveyorFrames(1, false);
    const truncated: RawFrame = { ...(good as RawFrame), data: (good as RawFrame).data.subarray(0, 1000) };
    await expect(runner.run(truncated, { tensor: false })).rejects.toThrow(/plane 0 .* does not fit in 1000 bytes/);
    expect((await runner.run(good as RawFrame, { tensor: false })).result.kind).toBe('detections');
    expect(thread.restarts).toBe(0);
  });

  it('a model that does not load is refused with the reason, and the worker stays up', async () => {
    thread = new InferenceThread({ backend: defaultBackendRecipe(), events: new CapturingEventLog().for('vision') });
    await expect(thread.load({ ...(await spec()), bytes: new TextEncoder().encode('not a model') })).rejects.toThrow(/not a valid ONNX model/);
    expect((await (await thread.load(await spec())).run(conveyorFrames(1, true)[0] as RawFrame, { tensor: false })).result.kind).toBe('detections');
    expect(thread.restarts).toBe(0);
  });
});
