import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN, assertBuilt } from '../support/gateway-process.js';
import { waitFor } from '../support/wait-for.js';

/** What a finished `edgewise ...` said: its exit code, its output, and the JSON line it prints last on stdout (null when the last line is not JSON). */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown> | null;
}

/**
 * `bin/edgewise ARGS` as a user types it (the installed sh wrapper, which execs node with the
 * gateway's flags on the compiled CLI), run to its end. `timeoutMs` bounds a hung command: it is
 * killed and the test fails saying so.
 */
export async function edgewise(args: readonly string[], timeoutMs = 90_000): Promise<CommandResult> {
  const p = EdgewiseProcess.start(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await p.closed;
    if (signal === 'SIGKILL') throw new Error(`edgewise ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr:\n${p.stderr.join('\n')}`);
    return p.result(code);
  } finally {
    clearTimeout(timer);
  }
}

/** A running `bin/edgewise ...` whose stdout and stderr lines are kept (bounded) for the test to wait on. */
export class EdgewiseProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  /** Settles once the process exited and its output is read to the end. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    this.closed = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    const keep = (into: string[]) => (line: string) => {
      if (into.length < 20_000) into.push(line);
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', keep(this.stdout));
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', keep(this.stderr));
  }

  static start(args: readonly string[]): EdgewiseProcess {
    assertBuilt();
    return new EdgewiseProcess(spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a stdout line that `match` accepts. */
  async line(match: (line: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      () => {
        const found = this.stdout.find(match);
        if (found === undefined && !this.running) throw new Error(`the process exited; stderr:\n${this.stderr.join('\n')}`);
        return found;
      },
      what,
      timeoutMs,
    );
  }

  result(code: number | null): CommandResult {
    const last = this.stdout.at(-1);
    let json: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = last === undefined ? null : JSON.parse(last);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      json = null;
    }
    return { code, stdout: this.stdout.join('\n'), stderr: this.stderr.join('\n'), json };
  }

  /** Stops a long-running command (`repo serve`) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    await this.closed;
  }
}
