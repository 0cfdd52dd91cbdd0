import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, portOpen } from './ports.js';
import { waitFor } from './wait-for.js';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/**
 * Debian's Mosquitto on a free 127.0.0.1 port with its stock limits, run by the test. With
 * `persistence`, subscriptions and queued messages of persistent sessions survive a
 * stop/start, as on a real broker that restarts.
 */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly confPath: string,
  ) {}

  /**
   * `listener` adds lines to the listener (TLS files, say); `anonymous: false` requires a login.
   * `passwordFile`/`aclFile` go into the listener's section; `perListenerSettings` puts
   * `per_listener_settings true` first, as the generated edgewise configuration does.
   */
  static async create(
    dir: string,
    options: { persistence?: boolean; port?: number; listener?: readonly string[]; anonymous?: boolean; passwordFile?: string; aclFile?: string; perListenerSettings?: boolean } = {},
  ): Promise<Mosquitto> {
    // Mosquitto cannot listen on port 0 and say which port it got, so the port is picked
    // first (freePort: below the ephemeral range). If someone took it meanwhile, Mosquitto
    // exits with "Address already in use": pick another and try again.
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await freePort());
      const broker = new Mosquitto(port, await Mosquitto.writeConf(dir, port, options));
      try {
        await broker.start();
        return broker;
      } catch (err) {
        if (options.port !== undefined || attempt >= 5 || !broker.output.includes('Address already in use')) throw err;
      }
    }
  }

  private static async writeConf(
    dir: string,
    port: number,
    options: { persistence?: boolean; listener?: readonly string[]; anonymous?: boolean; passwordFile?: string; aclFile?: string; perListenerSettings?: boolean },
  ): Promise<string> {
    const confPath = join(dir, 'mosquitto.conf');
    const lines = [
      ...(options.perListenerSettings === true ? ['per_listener_settings true'] : []),
      `listener ${port} 127.0.0.1`,
      ...(options.listener ?? []),
      `allow_anonymous ${String(options.anonymous ?? true)}`,
      ...(options.passwordFile === undefined ? [] : [`password_file ${options.passwordFile}`]),
      ...(options.aclFile === undefined ? [] : [`acl_file ${options.aclFile}`]),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ];
    // Started as root, Mosquitto drops to the `mosquitto` user, which cannot write to our
    // private temp dir; staying root keeps its persistence file where the test put it.
    if (process.getuid?.() === 0) lines.push('user root');
    if (options.persistence === true) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 1');
    else lines.push('persistence false');
    await writeFile(confPath, `${lines.join('\n')}\n`);
    return confPath;
  }

  /** What Mosquitto wrote to stderr (errors and warnings), for failure messages. */
  get log(): string {
    return this.output;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const child = spawn(MOSQUITTO_BIN, ['-c', this.confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    this.child = child;
    try {
      await waitFor(async () => (child.exitCode !== null ? Promise.reject(new Error(`mosquitto exited: ${this.output}`)) : portOpen(this.port)), `mosquitto on port ${this.port}`, 10_000);
    } catch (err) {
      // Never leave a half-started broker behind (it would outlive the test).
      await this.stop();
      throw err;
    }
  }

  /** SIGHUP: Mosquitto re-reads its password and ACL files and drops clients whose credentials went away. */
  reload(): void {
    if (this.child === undefined || this.child.exitCode !== null) throw new Error(`mosquitto is not running: ${this.output}`);
    this.child.kill('SIGHUP');
  }

  /** SIGTERM and wait: Mosquitto writes its persistence file on the way out. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
