import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { assertBuilt, CLI } from './gateway-process.js';

export interface McuStatus {
  readonly event: 'mcu.status';
  readonly bootId: number;
  readonly reboots: number;
  readonly sessions: number;
  readonly samplesTaken: number;
  readonly samplesCommitted: number;
  readonly samplesOverflowed: number;
  readonly bufferedSamples: number;
  readonly crcErrors: number;
  readonly retransmits: number;
  readonly flashed: number;
  readonly corruptedReceivedFrames: number;
}

/** `edgewise sim mcu` as a child process: status lines parsed, commands on stdin. */
export class McuProcess {
  last: McuStatus | undefined;
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const v = JSON.parse(line) as { event?: string };
        if (v.event === 'mcu.status') this.last = v as McuStatus;
      } catch {
        // not a status line
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 32_000) this.stderr += d.toString();
    });
  }

  static start(args: readonly string[]): McuProcess {
    assertBuilt();
    return new McuProcess(spawn(process.execPath, [CLI, 'sim', 'mcu', '--status-every', '0.2', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  command(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  async stop(): Promise<McuStatus | undefined> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
    return this.last;
  }
}
