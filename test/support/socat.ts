import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { waitFor } from './wait-for.js';

export const SOCAT_BIN = '/usr/bin/socat';

/**
 * Two linked pseudo-terminals made by socat, reachable at two symlinks: a serial cable the
 * test can pull (kill socat) and plug back in (start it again: the links come back, pointing
 * at new ptys, as a USB serial device comes back at its by-id path).
 */
export class SocatPair {
  private child: ChildProcess | undefined;

  constructor(
    readonly a: string,
    readonly b: string,
  ) {}

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    await this.unlink();
    const child = spawn(SOCAT_BIN, [`pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], { stdio: 'ignore' });
    this.child = child;
    await waitFor(() => (child.exitCode !== null ? Promise.reject(new Error(`socat exited with ${child.exitCode}`)) : existsSync(this.a) && existsSync(this.b)), `socat links ${this.a} and ${this.b}`, 10_000, 10);
  }

  /** Pulls the cable: socat dies at once, both ptys go away. */
  async kill(): Promise<void> {
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
   * socat killed with SIGKILL leaves its links behind, pointing at /dev/pts numbers the
   * kernel hands to the next pty anyone opens: another test's cable, say. Removing them is
   * what udev does when a USB serial device goes away.
   */
  private async unlink(): Promise<void> {
    await rm(this.a, { force: true });
    await rm(this.b, { force: true });
  }
}
