import { readdir, readFile } from 'node:fs/promises';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { readProcSample } from '../faults/proc-stats.js';

/**
 * Whether the simulator kept up with its scenario, and what the whole simulated plant cost:
 * the run is real time when the simulator's event loop answered within `REALTIME` (every
 * in-process gateway, the fleet and the MCUs share it) and each scenario action was played
 * within `REALTIME.actionLagMs` of its time. Past that, detection delays and latencies on the
 * scorecard measure the machine, not edgewise.
 */
export const REALTIME = { loopDelayP99Ms: 100, actionLagMs: 500 } as const;

export interface RunFootprint {
  /** The event loop's delay over the run (perf_hooks), p99 and max in ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** The loop's delay p99 with only the fleet running, before the gateways (0: not measured). */
  readonly idleLoopDelayP99Ms: number;
  /** The latest a scenario action was played after its time. */
  readonly actionLagMaxMs: number;
  /** Resident memory of the simulator and every process under it (gateway processes, socat), at its largest. */
  readonly rssPeakBytes: number;
  /** The same before the first gateway started: the simulator with the fleet service (broker, database, API). */
  readonly rssFleetBytes: number;
  /** CPU of that process tree over the run, in cores (1 = one core busy the whole time). */
  readonly cpuCores: number;
  readonly realtime: boolean;
}

/** The pids of every process under `root` (children, grandchildren, ...), from /proc. */
async function descendants(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) is the second after the parenthesised command name.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parentOf.set(pid, ppid);
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop() as number;
    for (const [pid, ppid] of parentOf) if (ppid === p) (out.push(pid), frontier.push(pid));
  }
  return out;
}

/** Samples the process tree every `everyMs` and the event loop all the time, from `start()` to `stop()`. */
export class RunMeter {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private timer: NodeJS.Timeout | undefined;
  private rssPeak = 0;
  private actionLag = 0;
  /** CPU seconds per pid at its latest sample: a process that exits keeps what it used. */
  private readonly cpuByPid = new Map<number, number>();
  private startedMs = 0;
  private sampling: Promise<void> = Promise.resolve();
  private firstSample = true;
  private readonly baseCpu = new Map<number, number>();

  private rssFleet = 0;

  constructor(private readonly everyMs = 2000) {}

  private idleLoopP99 = 0;

  /**
   * Measures the process tree before any gateway starts (what the plant costs is the rest) and,
   * given `idleMs`, the event loop's delay over that long with only the fleet running: the
   * machine's own noise, the baseline a benchmark compares the run's delay with.
   */
  async beforeGateways(idleMs = 0): Promise<void> {
    const pids = [process.pid, ...(await descendants(process.pid))];
    for (const pid of pids) this.rssFleet += (await readProcSample(pid))?.rssBytes ?? 0;
    if (idleMs <= 0) return;
    const idle = monitorEventLoopDelay({ resolution: 10 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    idle.disable();
    this.idleLoopP99 = Math.round(idle.percentile(99) / 1e4) / 100;
  }

  start(): void {
    this.startedMs = Date.now();
    this.loop.enable();
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  /** An action meant for `plannedMs` ran at `playedMs`. */
  played(plannedMs: number, playedMs: number): void {
    this.actionLag = Math.max(this.actionLag, playedMs - plannedMs);
  }

  async stop(): Promise<RunFootprint> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    this.loop.disable();
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const loopDelayP99Ms = ms(this.loop.percentile(99));
    const seconds = Math.max(0.001, (Date.now() - this.startedMs) / 1000);
    const cpu = [...this.cpuByPid.values()].reduce((a, b) => a + b, 0);
    return {
      loopDelayP99Ms,
      loopDelayMaxMs: ms(this.loop.max),
      idleLoopDelayP99Ms: this.idleLoopP99,
      actionLagMaxMs: Math.round(this.actionLag),
      rssPeakBytes: this.rssPeak,
      rssFleetBytes: this.rssFleet,
      cpuCores: Math.round((cpu / seconds) * 100) / 100,
      realtime: loopDelayP99Ms <= REALTIME.loopDelayP99Ms && this.actionLag <= REALTIME.actionLagMs,
    };
  }

  private sample(): Promise<void> {
    this.sampling = this.sampling.then(async () => {
      const first = this.firstSample;
      this.firstSample = false;
      const pids = [process.pid, ...(await descendants(process.pid))];
      let rss = 0;
      for (const pid of pids) {
        const s = await readProcSample(pid);
        if (s === undefined) continue;
        rss += s.rssBytes;
        // CPU used since the run started: a process there at the first sample counts from there, a later one from its birth.
        if (!this.baseCpu.has(pid)) this.baseCpu.set(pid, first ? s.cpuSeconds : 0);
        this.cpuByPid.set(pid, s.cpuSeconds - (this.baseCpu.get(pid) ?? 0));
      }
      this.rssPeak = Math.max(this.rssPeak, rss);
    });
    return this.sampling;
  }

}
