import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The repository root: the nearest folder up from here with our package.json (from test/ or dist/test/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

/** The compiled CLI: gateways run the compiled JS, so the tests do too (`npm test` builds first). */
export const CLI = join(repoRoot(), 'dist', 'cli', 'main.js');

/** The installed command (a sh wrapper that starts node with the gateway's V8 flags). */
export const BIN = join(repoRoot(), 'bin', 'edgewise');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
}

export interface LogLine {
  readonly event?: string;
  readonly [key: string]: unknown;
}

/**
 * `edgewise gateway --config FILE` as a child process. Its JSON log lines are parsed as they
 * come; `onLine` sees each one (the process keeps no unbounded history).
 */
export class GatewayProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** With `viaBin`, starts `bin/edgewise` as a user would (the memory benchmark does). */
  static start(configPath: string, onLine: (line: LogLine) => void = () => undefined, viaBin = false, env: NodeJS.ProcessEnv = process.env): GatewayProcess {
    assertBuilt();
    const args = ['gateway', '--config', configPath];
    const child = viaBin ? spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env }) : spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    return GatewayProcess.attach(child, onLine);
  }

  /** A gateway started some other way (e.g. under qemu, test/support/arm64-app.ts), its stdout and stderr piped. */
  static attach(child: ChildProcess, onLine: (line: LogLine) => void = () => undefined): GatewayProcess {
    const gp = new GatewayProcess(child);
    child.stderr?.on('data', (d: Buffer) => {
      if (gp.stderr.length < 64 * 1024) gp.stderr += d.toString();
    });
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (text) => {
      try {
        onLine(JSON.parse(text) as LogLine);
      } catch {
        // not a log line
      }
    });
    return gp;
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgewise ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
