import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dieWithParent } from './die-with-parent.js';
import { FaultToolError } from './errors.js';
import type { FaultLog } from './fault-log.js';
import { LineTail } from './line-tail.js';

export interface SerialLinkOptions {
  /** Name in the fault log (`target`): the gateway whose cable this is. */
  readonly name: string;
  /** Where the simulated MCU opens its end. */
  readonly mcuPath: string;
  /** Where the gateway's serial-sensor source opens its end (its config's `path`). */
  readonly gatewayPath: string;
  readonly log?: FaultLog;
  /** Default `socat` from PATH (Debian's package `socat`). */
  readonly socatPath?: string;
  /** How long socat may take to make both links. Default 10 s. */
  readonly startTimeoutMs?: number;
}

/**
 * A serial cable between a simulated MCU and a gateway: two linked pseudo-terminals made by
 * socat, reached at two fixed paths. `pull()` kills socat: both ptys vanish at once, reads on
 * them fail, as when a USB serial adapter is unplugged. `restore()` starts socat again on the
 * same paths, which now point at new ptys, as a replugged adapter comes back at its
 * /dev/serial/by-id path; both ends find them by reopening (the gateway's serial-sensor source
 * and SimulatedMcu both retry their open with backoff).
 */
export class SerialLink {
  private child: ChildProcess | undefined;
  private pulledAt = 0;
  private readonly stderr = new LineTail(20);
  readonly counters = { starts: 0, pulls: 0, unexpectedExits: 0 };

  constructor(private readonly options: SerialLinkOptions) {}

  get mcuPath(): string {
    return this.options.mcuPath;
  }

  get gatewayPath(): string {
    return this.options.gatewayPath;
  }

  /** socat's pid while plugged in. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get plugged(): boolean {
    return this.child !== undefined;
  }

  /** Plugs the cable in: socat runs and both paths exist when this returns. */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    await this.unlink();
    const { mcuPath, gatewayPath } = this.options;
    const socat = this.options.socatPath ?? 'socat';
    const [cmd, args] = dieWithParent(socat, [`pty,raw,echo=0,link=${mcuPath}`, `pty,raw,echo=0,link=${gatewayPath}`]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => d.split('\n').filter((l) => l !== '').forEach((l) => this.stderr.push(l)));
    this.child = child;
    const failed = new Promise<string>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? `${socat} not found: install socat (apt-get install socat)` : err.message));
      // Under setpriv (dieWithParent) a missing socat is setpriv's exit 127, not a spawn error.
      child.once('exit', (code, signal) => resolve(code === 127 && cmd !== socat ? `${socat} not found: install socat (apt-get install socat)` : `socat exited (${signal ?? `code ${String(code)}`}): ${this.stderr.text()}`));
    });
    let why: string | undefined;
    void failed.then((w) => (why = w));
    // socat makes the links right after the ptys; there is no event for it, so the paths are polled.
    const deadline = performance.now() + (this.options.startTimeoutMs ?? 10_000);
    while (!(existsSync(mcuPath) && existsSync(gatewayPath))) {
      if (why !== undefined || performance.now() > deadline) {
        this.child = undefined;
        child.kill('SIGKILL');
        await this.unlink();
        throw new FaultToolError('E_SERIAL_LINK_START', `serial link ${this.options.name}: ${why ?? `socat made no links at ${mcuPath} and ${gatewayPath} within ${this.options.startTimeoutMs ?? 10_000} ms`}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.counters.starts += 1;
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      // Nobody pulled it: socat died by itself. The gateway sees a pulled cable; the log must say so.
      this.child = undefined;
      this.counters.unexpectedExits += 1;
      this.pulledAt = performance.now();
      this.options.log?.record('exit', this.options.name, 'start', { process: 'socat', code, signal });
    });
  }

  /** Pulls the cable: socat dies at once, both ptys go away (the log has it before the kill). */
  async pull(): Promise<void> {
    if (this.child === undefined) return;
    this.counters.pulls += 1;
    this.pulledAt = performance.now();
    this.options.log?.record('cable-pull', this.options.name, 'start', { mcuPath: this.options.mcuPath, gatewayPath: this.options.gatewayPath });
    await this.kill();
  }

  /** Plugs it back in on the same paths. */
  async restore(): Promise<void> {
    if (this.child !== undefined) return;
    await this.start();
    this.options.log?.record('cable-pull', this.options.name, 'end', { pulledForMs: Math.round(performance.now() - this.pulledAt) });
  }

  /** Stops socat without a fault (the end of the run). */
  async close(): Promise<void> {
    await this.kill();
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await this.unlink();
  }

  /**
   * socat killed with SIGKILL leaves its links behind, pointing at /dev/pts numbers the kernel
   * hands to the next pty anyone opens (another gateway's cable, say). Removing them is what
   * udev does when a USB serial device goes away.
   */
  private async unlink(): Promise<void> {
    await rm(this.options.mcuPath, { force: true });
    await rm(this.options.gatewayPath, { force: true });
  }
}
