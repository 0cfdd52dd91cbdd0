import { parentPort, workerData } from 'node:worker_threads';
import { OnnxBackend } from '../../engine/backends/onnxruntime/onnx-backend.js';
import { ONNXRUNTIME_DEFAULTS } from '../../engine/backends/onnxruntime/schema.js';
import { FrameRunError, LocalFrameRunner } from './frame-runner.js';
import { frameOf } from './frame-transfer.js';
import type { WorkerReply, WorkerRequest } from './inference-protocol.js';

/**
 * The inference worker of one vision stage (started by inference-thread.ts): it holds the
 * stage's models (the active one, and the one being switched from) and runs frames through
 * preprocessing, ONNX Runtime, decoding and the crop classifier, so that the stage's thread
 * only gates, tracks and reports. ONNX Runtime's `run` is synchronous on the thread that calls
 * it (onnxruntime-node defers it with setImmediate, no more), so here it blocks this thread
 * and not the gateway's.
 */
const port = parentPort;
if (port === null) throw new Error('inference-worker.ts runs as a worker thread (inference-thread.ts starts it)');

const backend = new OnnxBackend({ threads: (workerData as { threads: number | undefined }).threads ?? ONNXRUNTIME_DEFAULTS.threads });
const models = new Map<number, LocalFrameRunner>();
/** Requests one at a time, in order: a run never overlaps a close of its model, and `end` comes after the rest. */
let queue: Promise<void> = Promise.resolve();

function reply(r: WorkerReply): void {
  const tensor = r.ok ? r.output?.tensor : undefined;
  port?.postMessage(r, tensor === undefined ? [] : [tensor.buffer as ArrayBuffer]);
}

async function handle(req: WorkerRequest): Promise<void> {
  try {
    switch (req.type) {
      case 'load': {
        const runner = await LocalFrameRunner.load(req.spec, backend);
        models.set(req.model, runner);
        return reply({ id: req.id, ok: true, info: runner.info });
      }
      case 'run': {
        const runner = models.get(req.model);
        if (runner === undefined) throw new Error(`model ${req.model} is not loaded in the inference worker`);
        const output = await runner.run(frameOf(req.frame), { tensor: req.tensor });
        // The runner's input buffer is reused by the frame after next: the stage gets its own copy.
        return reply({ id: req.id, ok: true, output: { ...output, tensor: output.tensor === undefined ? undefined : Float32Array.from(output.tensor) } });
      }
      case 'close': {
        const runner = models.get(req.model);
        models.delete(req.model);
        await runner?.close();
        return reply({ id: req.id, ok: true });
      }
      case 'end': {
        for (const runner of models.values()) await runner.close().catch(() => undefined);
        models.clear();
        reply({ id: req.id, ok: true });
        port?.close();
        return;
      }
      case 'crash':
        process.exit(70);
      case 'stall': {
        const end = performance.now() + req.ms;
        while (performance.now() < end);
        return reply({ id: req.id, ok: true });
      }
    }
  } catch (err) {
    reply({ id: req.id, ok: false, message: (err as Error).message, inferenceMs: err instanceof FrameRunError ? err.inferenceMs : undefined });
  }
}

port.on('message', (req: WorkerRequest) => {
  queue = queue.then(() => handle(req));
});
