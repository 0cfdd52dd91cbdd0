import { performance } from 'node:perf_hooks';
import { OnnxBackend } from '../models/engine/backends/onnxruntime/onnx-backend.js';
import type { GoldenInput } from './model-release-golden.js';

/** What one inference of the model takes on this machine, on one thread. */
export interface LatencyMeasurement {
  /** The first run after the load: what the gateway's health check times. */
  readonly firstMs: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly runs: number;
  /** The release's budget from these (latencyBudgetMs). */
  readonly budgetMs: number;
}

/**
 * How much slower than this machine a Pi-class gateway CPU may be. A Raspberry Pi 4's
 * Cortex-A72 (1.5 GHz, 128-bit NEON) does about a fifth of the float32 multiply-adds per
 * second of one core of an x64 server or desktop with AVX2 FMA (twice the vector width, about
 * twice the clock, two FMA units), and ONNX Runtime's MLAS kernels follow that ratio on small
 * convolutions and GEMMs: about 5x. The gateway also decodes video on its other cores and runs
 * its pipeline on the same CPU, so a run meets cache and memory-bandwidth contention this
 * measurement does not: a margin of 1.6x on top. Eight times the slower of this machine's p99
 * and its first run is a budget a healthy Pi-class gateway meets and a model that is an order
 * of magnitude too slow for one (or a gateway that is swapping) does not. A gateway much faster
 * than a Pi gets the same budget: the budget guards against the model being too slow, not
 * against the gateway being quick.
 */
export const PI_CLASS_FACTOR = 8;

/**
 * The least budget given, however fast the model is here. The gateway times a run from the
 * call to the awaited result, so the time includes any wait of its event loop: a garbage
 * collection, a burst of frames' other work, a health check while the gateway is starting its
 * pipelines. On this shared 2-core machine the p99 of a 0.4 ms model was 9 to 13 ms from such
 * waits alone; a busy Pi-class gateway waits longer. Below ~50 ms the health check and the
 * probation would judge the event loop rather than the model and refuse or roll back a model
 * that is fine; 50 ms still refuses a model too slow for a 10-20 fps camera.
 */
export const MIN_BUDGET_MS = 50;

export function latencyBudgetMs(p99Ms: number, firstMs: number): number {
  return Math.max(MIN_BUDGET_MS, Math.ceil(PI_CLASS_FACTOR * Math.max(p99Ms, firstMs)));
}

/** p-th quantile (0..1) of sorted values, nearest rank. */
function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** Timed runs: up to `maxRuns`, or fewer once `maxMs` has gone by (a slow model), but at least MIN_RUNS. */
export const MIN_RUNS = 20;
export const DEFAULT_MAX_RUNS = 200;
const MAX_TIMED_MS = 3000;

/**
 * Times the model on its golden input on one thread through the engine the gateway uses: the
 * first run after the load (the health check's), then up to `maxRuns` runs after two more to
 * warm up (at least MIN_RUNS; at most ~3 s of them). Runs are sequential: nothing else of this
 * process runs meanwhile, so the numbers are the model's and the machine's. With 200 runs the
 * p99 is the third-slowest, so one hiccup of a shared machine does not set it.
 */
export async function measureLatency(bytes: Uint8Array, input: GoldenInput, maxRuns = DEFAULT_MAX_RUNS): Promise<LatencyMeasurement> {
  const model = await new OnnxBackend({ threads: 1 }).load(bytes, { providers: ['cpu'], threads: 1 });
  const feed = { [input.inputName]: { data: input.data, dims: input.dims } };
  try {
    const t0 = performance.now();
    await model.run(feed);
    const firstMs = performance.now() - t0;
    for (let i = 0; i < 2; i += 1) await model.run(feed);
    const times: number[] = [];
    const started = performance.now();
    while (times.length < Math.max(MIN_RUNS, maxRuns) && (times.length < MIN_RUNS || (times.length < maxRuns && performance.now() - started < MAX_TIMED_MS))) {
      const t = performance.now();
      await model.run(feed);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const medianMs = quantile(times, 0.5);
    const p99Ms = quantile(times, 0.99);
    return { firstMs, medianMs, p99Ms, runs: times.length, budgetMs: latencyBudgetMs(p99Ms, firstMs) };
  } finally {
    await model.close();
  }
}
