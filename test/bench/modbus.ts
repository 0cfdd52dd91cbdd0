import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import modbusSerial from 'modbus-serial';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { pino } from 'pino';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { enterBusyMode } from '../../runtime/busy-mode.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { PYMODBUS_SIM_SCRIPT, PymodbusSim } from '../support/pymodbus-sim.js';
import { makeTempDir } from '../support/temp-dir.js';
import { startModbusTcpServer } from './modbus-tcp-server.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- modbus [--rounds N] [--seconds S] [--groups G] [--in-flight N] [--server node|pymodbus]`:
 * registers per second polled over Modbus TCP on loopback into the outbox by a gateway (the
 * real modbus source, pipeline and LevelDB outbox, in this process), against a bare
 * modbus-serial loop reading the same 125-register blocks one after another over its own
 * connection. G groups (default 256) of one 125-register read each, every group due every
 * 10 ms, spread over unit ids 1, 2, ... (at most 64 groups a slave, as a TCP gateway in front
 * of several PLCs would be): G x 100 polls a second offered, well above what one connection
 * carries, so the bus is never idle and the rate measured is the gateway's, not the config's.
 * (With 64 groups the offer, 6,400 polls a second less the polls skipped as overrun, was
 * below what the bare loop reached on a quiet machine: the bench measured its own config.)
 * Rounds alternate which goes first; medians compared. The server is a minimal Modbus TCP
 * server in its own process (modbus-tcp-server.ts) by default: with Debian's pymodbus
 * (`--server pymodbus`) the Python server needs about a core itself, and on 2 cores the rate
 * measured its share of the CPU against the gateway's LevelDB threads more than the client's
 * work. CPU per request (this process: the event loop and LevelDB's threads) is reported for
 * both sides too: it is what a noisy machine changes least.
 */
const BLOCK = 125;
const INTERVAL_MS = 10;
const WARMUP_MS = 700;
/** Polling groups a slave may have (the modbus schema's limit is 100). */
const GROUPS_PER_SLAVE = 64;

function option(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i < 0 ? Number.NaN : Number(args[i + 1]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function gatewayYaml(dataDir: string, port: number, groups: number, inFlight: number): string {
  const slaves: string[] = [];
  for (let first = 0; first < groups; first += GROUPS_PER_SLAVE) {
    const unit = first / GROUPS_PER_SLAVE + 1;
    const g = Array.from(
      { length: Math.min(GROUPS_PER_SLAVE, groups - first) },
      (_, k) => `          - name: b${first + k}
            intervalMs: ${INTERVAL_MS}
            points: [{ name: r${first + k}, table: holding, address: ${(first + k) * BLOCK}, count: ${BLOCK} }]
`,
    ).join('');
    slaves.push(`      - unit: ${unit}
        name: plc${unit}
        groups:
${g}`);
  }
  // The uplink has no broker: the records stay in the outbox, which is what is measured.
  return `
gateway: { id: gw-bench-modbus, dataDir: ${JSON.stringify(dataDir)} }
uplink: { url: "mqtt://127.0.0.1:1", connectTimeoutMs: 1000, reconnect: { minDelayMs: 5000, maxDelayMs: 5000 } }
devices:
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${port}, maxInFlight: ${inFlight} }
    timeoutMs: 1000
    retries: 0
    slaves:
${slaves.join('')}log: { level: error }
`;
}

/** CPU microseconds this process spent (all its threads) since `from`. */
function cpuUs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

interface Round {
  /** Registers a second. */
  readonly rate: number;
  /** CPU microseconds of this process per Modbus request (one 125-register block). */
  readonly cpuUsPerRequest: number;
}

/** Registers/s the gateway stored: records that reached LevelDB in a window after a warm-up, times 125. */
async function gatewayRound(dataDir: string, port: number, groups: number, seconds: number, inFlight: number): Promise<Round & { overruns: number }> {
  const registry = builtinRegistry();
  const gw = await Gateway.create(parseConfig(gatewayYaml(dataDir, port, groups, inFlight), 'bench', registry), registry, { logger: pino({ level: 'silent' }) });
  try {
    await gw.start();
    const source = (): { stored: number; details: Record<string, unknown> } => {
      const s = gw.health().sources.find((x) => x.id === 'plc');
      return { stored: s?.stored ?? 0, details: s?.details ?? {} };
    };
    await sleep(WARMUP_MS);
    const a = source();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const b = source();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuUs(cpu0);
    const exceptions = Object.entries(b.details).filter(([k]) => /^slave\.[^.]+\.exceptions$/.test(k)).reduce((n, [, v]) => n + (v as number), 0);
    if ((b.details['timeouts'] as number) + exceptions > 0 || b.details['open'] !== true) throw new Error(`the gateway's polls failed: ${JSON.stringify(b.details)}`);
    const stored = b.stored - a.stored;
    if (stored <= 0) throw new Error('the gateway stored nothing in the window');
    return { rate: (stored * BLOCK) / s, cpuUsPerRequest: cpu / stored, overruns: (b.details['pollOverruns'] as number) - (a.details['pollOverruns'] as number) };
  } finally {
    await gw.stop();
  }
}

/** Registers/s of modbus-serial alone: the same blocks read one after another, the values dropped. */
async function bareRound(port: number, groups: number, seconds: number): Promise<Round> {
  const Client = modbusSerial as unknown as new () => ModbusRTU;
  const client = new Client();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(1000);
  try {
    const end = Date.now() + WARMUP_MS;
    for (let i = 0; Date.now() < end; i += 1) await client.readHoldingRegisters((i % groups) * BLOCK, BLOCK);
    let registers = 0;
    let requests = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const stop = t0 + BigInt(Math.round(seconds * 1e9));
    for (let i = 0; process.hrtime.bigint() < stop; i += 1) {
      const r = await client.readHoldingRegisters((i % groups) * BLOCK, BLOCK);
      registers += r.data.length;
      requests += 1;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { rate: registers / s, cpuUsPerRequest: cpuUs(cpu0) / requests };
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
  }
}

async function startPymodbus(groups: number): Promise<{ port: number; stop(): Promise<void> }> {
  // The bench runs from dist/: the simulator script must have been copied there by the build.
  if (!existsSync(PYMODBUS_SIM_SCRIPT)) throw new Error(`${PYMODBUS_SIM_SCRIPT} is missing: the build copies test/support/pymodbus-sim.py beside the compiled test support (scripts/copy-assets.mjs)`);
  const holding = Array.from({ length: groups * BLOCK }, (_, i) => i & 0xffff);
  const slaves: Record<number, { holding: number[] }> = {};
  for (let unit = 1; unit <= Math.ceil(groups / GROUPS_PER_SLAVE); unit += 1) slaves[unit] = { holding };
  const sim = await PymodbusSim.start({ tcp: true, slaves });
  const port = sim.tcpPort;
  if (port === undefined) throw new Error('pymodbus did not report its TCP port');
  return { port, stop: () => sim.stop() };
}

export async function benchModbus(args: readonly string[]): Promise<void> {
  const rounds = option(args, '--rounds', 3);
  const seconds = option(args, '--seconds', 3);
  const groups = option(args, '--groups', 256);
  // The gateway's tcp.maxInFlight (1, the default, or up to 16); the bare loop always waits for each answer.
  const inFlight = Math.min(16, Math.floor(option(args, '--in-flight', 1)));
  const slaves = Math.ceil(groups / GROUPS_PER_SLAVE);
  const pymodbus = args[args.indexOf('--server') + 1] === 'pymodbus';
  // A gateway polling flat out sets V8 for speed within its first 10 s (runtime/busy-mode.ts); the
  // rounds are shorter than that, so the bench starts there (the bare loop shares the process and its flags).
  const busyFlags = enterBusyMode();
  const sim = pymodbus ? await startPymodbus(groups) : await startModbusTcpServer();
  const tmp = await makeTempDir('edgewise-bench-');
  progress(`modbus: ${rounds} rounds x ${seconds} s, ${slaves} unit id${slaves === 1 ? '' : 's'} on ${pymodbus ? 'pymodbus' : 'a minimal Node.js server'} (TCP 127.0.0.1:${sim.port}), ${groups} groups of ${BLOCK} holding registers due every ${INTERVAL_MS} ms; the gateway with tcp.maxInFlight ${inFlight}`);
  progress("  the server, the gateway and the bare loop share this machine's cores");
  progress(`  V8 in a busy gateway's mode: ${busyFlags === '' ? 'as started (no busy-mode flags to set)' : busyFlags}`);
  const ours: Round[] = [];
  const bare: Round[] = [];
  try {
    for (let r = 0; r < rounds; r += 1) {
      const dir = `${tmp.path}/gw-${r}`;
      let overruns = 0;
      const runOurs = async (): Promise<void> => {
        const o = await gatewayRound(dir, sim.port, groups, seconds, inFlight);
        ours.push(o);
        overruns = o.overruns;
      };
      const runBare = async (): Promise<void> => void bare.push(await bareRound(sim.port, groups, seconds));
      if (r % 2 === 0) {
        await runBare();
        await runOurs();
      } else {
        await runOurs();
        await runBare();
      }
      await rm(dir, { recursive: true, force: true });
      const o = ours[r] as Round;
      const b = bare[r] as Round;
      progress(
        `  round ${r + 1}/${rounds}: gateway into the outbox ${Math.round(o.rate)} registers/s, ${Math.round(o.cpuUsPerRequest)} us CPU a request (${overruns} polls skipped as overrun); ` +
          `bare modbus-serial ${Math.round(b.rate)} registers/s, ${Math.round(b.cpuUsPerRequest)} us CPU a request`,
      );
    }
  } finally {
    await sim.stop();
    await tmp.remove();
  }
  const value = median(ours.map((o) => o.rate));
  const cpuOurs = median(ours.map((o) => o.cpuUsPerRequest));
  const cpuBare = median(bare.map((o) => o.cpuUsPerRequest));
  progress(`  CPU a request: gateway ${Math.round(cpuOurs)} us, bare ${Math.round(cpuBare)} us (medians)`);
  printResult({
    bench: 'modbus',
    value: Math.round(value),
    unit: 'registers/s',
    ratio: Math.round((value / median(bare.map((o) => o.rate))) * 1000) / 1000,
    in_flight: inFlight,
    cpu_us_per_request: Math.round(cpuOurs),
    bare_cpu_us_per_request: Math.round(cpuBare),
  });
}
