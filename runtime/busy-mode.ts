import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';

/**
 * A gateway runs small until it is busy, then fast: V8's settings that trade speed for memory
 * (the optimizing compilers off, `--optimize-for-size`) are undone once its event loop is busy.
 *
 * bin/edgewise starts `edgewise gateway` with `--no-turbofan --no-maglev` (its JavaScript runs in
 * V8's interpreter) and, like every command it starts, `--optimize-for-size`
 * (bin/gateway-node-flags). TurboFan makes hot functions 3-10x faster, but the compiler is
 * several megabytes of the node binary that, once run, stay resident, plus the optimized code:
 * an idle gateway of the example config held 61.6 MB with it and 57.7 without (side by side,
 * 2026-12-02; issue 19's budget is < 60 MB), and at 1,000 records/s 65.7 against 58.7.
 * `--optimize-for-size` keeps the heap tight (every major collection a memory-reducing one, the
 * old generation grown in small steps): 1 to 2.6 MB less idle, but under load many more
 * collections: the opcua bench's gateway spent 42 % of a core on 10,000 items with it, 29 % in
 * busy mode (below).
 *
 * Interpreted, that idle gateway keeps its event loop 1-1.5 % busy; at 100 records/s about 4 %,
 * at 1,000 about 8 %. So the gateway watches its loop: the first `windowMs` (10 s) window in which
 * it was busy for at least `busyShare` (5 %) turns the compilers on and `--optimize-for-size` off
 * (with the heap's growth bounded, BUSY_HEAP_GROWING_PERCENT),
 * for good (V8 reads these flags each time it decides to optimize a function or how to collect,
 * so setting them later is like having started with them; nothing sets them back). A gateway
 * polling PLCs, decoding video or draining a backlog gets there within seconds; an idle one never
 * pays for them.
 */
export const BUSY_WINDOW_MS = 10_000;
export const BUSY_SHARE = 0.05;
/**
 * How far the old generation may grow past what the last major collection left, in busy mode.
 * V8's own factor without `--optimize-for-size` goes up to 4x: the opcua bench's gateway (10,000
 * items) then held 177 MB (252 at its peak) against 112 with `--optimize-for-size`, for 25 % of
 * a core against 42 %. With 50 %: 126 MB (132 at its peak) for 29 % (2026-12-02, one run each).
 * V8 reads it at every collection, so it applies from the moment it is set.
 */
export const BUSY_HEAP_GROWING_PERCENT = 50;

export interface BusyModeOptions {
  readonly windowMs?: number;
  readonly busyShare?: number;
  /** The flags this process started with (tests); default process.execArgv. */
  readonly execArgv?: readonly string[];
  /** Event loop utilization since `prev` (tests); default perf_hooks'. */
  readonly utilization?: (prev?: EventLoopUtilization) => EventLoopUtilization;
  /** Sets V8 flags (tests); default v8.setFlagsFromString. */
  readonly setFlags?: (flags: string) => void;
  /** Called once, when the flags were set, with them and the busy share that did it. */
  readonly onBusy?: (flags: string, busyShare: number) => void;
}

/**
 * The flags that undo what this process started with, '' if nothing: the compilers on
 * (Maglev too where it is V8's default: V8 12, Node.js 22, and later), `--optimize-for-size` off.
 */
export function busyModeFlags(execArgv: readonly string[] = process.execArgv, v8Version: string = process.versions.v8): string {
  const flags: string[] = [];
  if (execArgv.includes('--no-turbofan')) flags.push('--turbofan');
  if (execArgv.includes('--no-maglev') && Number(v8Version.split('.')[0]) >= 12) flags.push('--maglev');
  if (execArgv.includes('--optimize-for-size')) flags.push('--no-optimize-for-size', `--heap-growing-percent=${BUSY_HEAP_GROWING_PERCENT}`);
  return flags.join(' ');
}

/** Sets the busy mode's flags now (benches of a busy gateway); returns them ('' if none). */
export function enterBusyMode(options: Pick<BusyModeOptions, 'execArgv' | 'setFlags'> = {}): string {
  const flags = busyModeFlags(options.execArgv);
  if (flags !== '') (options.setFlags ?? setFlagsFromString)(flags);
  return flags;
}

/**
 * Starts watching (an unref'd timer, never keeping the process alive); returns what stops it. Does
 * nothing in a process started with neither setting (tests, `node dist/cli/main.js`).
 */
export function startBusyModeOnLoad(options: BusyModeOptions = {}): () => void {
  const flags = busyModeFlags(options.execArgv);
  if (flags === '') return () => undefined;
  const utilization = options.utilization ?? ((prev?: EventLoopUtilization) => performance.eventLoopUtilization(prev));
  const busyShare = options.busyShare ?? BUSY_SHARE;
  let last = utilization();
  const timer = setInterval(() => {
    const share = utilization(last).utilization;
    last = utilization();
    if (share < busyShare) return;
    clearInterval(timer);
    (options.setFlags ?? setFlagsFromString)(flags);
    options.onBusy?.(flags, share);
  }, options.windowMs ?? BUSY_WINDOW_MS);
  timer.unref();
  return () => clearInterval(timer);
}
