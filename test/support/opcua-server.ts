import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

export const OPCUA_SERVER_SCRIPT = fileURLToPath(new URL('./opcua-server-child.mjs', import.meta.url));

export interface OpcuaTestServerOptions {
  readonly port: number;
  /** Variables ns=1;s=v0..: every one takes the tick number on each tick (and constants ns=1;s=i64, Int64 -5, and ns=1;s=u64, UInt64 2^64 - 5). */
  readonly vars: number;
  /** The server's PKI (kept across restarts: same certificate). */
  readonly pkiDir: string;
  readonly intervalMs?: number;
  /** The value of every variable before the first tick (a restarted server goes on counting). */
  readonly startTick?: number;
}

/** A session the server activated, as the server saw its secure channel. */
export interface OpcuaTestSession {
  readonly securityMode: string;
  readonly securityPolicy: string;
}

/**
 * A node-opcua server in a child process (test/support/opcua-server-child.mjs) on 127.0.0.1.
 * It reports every tick over IPC: `ticks` lists what it produced (each tick changes every variable).
 */
export class OpcuaTestServer {
  readonly ticks: number[] = [];
  readonly sessions: OpcuaTestSession[] = [];
  private readonly done = new Set<number>();
  private nextId = 1;
  stderr = '';
  private readonly exited: Promise<void>;
  private started = false;
  /** The URI of the namespace ns=1 (the test variables), for nsu= node ids; known once started. */
  namespaceUri = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly options: OpcuaTestServerOptions,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (m: { event: string; tick: number; namespaceUri?: string; id?: number; securityMode?: string; securityPolicy?: string }) => {
      if (m.event === 'started') {
        this.started = true;
        this.namespaceUri = m.namespaceUri ?? '';
      }
      else if (m.event === 'tick') this.ticks.push(m.tick);
      else if (m.event === 'done' && m.id !== undefined) this.done.add(m.id);
      else if (m.event === 'session') this.sessions.push({ securityMode: m.securityMode ?? '', securityPolicy: m.securityPolicy ?? '' });
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += d.toString();
    });
  }

  get url(): string {
    return `opc.tcp://127.0.0.1:${this.options.port}/UA/edgewise-test`;
  }

  get lastTick(): number {
    return this.ticks.at(-1) ?? this.options.startTick ?? 0;
  }

  static async start(options: OpcuaTestServerOptions): Promise<OpcuaTestServer> {
    const child = fork(OPCUA_SERVER_SCRIPT, [], { env: { ...process.env, OPCUA_TEST_SERVER: JSON.stringify(options) }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const s = new OpcuaTestServer(child, options);
    let exited = false;
    void s.exited.then(() => (exited = true));
    await waitFor(() => {
      if (exited) throw new Error(`the OPC UA test server exited: ${s.stderr}`);
      return s.started;
    }, 'the OPC UA test server to listen', 40_000);
    return s;
  }

  /** Sets the AnalogItem ns=1;s=level (EURange 0..200, 100 at start); resolves once the server has it. */
  setLevel(value: number): Promise<void> {
    return this.request({ op: 'set', value });
  }

  /** Whether an unknown client certificate is trusted (true at start) or refused and put in the server's `rejected/`. */
  acceptUnknownClients(value: boolean): Promise<void> {
    return this.request({ op: 'acceptUnknownClients', value });
  }

  private async request(m: { op: string; value: unknown }): Promise<void> {
    const id = this.nextId++;
    this.child.send({ ...m, id });
    await waitFor(() => this.done.delete(id), `the OPC UA test server to do ${m.op}`, 10_000, 5);
  }

  /** A clean stop: the server shuts down (closing its sessions) and the process exits. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.send('stop');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}
