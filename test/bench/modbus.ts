import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import modbusSerial from 'modbus-serial';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { pino } from 'pino';
import { parseConfig } from '../../runtime/config/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { PYMODBUS_SIM_SCRIPT, PymodbusSim } from '../support/pymodbus-sim.js';
import { makeTempDir } from '../support/temp-dir.js';
import { startModbusTcpServer } from './modbus-tcp-server.js';
import { median, printResult, progress } from './report.js';

/**
 * `npm run bench -- modbus [--rounds N] [--seconds S] [--groups G] [--server node|pymodbus]`:
 * registers per second polled over Modbus TCP on loopback into the outbox by a gateway (the
 * real modbus source, pipeline and LevelDB outbox, in this process), against a bare
 * modbus-serial loop reading the same 125-register blocks one after another over its own
 * connection. One slave, G groups of one 125-register read each, every group due every 10 ms:
 * more than the connection carries, so the bus is never idle. Rounds alternate which goes
 * first; medians compared. The server is a minimal Modbus TCP server in its own process
 * (modbus-tcp-server.ts) by default: with Debian's pymodbus (`--server pymodbus`) the Python
 * server needs about a core itself, and on 2 cores the rate measured its share of the CPU
 * against the gateway's LevelDB threads more than the client's work.
 */
const BLOCK = 125;
const INTERVAL_MS = 10;
const WARMUP_MS = 700;

function option(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i < 0 ? Number.NaN : Number(args[i + 1]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function gatewayYaml(dataDir: string, port: number, groups: number): string {
  const g = Array.from(
    { length: groups },
    (_, i) => `          - name: b${i}
            intervalMs: ${INTERVAL_MS}
            points: [{ name: r${i}, table: holding, address: ${i * BLOCK}, count: ${BLOCK} }]
`,
  ).join('');
  // The uplink has no broker: the records stay in the outbox, which is what is measured.
  return `
gateway: { id: gw-bench-modbus, dataDir: ${JSON.stringify(dataDir)} }
uplink: { url: "mqtt://127.0.0.1:1", connectTimeoutMs: 1000, reconnect: { minDelayMs: 5000, maxDelayMs: 5000 } }
devices:
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${port} }
    timeoutMs: 1000
    retries: 0
    slaves:
      - unit: 1
        name: plc1
        groups:
${g}log: { level: error }
`;
}

/** Registers/s the gateway stored: records that reached LevelDB in a window after a warm-up, times 125. */
async function gatewayRound(dataDir: string, port: number, groups: number, seconds: number): Promise<{ rate: number; overruns: number }> {
  const registry = builtinRegistry();
  const gw = await Gateway.create(parseConfig(gatewayYaml(dataDir, port, groups), 'bench', registry), registry, { logger: pino({ level: 'silent' }) });
  try {
    await gw.start();
    const source = (): { stored: number; details: Record<string, unknown> } => {
      const s = gw.health().sources.find((x) => x.id === 'plc');
      return { stored: s?.stored ?? 0, details: s?.details ?? {} };
    };
    await sleep(WARMUP_MS);
    const a = source();
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const b = source();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const failures = (b.details['timeouts'] as number) + (b.details['slave.plc1.exceptions'] as number);
    if (failures > 0 || b.details['open'] !== true) throw new Error(`the gateway's polls failed: ${JSON.stringify(b.details)}`);
    const stored = b.stored - a.stored;
    if (stored <= 0) throw new Error('the gateway stored nothing in the window');
    return { rate: (stored * BLOCK) / s, overruns: (b.details['pollOverruns'] as number) - (a.details['pollOverruns'] as number) };
  } finally {
    await gw.stop();
  }
}

/** Registers/s of modbus-serial alone: the same blocks read one after another, the values dropped. */
async function bareRound(port: number, groups: number, seconds: number): Promise<number> {
  const Client = modbusSerial as unknown as new () => ModbusRTU;
  const client = new Client();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(1000);
  try {
    const end = Date.now() + WARMUP_MS;
    for (let i = 0; Date.now() < end; i += 1) await client.readHoldingRegisters((i % groups) * BLOCK, BLOCK);
    let registers = 0;
    const t0 = process.hrtime.bigint();
    const stop = t0 + BigInt(Math.round(seconds * 1e9));
    for (let i = 0; process.hrtime.bigint() < stop; i += 1) {
      const r = await client.readHoldingRegisters((i % groups) * BLOCK, BLOCK);
      registers += r.data.length;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return registers / s;
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
  }
}

async function startPymodbus(groups: number): Promise<{ port: number; stop(): Promise<void> }> {
  // The bench runs from dist/: the simulator script must have been copied there by the build.
  if (!existsSync(PYMODBUS_SIM_SCRIPT)) throw new Error(`${PYMODBUS_SIM_SCRIPT} is missing: the build copies test/support/pymodbus-sim.py beside the compiled test support (scripts/copy-assets.mjs)`);
  const holding = Array.from({ length: groups * BLOCK }, (_, i) => i & 0xffff);
  const sim = await PymodbusSim.start({ tcp: true, slaves: { 1: { holding } } });
  const port = sim.tcpPort;
  if (port === undefined) throw new Error('pymodbus did not report its TCP port');
  return { port, stop: () => sim.stop() };
}

export async function benchModbus(args: readonly string[]): Promise<void> {
  const rounds = option(args, '--rounds', 3);
  const seconds = option(args, '--seconds', 3);
  const groups = option(args, '--groups', 64);
  const pymodbus = args[args.indexOf('--server') + 1] === 'pymodbus';
  const sim = pymodbus ? await startPymodbus(groups) : await startModbusTcpServer();
  const tmp = await makeTempDir('edgewise-bench-');
  progress(`modbus: ${rounds} rounds x ${seconds} s, 1 slave on ${pymodbus ? 'pymodbus' : 'a minimal Node.js server'} (TCP 127.0.0.1:${sim.port}), ${groups} groups of ${BLOCK} holding registers due every ${INTERVAL_MS} ms`);
  progress('  the server, the gateway and the bare loop share this machine\'s cores');
  const ours: number[] = [];
  const bare: number[] = [];
  try {
    for (let r = 0; r < rounds; r += 1) {
      const dir = `${tmp.path}/gw-${r}`;
      let overruns = 0;
      const runOurs = async (): Promise<void> => {
        const o = await gatewayRound(dir, sim.port, groups, seconds);
        ours.push(o.rate);
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
      progress(`  round ${r + 1}/${rounds}: gateway into the outbox ${Math.round(ours[r] as number)} registers/s (${overruns} polls skipped as overrun); bare modbus-serial ${Math.round(bare[r] as number)} registers/s`);
    }
  } finally {
    await sim.stop();
    await tmp.remove();
  }
  const value = median(ours);
  printResult({ bench: 'modbus', value: Math.round(value), unit: 'registers/s', ratio: Math.round((value / median(bare)) * 1000) / 1000 });
}
