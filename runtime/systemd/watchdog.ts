import type { NotifySink } from './notify-socket.js';

/**
 * systemd's watchdog (WatchdogSec=): the service manager restarts a service that has not sent
 * WATCHDOG=1 within the interval. A ping from a timer proves only that the event loop runs; the
 * gateway pings only while every check says its part is alive too (the store answers writes,
 * the uplink is not stuck), so a gateway whose disk hangs is restarted instead of sitting there
 * looking healthy. While a check fails the gateway says why in STATUS= (shown by `systemctl
 * status`) and in its log, once per change.
 */
/** Why a part is stuck (it has not answered within `stallMs`), or undefined while it is alive. */
export type LivenessCheck = (nowMs: number, stallMs: number) => string | undefined;

export interface WatchdogSettings {
  /** systemd's interval (WATCHDOG_USEC / 1000). */
  readonly intervalMs: number;
}

/**
 * The watchdog interval systemd asked this process for, or undefined: WATCHDOG_USEC set and
 * WATCHDOG_PID unset or ours (sd_watchdog_enabled(3)); anything malformed is no watchdog.
 */
export function watchdogFromEnv(env: NodeJS.ProcessEnv, pid: number): WatchdogSettings | undefined {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || !/^[0-9]+$/.test(usec)) return undefined;
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== String(pid)) return undefined;
  const intervalMs = Number(usec) / 1000;
  return intervalMs >= 1 ? { intervalMs } : undefined;
}

export interface WatchdogEvents {
  withheld(reasons: readonly string[]): void;
  resumed(): void;
}

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private withheld: string | undefined;
  /** How long a part may take to answer before it counts as stuck: half the interval. */
  readonly stallMs: number;
  readonly pingEveryMs: number;

  constructor(
    private readonly sink: NotifySink,
    settings: WatchdogSettings,
    private readonly checks: readonly LivenessCheck[],
    private readonly events: WatchdogEvents,
  ) {
    // A third of the interval between pings: one late timer on a loaded box is not a restart.
    this.pingEveryMs = Math.max(1, Math.floor(settings.intervalMs / 3));
    this.stallMs = settings.intervalMs / 2;
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.pingEveryMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check and, when every part is alive, one ping. */
  tick(nowMs = Date.now()): void {
    const reasons: string[] = [];
    for (const check of this.checks) {
      const reason = check(nowMs, this.stallMs);
      if (reason !== undefined) reasons.push(reason);
    }
    if (reasons.length === 0) {
      if (this.withheld !== undefined) {
        this.withheld = undefined;
        this.sink.send({ STATUS: 'running' });
        this.events.resumed();
      }
      this.sink.send({ WATCHDOG: '1' });
      return;
    }
    // STATUS= at every withheld tick (`systemctl status` shows how long it has been stuck); the
    // log once per change of what is stuck.
    const status = `watchdog withheld: ${reasons.join('; ')}`;
    if (status.replace(/[0-9]+ s/g, '') !== this.withheld?.replace(/[0-9]+ s/g, '')) this.events.withheld(reasons);
    this.sink.send({ STATUS: status });
    this.withheld = status;
  }
}
