import type { Command } from 'commander';
import type { ModbusBus } from '../devices/modbus/bus.js';
import type { ModbusConfig } from '../devices/modbus/schema.js';

/**
 * `edgewise modbus ...`: commissioning a Modbus bus from the gateway box (issue 20).
 *   modbus scan   which unit ids answer, their holding/input register ranges, a `slaves:` snippet
 *   modbus read   one poll of every group of a modbus source in a gateway config, values with units
 *   modbus write  one value to a point that has `write: true`, read back
 * Exit codes as `edgewise model`: 0 done, 2 bad input (an option, the config: the message names
 * the file and line), 1 anything else (the port, the devices). The last line of stdout is a JSON
 * summary. The Modbus driver is loaded only when one of these runs.
 *
 * Writes go from this box only: the fleet has no write command (a setpoint changed from a web
 * page far from the machine is a safety decision this project does not take for a plant).
 */

export interface ModbusIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const ONE_MASTER = `
One master per bus: on RTU (RS-485) stop the gateway that polls the same serial port first (two
masters talking at once garble each other's frames; the port is locked, so the second one fails to
open it). Over TCP the gateway may keep running: a device serves several connections.
Writes are made from this box only; the fleet has no write command.`;

export function registerModbusCommands(program: Command, exit: (code: number) => void): void {
  const io: ModbusIo = { stdout: process.stdout, stderr: process.stderr };
  const modbus = program.command('modbus').description('Commission a Modbus RTU/TCP bus: scan for unit ids and register ranges, read every point of a configured source once, write a point.').addHelpText('after', ONE_MASTER).exitOverride();
  modbus
    .command('scan')
    .description('Probe unit ids (FC 3, then FC 4, on address 0: data or an exception means a device is there), find each one\'s readable holding and input register ranges, print a `slaves:` snippet for the config and a JSON summary as the last line.')
    .option('--port <path>', 'RTU: the serial device, e.g. /dev/ttyUSB0')
    .option('--baud <n>', 'RTU: baud rate (default 19200)')
    .option('--parity <p>', 'RTU: none, even or odd (default even)')
    .option('--stop-bits <n>', 'RTU: 1 or 2 (default 1)')
    .option('--tcp <host:port>', 'TCP: the device or gateway (port default 502)')
    .option('--units <list>', 'unit ids to probe: 1-247 (default), or a list like 1,2,10-20')
    .option('--timeout-ms <n>', 'wait this long for each answer (default 300): an absent unit costs two of these')
    .option('--json', 'print only the JSON summary (the snippet is in it)')
    .addHelpText('after', ONE_MASTER)
    .exitOverride()
    .action(async (o: ScanCommandOptions) => exit(await runModbusScan(o, io)));
  modbus
    .command('read')
    .description('Poll every group of a modbus source of a gateway config once and print each point\'s values with units; the JSON summary last.')
    .requiredOption('--config <file>', 'the gateway config (YAML)')
    .requiredOption('--source <id>', 'the id of the modbus device in it')
    .addHelpText('after', ONE_MASTER)
    .exitOverride()
    .action(async (o: ReadCommandOptions) => exit(await runModbusRead(o, io)));
  modbus
    .command('write')
    .description('Write one value to a point that has `write: true` in a gateway config (holding registers and coils), then read it back.')
    .requiredOption('--config <file>', 'the gateway config (YAML)')
    .requiredOption('--source <id>', 'the id of the modbus device in it')
    .requiredOption('--slave <name|unit>', 'the slave, by name or unit id')
    .requiredOption('--point <name>', 'the point')
    .requiredOption('--value <v>', 'the engineering value (scale and offset are undone); a coil: true/false, on/off, 1/0; a point with count: values separated by commas')
    .addHelpText('after', ONE_MASTER)
    .exitOverride()
    .action(async (o: WriteCommandOptions) => exit(await runModbusWrite(o, io)));
}

export interface ScanCommandOptions {
  readonly port?: string;
  readonly baud?: string;
  readonly parity?: string;
  readonly stopBits?: string;
  readonly tcp?: string;
  readonly units?: string;
  readonly timeoutMs?: string;
  readonly json?: boolean;
}

export interface ReadCommandOptions {
  readonly config: string;
  readonly source: string;
}

export interface WriteCommandOptions extends ReadCommandOptions {
  readonly slave: string;
  readonly point: string;
  readonly value: string;
}

class UsageError extends Error {}

function wholeNumber(name: string, text: string | undefined, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) throw new UsageError(`${name}: expected a whole number ${min}..${max}, got "${text}"`);
  return Number(text);
}

/** Unit ids from `1-247` or `1,2,10-20`, in order, without repeats. */
export function parseUnits(text: string, max: number): number[] {
  const units = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (m === null || from < 1 || to > max || from > to) throw new UsageError(`--units: expected unit ids 1..${max} like 1-247 or 1,2,10-20, got "${text}"${m !== null && from === 0 ? ' (0 is broadcast: nothing answers it)' : ''}`);
    for (let u = from; u <= to; u += 1) units.add(u);
  }
  return [...units];
}

/** `host:port`, `host` (port 502), `[v6]:port`. */
export function parseTcp(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(text.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? 502 : Number(m[3]);
  if (host === undefined || port < 1 || port > 65_535) throw new UsageError(`--tcp: expected HOST:PORT (port 1..65535, default 502), got "${text}"`);
  return { host, port };
}

/** Opens a bus; a bus that did not open is closed again and its reason thrown. */
async function openBus(options: import('../devices/modbus/bus.js').BusOptions): Promise<ModbusBus> {
  const { ModbusBus } = await import('../devices/modbus/bus.js');
  let reason = 'it did not open';
  const bus = new ModbusBus({
    ...options,
    onEvent: (_level, name, fields) => {
      if (name === 'modbus.open_failed') reason = String(fields['reason']);
    },
  });
  await bus.start();
  if (!bus.isOpen) {
    await bus.close();
    const rtu = options.endpoint.type === 'rtu';
    throw new Error(`cannot open ${bus.endpoint}: ${reason}${rtu && /lock/i.test(reason) ? ' (is a gateway polling this port? one master per bus: stop it first)' : ''}`);
  }
  return bus;
}

/** `openBus`, or the reason on stderr and EXIT_FAILURE. */
async function openBusOrSay(options: import('../devices/modbus/bus.js').BusOptions, io: ModbusIo): Promise<ModbusBus | number> {
  try {
    return await openBus(options);
  } catch (err) {
    io.stderr.write(`error: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

export async function runModbusScan(o: ScanCommandOptions, io: ModbusIo): Promise<number> {
  let busOptions: import('../devices/modbus/bus.js').BusOptions;
  let units: number[];
  let tcp: boolean;
  try {
    if ((o.port === undefined) === (o.tcp === undefined)) throw new UsageError('give exactly one of --port PATH (RTU) or --tcp HOST:PORT');
    tcp = o.tcp !== undefined;
    if (tcp && (o.baud !== undefined || o.parity !== undefined || o.stopBits !== undefined)) throw new UsageError('--baud, --parity and --stop-bits are for --port (RTU), not --tcp');
    const parity = o.parity ?? 'even';
    if (parity !== 'none' && parity !== 'even' && parity !== 'odd') throw new UsageError(`--parity: expected none, even or odd, got "${parity}"`);
    const stopBits = wholeNumber('--stop-bits', o.stopBits, 1, 2, 1) as 1 | 2;
    const baudRate = wholeNumber('--baud', o.baud, 300, 4_000_000, 19_200);
    const timeoutMs = wholeNumber('--timeout-ms', o.timeoutMs, 10, 60_000, 300);
    units = parseUnits(o.units ?? '1-247', tcp ? 255 : 247);
    const endpoint: import('../devices/modbus/bus.js').BusEndpoint = o.tcp !== undefined ? { type: 'tcp', ...parseTcp(o.tcp) } : { type: 'rtu', path: o.port as string, baudRate, parity, stopBits, dataBits: 8 };
    // No retries: a unit that does not answer is the common case. A short guard after a timeout: absent units send no late replies.
    busOptions = { endpoint, timeoutMs, retries: 0, lateReplyGuardMs: 20, reopen: { minMs: 1000, maxMs: 1000 } };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const { scanBus, scanSnippet } = await import('../devices/modbus/scan.js');
  const bus = await openBusOrSay(busOptions, io);
  if (typeof bus === 'number') return bus;
  const tty = io.stderr.isTTY === true;
  io.stderr.write(`scanning ${bus.endpoint}: ${units.length} unit id(s), ${busOptions.timeoutMs} ms per probe\n`);
  try {
    const result = await scanBus(bus, {
      units,
      tcp,
      onProgress: (p) => {
        if (tty) io.stderr.write(`\runit ${p.unit} (${p.done}/${p.total}), found ${p.found}   `);
        // Not a terminal (a log, a pipe): a line now and then, so a long RTU scan is seen to be alive.
        else if (p.done % 25 === 0 && p.done < p.total) io.stderr.write(`probed ${p.done}/${p.total} unit ids (up to ${p.unit}), found ${p.found}\n`);
      },
      onFound: (unit, answer) => io.stderr.write(`${tty ? '\n' : ''}unit ${unit} answered (${answer}); probing its register ranges\n`),
    });
    const snippet = scanSnippet(result);
    io.stderr.write(`${tty ? '\n' : ''}scanned ${result.unitsProbed} unit id(s) in ${(result.ms / 1000).toFixed(1)} s with ${result.requests} requests: ${result.found.length} answered\n`);
    if (o.json !== true) io.stdout.write(snippet);
    io.stdout.write(`${JSON.stringify({ modbusScan: result.endpoint, unitsProbed: result.unitsProbed, found: result.found, requests: result.requests, ms: result.ms, ...(o.json === true ? { snippet } : {}) })}\n`);
    if (result.found.length === 0) {
      io.stderr.write('error: no unit answered: check the wiring (A/B swapped?), baud rate, parity and stop bits, and the unit ids\n');
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`error: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  } finally {
    await bus.close();
  }
}

interface LoadedSource {
  readonly config: ModbusConfig;
  /** The line of a path inside the source's entry. */
  readonly lineOf: (path: readonly (string | number)[]) => number | undefined;
  /** `devices[i]` of the source, for messages. */
  readonly at: string;
}

/** The gateway config checked as `gateway --check` does, and the modbus source `id` in it; or the exit code after saying why not. */
async function loadSource(file: string, id: string, io: ModbusIo): Promise<LoadedSource | number> {
  const [{ loadConfig }, { builtinRegistry }, { ConfigError, EdgewiseError }, { readYamlSource }, { readFile }] = await Promise.all([
    import('../runtime/config/load.js'),
    import('../runtime/plugins.js'),
    import('../runtime/errors.js'),
    import('../runtime/config/yaml-source.js'),
    import('node:fs/promises'),
  ]);
  let devices;
  try {
    devices = (await loadConfig(file, builtinRegistry())).devices;
  } catch (err) {
    if (err instanceof ConfigError) io.stderr.write(`error: config ${err.message}\n`);
    else if (err instanceof EdgewiseError) io.stderr.write(`error: ${err.message}\n`);
    else throw err;
    return EXIT_USAGE;
  }
  const modbus = devices.filter((d) => d.type === 'modbus').map((d) => d.id);
  const device = devices.find((d) => d.id === id);
  if (device === undefined || device.type !== 'modbus') {
    const what = device === undefined ? `has no device "${id}"` : `device "${id}" is a ${device.type}, not a modbus source`;
    io.stderr.write(`error: ${file} ${what}; its modbus sources: ${modbus.length === 0 ? 'none' : modbus.join(', ')}\n`);
    return EXIT_USAGE;
  }
  const source = readYamlSource(await readFile(file, 'utf8'));
  const root = source.root as { devices?: { id?: unknown }[] };
  const index = root.devices?.findIndex((d) => d.id === id) ?? -1;
  return { config: device.config as ModbusConfig, lineOf: (path) => source.lineOf(['devices', index, ...path]), at: `devices[${index}]` };
}

/** Values for a person: 15 significant digits, so a scaled 1011 * 0.1 shows as 101.1 (the JSON line keeps every digit). */
function show(values: readonly number[]): string {
  const text = values.map((v) => String(Number(v.toPrecision(15))));
  return text.length === 1 ? (text[0] as string) : `[${text.join(', ')}]`;
}

const formatPath = (at: string, path: readonly (string | number)[]): string => at + path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');

export async function runModbusRead(o: ReadCommandOptions, io: ModbusIo): Promise<number> {
  const loaded = await loadSource(o.config, o.source, io);
  if (typeof loaded === 'number') return loaded;
  const [{ busOptionsOf, readOnce }] = await Promise.all([import('../devices/modbus/read-once.js')]);
  const bus = await openBusOrSay(busOptionsOf(loaded.config), io);
  if (typeof bus === 'number') return bus;
  try {
    const readings = await readOnce(bus, loaded.config);
    for (const r of readings) {
      io.stdout.write(`${r.slave} (unit ${r.unit}) group ${r.group}:${r.error === null ? '' : ` FAILED: ${r.error}`}\n`);
      for (const [name, values] of Object.entries(r.values)) {
        const unit = r.units[name] ?? '';
        io.stdout.write(`  ${name} = ${show(values)}${unit === '' ? '' : ` ${unit}`}\n`);
      }
    }
    const failed = readings.filter((r) => r.error !== null).length;
    io.stdout.write(`${JSON.stringify({ modbusRead: o.source, endpoint: bus.endpoint, groups: readings, failed })}\n`);
    if (failed > 0) io.stderr.write(`error: ${failed} of ${readings.length} group(s) could not be read\n`);
    return failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await bus.close();
  }
}

export async function runModbusWrite(o: WriteCommandOptions, io: ModbusIo): Promise<number> {
  const loaded = await loadSource(o.config, o.source, io);
  if (typeof loaded === 'number') return loaded;
  const [{ findPoint, planWrite, sendWrite, ModbusWriteRefusedError }, { parseWriteValue, ModbusValueError }, { busOptionsOf }, { toMapPoint }, { planReads, blockValues, isBitTable }] = await Promise.all([
    import('../devices/modbus/write.js'),
    import('../devices/modbus/encode.js'),
    import('../devices/modbus/read-once.js'),
    import('../devices/modbus/schema.js'),
    import('../devices/modbus/register-map.js'),
  ]);
  // Everything that can be refused is refused before the port is opened: nothing goes on the wire.
  let ref;
  let request;
  try {
    ref = findPoint(loaded.config, o.slave, o.point);
    const table = ref.point.table === 'coil' ? 'coil' : 'holding';
    request = planWrite(ref, parseWriteValue({ name: ref.point.name, table, count: ref.point.count ?? 1 }, o.value));
  } catch (err) {
    if (err instanceof ModbusWriteRefusedError) {
      const line = loaded.lineOf(err.path);
      io.stderr.write(`error: ${o.config}: ${formatPath(loaded.at, err.path)}${line === undefined ? '' : ` (line ${line})`}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ModbusValueError) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const bus = await openBusOrSay(busOptionsOf(loaded.config), io);
  if (typeof bus === 'number') return bus;
  const target = `${ref.slave}.${ref.point.name} (unit ${ref.unit}, ${ref.point.table} ${ref.point.address})`;
  try {
    await sendWrite(bus, ref.unit, request);
    const sent = request.table === 'holding' ? `registers [${request.words.join(', ')}]` : `coils [${request.bits.join(', ')}]`;
    const [block] = planReads(ref.unit, [toMapPoint(ref.point)]);
    let readBack: readonly number[] | null = null;
    let readError: string | null = null;
    if (block !== undefined) {
      try {
        const data = isBitTable(block.table) ? await bus.readBits(ref.unit, block.table, block.address, block.count) : await bus.readRegisters(ref.unit, block.table, block.address, block.count);
        readBack = blockValues(block, data).get(ref.point.name) ?? null;
      } catch (err) {
        readError = (err as Error).message;
      }
    }
    const unit = ref.point.unit === undefined ? '' : ` ${ref.point.unit}`;
    const back = readBack === null ? `; reading it back failed: ${readError ?? 'no block'}` : `; reads back ${show(readBack)}${unit}`;
    io.stdout.write(`wrote ${o.value}${unit} to ${target} as ${sent}${back}\n`);
    io.stdout.write(`${JSON.stringify({ modbusWrite: o.source, slave: ref.slave, unit: ref.unit, point: ref.point.name, value: o.value, ...(request.table === 'holding' ? { registers: request.words } : { coils: request.bits }), readBack })}\n`);
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`error: writing ${target}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  } finally {
    await bus.close();
  }
}
