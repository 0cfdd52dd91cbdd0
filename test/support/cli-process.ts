import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI, assertBuilt } from './gateway-process.js';
import { waitFor } from './wait-for.js';

/**
 * A long-running `edgewise ...` command (the compiled CLI) whose stdout and stderr lines are
 * kept (bounded) for the test to wait on.
 */
export class CliProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const keep = (into: string[]) => (line: string) => {
      if (into.length < 10_000) into.push(line);
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', keep(this.stdout));
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', keep(this.stderr));
  }

  /** `env`: added to this process's environment for the child. */
  static start(args: readonly string[], env: Readonly<Record<string, string>> = {}): CliProcess {
    assertBuilt();
    return new CliProcess(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a line on stdout or stderr that `match` accepts, and returns it. */
  async line(stream: 'stdout' | 'stderr', match: (line: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      () => {
        const found = this[stream].find(match);
        if (found === undefined && !this.running) throw new Error(`the process exited; stderr:\n${this.stderr.join('\n')}`);
        return found;
      },
      what,
      timeoutMs,
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}
