import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The serial cable between a simulated MCU and its gateway, as the runner uses it. The seam
 * where sim/faults' SerialLink (pull and restore, with its fault log) plugs in for cable-pull
 * faults: it has this shape. Until then the runner makes a plain socat pair (no pulls).
 */
export interface SerialCable {
  readonly mcuPath: string;
  readonly gatewayPath: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

export class CableStartError extends Error {
  readonly code = 'E_SIM_CABLE';
}

/** Two linked pseudo-terminals made by socat at two fixed paths (Debian's `socat`). */
export class SocatCable implements SerialCable {
  private child: ChildProcess | undefined;

  constructor(
    readonly mcuPath: string,
    readonly gatewayPath: string,
    private readonly socatPath = 'socat',
  ) {}

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    await this.unlink();
    const child = spawn(this.socatPath, [`pty,raw,echo=0,link=${this.mcuPath}`, `pty,raw,echo=0,link=${this.gatewayPath}`], { stdio: 'ignore' });
    this.child = child;
    const failed = new Promise<Error>((resolve) => {
      child.once('error', (err) => resolve(err));
      child.once('exit', (code) => resolve(new Error(`exited with ${code}`)));
    });
    let why: Error | undefined;
    void failed.then((e) => (why = e));
    const deadline = Date.now() + 10_000;
    while (!(existsSync(this.mcuPath) && existsSync(this.gatewayPath))) {
      if (why !== undefined || Date.now() > deadline) {
        this.child = undefined;
        child.kill('SIGKILL');
        throw new CableStartError(`socat (${this.socatPath}) for ${this.gatewayPath}: ${why?.message ?? 'no links after 10 s'}`);
      }
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await this.unlink();
  }

  /** socat killed with SIGKILL leaves its links behind, pointing at pty numbers the kernel reuses. */
  private async unlink(): Promise<void> {
    await rm(this.mcuPath, { force: true });
    await rm(this.gatewayPath, { force: true });
  }
}
