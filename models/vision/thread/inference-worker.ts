import { parentPort, workerData } from 'node:worker_threads';
import { backendFromRecipe } from '../../../runtime/inference/backend-recipe.js';
import type { BackendRecipe, InferenceBackend } from '../../engine/engine.js';
import { FrameRunError, LocalFrameRunner } from './frame-runner.js';
import { frameOf } from './frame-transfer.js';
import type { WorkerReply, WorkerRequest } from './inference-protocol.js';

/**
 * The inference worker of one vision stage (started by inference-thread.ts): it holds the
 * stage's models (the active one, and the one being switched from) and runs frames through
 * preprocessing, the gateway's backend (ONNX Runtime by default), decoding and the crop
 * classifier, so that the stage's thread only gates, tracks and reports. ONNX Runtime's `run`
 * is synchronous on the thread that calls it (onnxruntime-node defers it with setImmediate, no
 * more), so here it blocks this thread and not the gateway's.
 */
const port = parentPort;
if (port === null) throw new Error('inference-worker.ts runs as a worker thread (inference-thread.ts starts it)');

// The gateway's backend, built here from its plug-in (a runtime's sessions cannot cross threads).
// Built at once: a backend that cannot be built in a worker says so to the first load.
const backend: Promise<InferenceBackend> = backendFromRecipe((workerData as { backend: BackendRecipe }).backend);
backend.catch(() => undefined);
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
        let built: InferenceBackend;
        try {
          built = await backend;
        } catch (err) {
          return reply({ id: req.id, ok: false, message: (err as Error).message, inferenceMs: undefined, backend: true });
        }
        const runner = await LocalFrameRunner.load(req.spec, built);
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
        await (await backend.catch(() => undefined))?.close?.().catch(() => undefined);
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
