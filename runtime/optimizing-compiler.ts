import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';

/**
 * V8's optimizing compilers (TurboFan; Maglev too on Node.js 22+) only once the gateway is busy.
 *
 * bin/edgewise starts `edgewise gateway` with `--no-turbofan --no-maglev`: its JavaScript runs
 * in V8's interpreter. Compiling hot functions with TurboFan makes them 3-10x faster, but the
 * compiler is several megabytes of the node binary that, once run, stay resident, plus the
 * optimized code and its deoptimization data: an idle gateway of the example config held 61.5 MB
 * with TurboFan and 57.7 without (side by side, 2026-12-02; issue 19's budget is < 60 MB), and at
 * 1,000 records/s 65.7 against 58.7. Interpreted, that idle gateway keeps its event loop 1-1.5 %
 * busy; at 100 records/s about 4 %, at 1,000 about 8 %.
 *
 * So the gateway watches its event loop: once it was busy for at least `busyShare` (5 %) of a
 * `windowMs` (10 s) window, it turns the compilers on for good (V8 reads these flags each time
 * it decides to optimize a function, so turning them on later is like having started with them;
 * nothing turns them off again). A gateway polling PLCs, decoding video or draining a backlog
 * gets there within seconds; an idle one never pays for them.
 */
export const OPTIMIZE_WINDOW_MS = 10_000;
export const OPTIMIZE_BUSY_SHARE = 0.05;
/** The flag that turned them off (bin/edgewise, for the gateway command only). */
export const INTERPRETER_ONLY_FLAG = '--no-turbofan';

export interface OptimizingCompilerOptions {
  readonly windowMs?: number;
  readonly busyShare?: number;
  /** Whether this process was started with the compilers off (default: `--no-turbofan` in process.execArgv). */
  readonly startedWithout?: boolean;
  /** Event loop utilization since `prev` (tests); default perf_hooks'. */
  readonly utilization?: (prev?: EventLoopUtilization) => EventLoopUtilization;
  /** Sets V8 flags (tests); default v8.setFlagsFromString. */
  readonly setFlags?: (flags: string) => void;
  /** Called once when the compilers are turned on, with the busy share that did it. */
  readonly onEnabled?: (busyShare: number) => void;
}

/** The flags that turn the compilers on again: Maglev is on by default from V8 12 (Node.js 22). */
export function optimizingCompilerFlags(v8Version: string = process.versions.v8): string {
  return Number(v8Version.split('.')[0]) >= 12 ? '--turbofan --maglev' : '--turbofan';
}

/** Turns the compilers on now, if this process started without them; true if it did. */
export function enableOptimizingCompiler(options: Pick<OptimizingCompilerOptions, 'startedWithout' | 'setFlags'> = {}): boolean {
  if (!(options.startedWithout ?? process.execArgv.includes(INTERPRETER_ONLY_FLAG))) return false;
  (options.setFlags ?? setFlagsFromString)(optimizingCompilerFlags());
  return true;
}

/**
 * Starts watching (an unref'd timer, never keeping the process alive); returns what stops it. Does
 * nothing in a process started with the compilers on (tests, `node dist/cli/main.js`).
 */
export function startOptimizingCompilerOnLoad(options: OptimizingCompilerOptions = {}): () => void {
  const startedWithout = options.startedWithout ?? process.execArgv.includes(INTERPRETER_ONLY_FLAG);
  if (!startedWithout) return () => undefined;
  const utilization = options.utilization ?? ((prev?: EventLoopUtilization) => performance.eventLoopUtilization(prev));
  const busyShare = options.busyShare ?? OPTIMIZE_BUSY_SHARE;
  let last = utilization();
  const timer = setInterval(() => {
    const now = utilization();
    const share = utilization(last).utilization;
    last = now;
    if (share < busyShare) return;
    clearInterval(timer);
    enableOptimizingCompiler({ startedWithout, ...(options.setFlags === undefined ? {} : { setFlags: options.setFlags }) });
    options.onEnabled?.(share);
  }, options.windowMs ?? OPTIMIZE_WINDOW_MS);
  timer.unref();
  return () => clearInterval(timer);
}
