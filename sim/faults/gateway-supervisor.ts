import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { dieWithParent } from './die-with-parent.js';
import { FaultToolError } from './errors.js';
import type { FaultLog } from './fault-log.js';
import { LineTail } from './line-tail.js';
import { readProcSample } from './proc-stats.js';

/** `bin/edgewise` of this checkout (from sim/faults/ or dist/sim/faults/): the sh wrapper that starts node with the gateway's V8 flags. */
function edgewiseBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = join(dir, 'bin', 'edgewise');
    if (existsSync(bin) && existsSync(join(dir, 'package.json'))) return bin;
    const up = dirname(dir);
    if (up === dir) throw new FaultToolError('E_GATEWAY_START', `cannot find bin/edgewise above ${dirname(fileURLToPath(import.meta.url))}`);
    dir = up;
  }
}

/** A JSON log line of the gateway (pino). */
export type GatewayLogLine = Readonly<Record<string, unknown>>;

export interface GatewaySupervisorOptions {
  /** The gateway's id: the fault log's `target`. */
  readonly id: string;
  readonly configPath: string;
  readonly log?: FaultLog;
  /** Every JSON line the gateway logs, as it comes (the runner watches alerts and uplink events here). */
  readonly onLine?: (line: GatewayLogLine) => void;
  /** Lines of stdout and of stderr kept (the last ones). Default 200. */
  readonly tailLines?: number;
  /** Default 30 s: a gateway loading ONNX models on a busy 2-core box takes seconds. */
  readonly readyTimeoutMs?: number;
  /** SIGTERM, then SIGKILL after this long. Default 15 s. */
  readonly stopTimeoutMs?: number;
  /** How often RSS and CPU are read from /proc. Default 1000 ms; 0: only when asked. */
  readonly sampleEveryMs?: number;
  /** Samples kept (the last ones). Default 3600 (an hour at one a second). */
  readonly maxSamples?: number;
  /** The command; default this checkout's bin/edgewise. */
  readonly bin?: string;
}

export type GatewayState = 'stopped' | 'starting' | 'running' | 'killed' | 'exited' | 'stopping';

export interface ResourceSample {
  readonly atMs: number;
  readonly rssBytes: number;
  /** CPU use since the previous sample of the same process, in percent of one core. */
  readonly cpuPercent: number;
}

export interface GatewayResources {
  /** RSS at the last sample; null when the process is down. */
  readonly rssBytes: number | null;
  readonly peakRssBytes: number;
  /** CPU seconds over every run of the gateway (up to each run's last sample). */
  readonly cpuSeconds: number;
  /** Time the gateway was up (from spawn to exit), over every run. */
  readonly upSeconds: number;
  readonly samples: readonly ResourceSample[];
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One run of the gateway process. */
interface Run {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAt: number;
  readonly exited: Promise<ExitStatus>;
  exitedAt: number | undefined;
  /** We asked it to go (kill -9, stop): its exit is not a crash. */
  expected: boolean;
  lastCpuSeconds: number;
  lastSampleAt: number;
}

/** Log levels at which the gateway says nothing at info, so its `gateway.started` line never comes. */
const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent']);

/**
 * One gateway as a child process, started as a user starts it (`bin/edgewise gateway --config
 * FILE`, so with the gateway's own V8 flags). It is up when it logs `gateway.started` (after
 * its store, uplink, health endpoint and pipelines have started; the line names the health
 * URL). The supervisor kills it with SIGKILL and restarts it on the simulator's schedule,
 * records both in the fault log, notices an exit nobody asked for, keeps the last lines of
 * its output and reads its RSS and CPU from /proc for the scorecard.
 */
export class GatewaySupervisor {
  private run: Run | undefined;
  private current: GatewayState = 'stopped';
  private downSince = 0;
  private health: string | null = null;
  private readonly stdoutTail: LineTail;
  private readonly stderrTail: LineTail;
  private readonly samples: ResourceSample[] = [];
  private peakRss = 0;
  private cpuOfEndedRuns = 0;
  private upMsOfEndedRuns = 0;
  private sampler: NodeJS.Timeout | undefined;
  private lastExit: ExitStatus = { code: null, signal: null };
  readonly counters = { starts: 0, kills: 0, unexpectedExits: 0, forcedStops: 0 };

  constructor(private readonly options: GatewaySupervisorOptions) {
    this.stdoutTail = new LineTail(options.tailLines ?? 200);
    this.stderrTail = new LineTail(options.tailLines ?? 200);
  }

  get state(): GatewayState {
    return this.current;
  }

  get pid(): number | undefined {
    return this.current === 'running' || this.current === 'starting' || this.current === 'stopping' ? this.run?.pid : undefined;
  }

  /** `http://host:port/health` when the config has `health.listen`, from its gateway.started line. */
  get healthUrl(): string | null {
    return this.health;
  }

  /** The last lines of stdout (JSON log lines) and stderr. */
  tail(): { readonly stdout: readonly string[]; readonly stderr: readonly string[] } {
    return { stdout: this.stdoutTail.get(), stderr: this.stderrTail.get() };
  }

  /** Starts the gateway and waits until it is up. */
  async start(): Promise<void> {
    if (this.run !== undefined) throw new FaultToolError('E_GATEWAY_STATE', `gateway ${this.options.id} is already ${this.current}`);
    await this.checkLogLevel();
    this.current = 'starting';
    this.health = null;
    // A gateway outliving the simulator would hold its data directory's lock and its ports: it gets a SIGTERM when the simulator dies.
    const [cmd, args] = dieWithParent(this.options.bin ?? edgewiseBin(), ['gateway', '--config', this.options.configPath], 'TERM');
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const spawned = await new Promise<number | Error>((resolve) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err) => resolve(err));
    });
    if (spawned instanceof Error) {
      this.current = 'stopped';
      throw new FaultToolError('E_GATEWAY_START', `gateway ${this.options.id}: cannot start ${this.options.bin ?? 'bin/edgewise'}: ${spawned.message}`, { cause: spawned });
    }
    this.counters.starts += 1;
    let onStarted: (health: string | null) => void = () => undefined;
    const started = new Promise<string | null>((resolve) => (onStarted = resolve));
    const run: Run = {
      child,
      pid: spawned,
      spawnedAt: performance.now(),
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      exitedAt: undefined,
      expected: false,
      lastCpuSeconds: 0,
      lastSampleAt: performance.now(),
    };
    this.run = run;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      this.stdoutTail.push(text);
      let line: GatewayLogLine;
      try {
        line = JSON.parse(text) as GatewayLogLine;
      } catch {
        return; // not a log line
      }
      if (line['event'] === 'gateway.started') onStarted(typeof line['health'] === 'string' ? line['health'] : null);
      this.options.onLine?.(line);
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (text) => this.stderrTail.push(text));
    void run.exited.then((status) => this.onExit(run, status));

    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      started.then((health) => ({ health })),
      run.exited.then((status) => ({ status })),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.current = 'stopped';
      run.expected = true;
      child.kill('SIGKILL');
      await run.exited;
      await drained(child);
      throw new FaultToolError('E_GATEWAY_READY_TIMEOUT', `gateway ${this.options.id} did not log gateway.started within ${timeoutMs} ms (killed); its last output:\n${this.lastOutput()}`);
    }
    if ('status' in outcome) {
      this.current = 'stopped';
      await drained(child);
      throw new FaultToolError('E_GATEWAY_START', `gateway ${this.options.id} exited before it was up (${describeExit(outcome.status)}): ${this.lastOutput()}`);
    }
    this.health = outcome.health;
    this.current = 'running';
    this.startSampling();
  }

  /** kill -9: the process dies at once, wherever it was (the fault log has it before the signal goes). */
  async kill9(): Promise<void> {
    const run = this.running('kill -9');
    await this.sample();
    run.expected = true;
    this.counters.kills += 1;
    this.options.log?.record('kill', this.options.id, 'start', { pid: run.pid });
    run.child.kill('SIGKILL');
    await run.exited;
    this.current = 'killed';
    this.downSince = performance.now();
  }

  /**
   * Starts the gateway again and waits until it is up; the fault (a kill, or an exit nobody
   * asked for) ends then. A running gateway is stopped cleanly first.
   */
  async restart(): Promise<void> {
    if (this.current === 'running') await this.stop();
    const was = this.current;
    await this.start();
    const detail = { pid: this.run?.pid ?? null, downMs: Math.round(performance.now() - this.downSince) };
    if (was === 'killed') this.options.log?.record('kill', this.options.id, 'end', detail);
    if (was === 'exited') this.options.log?.record('exit', this.options.id, 'end', detail);
  }

  /** SIGTERM and wait (the gateway drains and closes its store); SIGKILL after stopTimeoutMs. Stopping a stopped gateway returns its last exit. */
  async stop(): Promise<ExitStatus & { readonly forced: boolean }> {
    const run = this.run;
    if (run === undefined) {
      this.current = 'stopped';
      return { ...this.lastExit, forced: false };
    }
    // Also while starting (the runner gave up waiting, say): start() then fails with E_GATEWAY_START.
    await this.sample();
    run.expected = true;
    this.current = 'stopping';
    run.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = await Promise.race([run.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.options.stopTimeoutMs ?? 15_000)))]);
    clearTimeout(timer);
    if (forced) {
      this.counters.forcedStops += 1;
      run.child.kill('SIGKILL');
    }
    const status = await run.exited;
    this.current = 'stopped';
    return { ...status, forced };
  }

  /** RSS and CPU of the gateway over its runs. */
  resources(): GatewayResources {
    const run = this.run;
    const upNow = run === undefined ? 0 : performance.now() - run.spawnedAt;
    return {
      rssBytes: run === undefined ? null : (this.samples[this.samples.length - 1]?.rssBytes ?? null),
      peakRssBytes: this.peakRss,
      cpuSeconds: this.cpuOfEndedRuns + (run?.lastCpuSeconds ?? 0),
      upSeconds: (this.upMsOfEndedRuns + upNow) / 1000,
      samples: [...this.samples],
    };
  }

  /** Reads RSS and CPU now (the timer does it every sampleEveryMs). */
  async sample(): Promise<ResourceSample | undefined> {
    const run = this.run;
    if (run === undefined) return undefined;
    const s = await readProcSample(run.pid);
    if (s === undefined || this.run !== run || run.exitedAt !== undefined) return undefined;
    const now = performance.now();
    const sample: ResourceSample = { atMs: Math.round(now), rssBytes: s.rssBytes, cpuPercent: now > run.lastSampleAt ? (100 * (s.cpuSeconds - run.lastCpuSeconds) * 1000) / (now - run.lastSampleAt) : 0 };
    run.lastCpuSeconds = s.cpuSeconds;
    run.lastSampleAt = now;
    this.peakRss = Math.max(this.peakRss, s.rssBytes);
    this.samples.push(sample);
    if (this.samples.length > (this.options.maxSamples ?? 3600)) this.samples.shift();
    return sample;
  }

  private running(what: string): Run {
    if (this.run === undefined || this.current !== 'running') throw new FaultToolError('E_GATEWAY_STATE', `cannot ${what} gateway ${this.options.id}: it is ${this.current}`);
    return this.run;
  }

  private startSampling(): void {
    const every = this.options.sampleEveryMs ?? 1000;
    if (every <= 0 || this.sampler !== undefined) return;
    this.sampler = setInterval(() => void this.sample(), every);
    this.sampler.unref();
  }

  private onExit(run: Run, status: ExitStatus): void {
    run.exitedAt = performance.now();
    this.lastExit = status;
    this.cpuOfEndedRuns += run.lastCpuSeconds;
    this.upMsOfEndedRuns += run.exitedAt - run.spawnedAt;
    if (this.run === run) this.run = undefined;
    clearInterval(this.sampler);
    this.sampler = undefined;
    if (run.expected || this.current !== 'running') return;
    // Nobody asked it to go: a crash (or an outside kill). Not injected, but the gateway was down.
    this.counters.unexpectedExits += 1;
    this.current = 'exited';
    this.downSince = run.exitedAt;
    this.options.log?.record('exit', this.options.id, 'start', { pid: run.pid, code: status.code, signal: status.signal, stderr: this.stderrTail.get().slice(-1)[0] ?? null });
  }

  /**
   * The supervisor knows a gateway is up by its `gateway.started` line, which is logged at
   * info: a config that logs less would make every start time out, so it is refused here.
   */
  private async checkLogLevel(): Promise<void> {
    let level: unknown;
    try {
      level = (parseYaml(await readFile(this.options.configPath, 'utf8')) as { log?: { level?: unknown } } | null)?.log?.level;
    } catch {
      return; // unreadable or not YAML: the gateway itself says what is wrong, and start() reports it
    }
    if (typeof level === 'string' && QUIET_LEVELS.has(level)) {
      throw new FaultToolError('E_GATEWAY_START', `gateway ${this.options.id}: ${this.options.configPath}: log.level is ${level}, so the gateway.started line (info) that says it is up never comes: set log.level to info or debug`);
    }
  }

  private lastOutput(): string {
    const err = this.stderrTail.text();
    return err === '' ? this.stdoutTail.get().slice(-5).join('\n') : err;
  }
}

/** The rest of its output may still be in the pipes when a child has exited: an error message must have it. */
async function drained(child: ChildProcess): Promise<void> {
  await Promise.all(
    [child.stdout, child.stderr].map((stream) => new Promise<void>((resolve) => (stream === null || stream.closed ? resolve() : stream.once('close', () => resolve())))),
  );
}

function describeExit(s: ExitStatus): string {
  return s.signal === null ? `exit code ${String(s.code)}` : `signal ${s.signal}`;
}
