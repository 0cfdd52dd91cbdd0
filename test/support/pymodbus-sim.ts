import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { freePort, portOpen } from './ports.js';
import { SocatPair } from './socat.js';
import { makeTempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

/** Debian's Python, which has python3-pymodbus; not a pyenv shim that may not. */
export const PYTHON_BIN = '/usr/bin/python3';
export const PYMODBUS_SIM_SCRIPT = fileURLToPath(new URL('./pymodbus-sim.py', import.meta.url));

/** One slave's tables from address 0: registers as 16-bit words, bits as booleans. */
export interface SlaveTables {
  readonly holding?: readonly number[];
  readonly input?: readonly number[];
  readonly coils?: readonly boolean[];
  readonly discrete?: readonly boolean[];
}

export interface PymodbusSimOptions {
  /** Serve RTU on one end of a socat pty pair (the gateway opens `serialPath`, the other end). */
  readonly rtu?: boolean;
  /** Serve Modbus TCP on 127.0.0.1 (`tcpPort`). */
  readonly tcp?: boolean;
  readonly baudRate?: number;
  /** Slaves by unit id; default: units 1, 2, 3 with the research's map (see pymodbus-sim.py). */
  readonly slaves?: Readonly<Record<number, SlaveTables>>;
}

/**
 * Modbus slaves served by Debian's pymodbus 3.0 (test/support/pymodbus-sim.py): an outside
 * implementation, over RTU on a socat pseudo-terminal pair and/or TCP on loopback. Faults
 * are set through the simulator's stdin and take effect when it acknowledges them.
 */
export class PymodbusSim {
  private child: ChildProcess | undefined;
  private out = '';
  private err = '';
  private readonly socat: SocatPair | undefined;
  private exitWatch: Promise<never> | undefined;

  private constructor(
    private readonly options: PymodbusSimOptions,
    private readonly dir: { path: string; remove: () => Promise<void> },
    private readonly mapFile: string | undefined,
    /** 127.0.0.1 port of Modbus TCP (0 without `tcp`); kept across restarts. */
    readonly tcpPort: number,
  ) {
    this.socat = options.rtu === true ? new SocatPair(`${dir.path}/sim-tty`, `${dir.path}/gw-tty`) : undefined;
  }

  static async start(options: PymodbusSimOptions): Promise<PymodbusSim> {
    const dir = await makeTempDir('edgewise-modbus-');
    let mapFile: string | undefined;
    if (options.slaves !== undefined) {
      mapFile = `${dir.path}/map.json`;
      await writeFile(mapFile, JSON.stringify({ slaves: options.slaves }));
    }
    // pymodbus cannot bind port 0 and say which it got: a port below the ephemeral range (see freePort).
    const sim = new PymodbusSim(options, dir, mapFile, options.tcp === true ? await freePort() : 0);
    try {
      await sim.plugIn();
    } catch (err) {
      await sim.stop();
      throw err;
    }
    return sim;
  }

  /** The pty the gateway opens (RTU only). */
  get serialPath(): string {
    if (this.socat === undefined) throw new Error('this simulator serves no RTU');
    return this.socat.b;
  }

  /** Everything the simulator printed: "request U FC" lines, acknowledgements. */
  get stdout(): string {
    return this.out;
  }

  /** Requests the simulator answered (or dropped on a fault) for a unit, from its "request" lines. */
  requestsFor(unit: number): number {
    return [...this.out.matchAll(/^request (\d+) \d+$/gm)].filter((m) => Number(m[1]) === unit).length;
  }

  /** Sends a fault command ("silent 2", "badcrc 3", "late 3 500", "answer 2", "goodcrc 3") and waits until it is in force. */
  async command(line: string): Promise<void> {
    const child = this.child;
    if (child?.stdin === null || child === undefined) throw new Error('the simulator is not running');
    const from = this.out.length;
    child.stdin.write(`${line}\n`);
    await Promise.race([waitFor(() => this.out.slice(from).split('\n').includes(`ok ${line}`), `the simulator to acknowledge "${line}"`, 10_000, 5), this.exitWatch]);
  }

  /** Pulls the serial cable: socat dies (both ptys vanish) and so does the simulator's serial side. */
  async pullCable(): Promise<void> {
    await this.killChild();
    await this.socat?.kill();
  }

  /** Plugs the cable back in: the pty links come back (at new ptys) with the slaves behind them. */
  async plugIn(): Promise<void> {
    await this.socat?.start();
    const o = this.options;
    const args = [PYMODBUS_SIM_SCRIPT];
    if (this.socat !== undefined) args.push('--serial', this.socat.a, '--baud', String(o.baudRate ?? 19_200));
    if (o.tcp === true) args.push('--tcp', `127.0.0.1:${this.tcpPort}`);
    if (this.mapFile !== undefined) args.push('--map', this.mapFile);
    const from = this.out.length;
    const child = spawn(PYTHON_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => void (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (this.err += d.toString()));
    this.child = child;
    this.exitWatch = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`pymodbus-sim exited (${code ?? signal}): ${this.err.slice(-2000)}`))));
    this.exitWatch.catch(() => undefined);
    await Promise.race([waitFor(() => /^ready /m.test(this.out.slice(from)), 'pymodbus-sim to start', 15_000), this.exitWatch]);
    if (o.tcp === true) await Promise.race([waitFor(() => portOpen(this.tcpPort), `pymodbus-sim to listen on ${this.tcpPort}`, 15_000), this.exitWatch]);
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.killChild();
    await this.socat?.kill();
    await this.dir.remove();
  }
}

/** Modbus RTU's CRC-16 (poly 0xA001 reflected, init 0xFFFF), low byte first. */
export function crc16(bytes: Uint8Array): Buffer {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return Buffer.from([crc & 0xff, crc >>> 8]);
}
