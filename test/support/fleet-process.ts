import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FleetEndpoints } from '../../fleet/service/fleet-service.js';
import { CLI, assertBuilt } from './gateway-process.js';
import { waitFor } from './wait-for.js';

/**
 * `edgewise fleet --data DIR` as a child process on loopback. By default it binds port 0 for
 * its API and its embedded broker and reports what it got in DATA/fleet.json (read back as
 * `ports`); a restart passes those ports again, since a restarted fleet must come back where
 * its gateways look for it. Ready when DATA/fleet.json names its pid.
 */
export class FleetProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const keep = (d: Buffer): void => {
      // The last 64 KiB, for failure messages.
      this.output = (this.output + d.toString()).slice(-65_536);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /**
   * `ports.mqtt` in the answer is the embedded broker's (from `brokerUrl`): meaningless with
   * `--broker URL` or `--public-broker-url`.
   */
  static async start(
    dataDir: string,
    ports: { http: number; mqtt: number } = { http: 0, mqtt: 0 },
    extra: readonly string[] = [],
  ): Promise<{ fleet: FleetProcess; endpoints: FleetEndpoints; ports: { http: number; mqtt: number } }> {
    assertBuilt();
    // EDGEWISE_FLEET_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the fleet in a benchmark.
    const nodeArgs = (process.env['EDGEWISE_FLEET_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, CLI, 'fleet', '--data', dataDir, '--http', `127.0.0.1:${ports.http}`, '--mqtt', `127.0.0.1:${ports.mqtt}`, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    const fleet = new FleetProcess(child, dataDir);
    const endpoints = await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`fleet exited ${child.exitCode}: ${fleet.output}`);
        const e = JSON.parse(await readFile(join(dataDir, 'fleet.json'), 'utf8')) as FleetEndpoints;
        return e.pid === child.pid ? e : undefined;
      },
      'the fleet to start',
      60_000,
      50,
    ).catch(async (err: unknown) => {
      // A fleet that never got ready is not left running.
      await fleet.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${fleet.output}`);
    });
    return { fleet, endpoints, ports: { http: Number(new URL(endpoints.localApiUrl).port), mqtt: Number(new URL(endpoints.brokerUrl).port) } };
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
