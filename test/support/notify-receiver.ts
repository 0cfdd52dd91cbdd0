import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

/** Next to this file in test/support (vitest runs the sources; from dist/test/support, the source folder). */
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)).replace(/\/dist\/test\/support$/, '/test/support'), 'notify-receiver.py');

export interface NotifyMessage {
  /** The datagram's text: KEY=VALUE lines. */
  readonly msg: string;
  /** The sender's PID, from the kernel (SCM_CREDENTIALS). */
  readonly pid: number | null;
  /** Its fields. */
  readonly fields: Readonly<Record<string, string>>;
}

/** A NOTIFY_SOCKET the test owns (Debian's python3 holds the datagram socket). */
export class NotifyReceiver {
  readonly messages: NotifyMessage[] = [];
  private constructor(
    readonly socket: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(socket: string): Promise<NotifyReceiver> {
    const child = spawn('/usr/bin/python3', [SCRIPT, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = new NotifyReceiver(socket, child);
    let listening = false;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const j = JSON.parse(line) as { listening?: string; msg?: string; pid?: number | null };
      if (j.listening !== undefined) {
        listening = true;
        return;
      }
      const msg = j.msg ?? '';
      const fields = Object.fromEntries(msg.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      if (r.messages.length < 10_000) r.messages.push({ msg, pid: j.pid ?? null, fields });
    });
    await waitFor(() => listening || child.exitCode !== null, `the notify receiver to bind ${socket}`);
    if (!listening) throw new Error(`notify receiver exited (${String(child.exitCode)})`);
    return r;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await exited;
  }
}
