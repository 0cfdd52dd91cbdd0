import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseTcp, parseUnits, runModbusRead, runModbusScan, runModbusWrite, type ModbusIo } from '../../cli/modbus-command.js';
import { parseConfig } from '../../runtime/config/load.js';
import { builtinRegistry } from '../../runtime/plugins.js';
import { PymodbusSim } from '../support/pymodbus-sim.js';
import { makeTempDir } from '../support/temp-dir.js';
import { edgewise } from './edgewise-command.js';

// The simulator's default map (test/support/pymodbus-sim.py): units 1, 2, 3, each with holding registers 0..199
// (int16 -1234 at 0, uint16 54321 at 1, HR100 = unit id, zeros from 110), input registers 0..49 (1000 + 10 * unit + i),
// coils 0..63 (i odd). Other unit ids do not answer (as on RS-485).

/** A command run in this process, its output captured. */
async function run(command: (io: ModbusIo) => Promise<number>): Promise<{ code: number; stdout: string; stderr: string; json: Record<string, unknown> }> {
  let stdout = '';
  let stderr = '';
  const io: ModbusIo = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } };
  const code = await command(io);
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    // not JSON: the test says what it expected
  }
  return { code, stdout, stderr, json };
}

function configYaml(dataDir: string, sim: PymodbusSim): string {
  const points = `
            points:
              - { name: i16, table: holding, address: 0, type: int16 }
              - { name: id, table: holding, address: 100 }
              - { name: volts, table: input, address: 0, count: 2, scale: 0.1, unit: V }
              - { name: setpoint, table: holding, address: 120, type: int16, scale: 0.1, offset: 0, unit: degC, write: true }
              - { name: run, table: coil, address: 10, write: true }`;
  return `gateway: { id: gw-mb, dataDir: ${JSON.stringify(dataDir)} }
uplink: { url: "mqtt://127.0.0.1:1" }
devices:
  - id: line1
    type: modbus
    rtu: { path: ${JSON.stringify(sim.serialPath)}, baudRate: 19200, parity: none, stopBits: 1 }
    timeoutMs: 300
    slaves:
      - unit: 2
        name: oven
        groups:
          - name: fast
            intervalMs: 1000${points}
  - id: plc
    type: modbus
    tcp: { host: 127.0.0.1, port: ${sim.tcpPort} }
    slaves:
      - unit: 1
        name: press
        groups:
          - name: fast
            intervalMs: 1000${points}
      - unit: 3
        name: meter
        groups:
          - name: slow
            intervalMs: 5000
            points:
              - { name: energy, table: input, address: 4, unit: kWh }
`;
}

const FOUND = [1, 2, 3].map((unit) => ({ unit, answer: 'data', holding: { start: 0, end: 199 }, input: { start: 0, end: 49 }, notes: [] }));

describe('modbus scan option parsing', () => {
  it('--units: ids in 1..max, in order without repeats, or an error naming --units', () => {
    expect(parseUnits('1-3,2,7', 247)).toEqual([1, 2, 3, 7]);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 16 }), fc.stringMatching(/^[0-9,-]{1,12}$/)), fc.constantFrom(247, 255), (text, max) => {
        try {
          const units = parseUnits(text, max);
          expect(units.length).toBeGreaterThan(0);
          expect(new Set(units).size).toBe(units.length);
          for (const u of units) expect(Number.isInteger(u) && u >= 1 && u <= max).toBe(true);
        } catch (err) {
          expect((err as Error).message).toMatch(/^--units: /);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('--tcp: HOST, HOST:PORT or [IPv6]:PORT', () => {
    expect(parseTcp('10.0.0.5')).toEqual({ host: '10.0.0.5', port: 502 });
    expect(parseTcp('plc-1.local:1502')).toEqual({ host: 'plc-1.local', port: 1502 });
    expect(parseTcp('[::1]:5020')).toEqual({ host: '::1', port: 5020 });
    for (const bad of ['', 'a:b', 'a:0', 'a:65536', '::1:502']) expect(() => parseTcp(bad)).toThrow(/^--tcp: expected HOST:PORT/);
  });
});

describe('edgewise modbus, against pymodbus over RTU (socat pty) and TCP', () => {
  let sim: PymodbusSim;
  let dir: { path: string; remove: () => Promise<void> };
  let config: string;
  /** Write requests (FC 5, 6, 15, 16) the simulator answered. */
  const writesSeen = (): number => [...sim.stdout.matchAll(/^request \d+ (5|6|15|16)$/gm)].length;

  beforeAll(async () => {
    sim = await PymodbusSim.start({ rtu: true, tcp: true, baudRate: 19_200 });
    dir = await makeTempDir('edgewise-modbus-cli-');
    config = `${dir.path}/gateway.yaml`;
    await writeFile(config, configYaml(`${dir.path}/data`, sim));
  });
  afterAll(async () => {
    await sim?.stop();
    await dir?.remove();
  });

  it('`modbus scan --tcp` finds units 1-3 and no other, and prints a slaves: snippet that a gateway config accepts', async () => {
    const r = await edgewise(['modbus', 'scan', '--tcp', `127.0.0.1:${sim.tcpPort}`, '--units', '1-5', '--timeout-ms', '200'], 30_000);
    expect(r.stderr).toContain('unit 3 answered (data); probing its register ranges');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ modbusScan: `tcp://127.0.0.1:${sim.tcpPort}`, unitsProbed: 5, found: FOUND });
    // At most 2 presence probes per unit, then 1 + 16 per table of a unit found.
    expect(r.json?.['requests'] as number).toBeLessThanOrEqual(5 * 2 + 3 * 2 * 17);
    const snippet = r.stdout.slice(0, r.stdout.trimEnd().lastIndexOf('\n'));
    const slaves = (parse(snippet) as { slaves: unknown[] }).slaves;
    expect(slaves).toHaveLength(3);
    expect(slaves[0]).toEqual({
      unit: 1,
      name: 'unit1',
      groups: [{ name: 'scan', intervalMs: 1000, points: [
        { name: 'hr_0', table: 'holding', address: 0, count: 125 },
        { name: 'hr_125', table: 'holding', address: 125, count: 75 },
        { name: 'ir_0', table: 'input', address: 0, count: 50 },
      ] }],
    });
    // Pasted under a modbus source, the snippet passes the config check (schema and the source's own rules).
    const indented = snippet.split('\n').map((l) => `    ${l}`).join('\n');
    const gateway = parseConfig(`gateway: { id: gw-1, dataDir: /tmp/x }\nuplink: { url: "mqtt://127.0.0.1:1" }\ndevices:\n  - id: bus\n    type: modbus\n    tcp: { host: 127.0.0.1 }\n${indented}\n`, 'pasted.yaml', builtinRegistry());
    expect(gateway.devices[0]?.config).toMatchObject({ slaves: [{ unit: 1 }, { unit: 2 }, { unit: 3 }] });
  });

  it('`modbus scan --port` finds units 1-3 over RTU too', async () => {
    const r = await run((io) => runModbusScan({ port: sim.serialPath, baud: '19200', parity: 'none', units: '1-5', timeoutMs: '200', json: true }, io));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.json).toMatchObject({ modbusScan: `${sim.serialPath}@19200`, unitsProbed: 5, found: FOUND });
    expect(parse(r.json['snippet'] as string)).toMatchObject({ slaves: [{ unit: 1 }, { unit: 2 }, { unit: 3 }] });
  });

  it('refuses bad options with exit 2 and a message naming the option', async () => {
    const cases: [Parameters<typeof runModbusScan>[0], RegExp][] = [
      [{}, /give exactly one of --port PATH \(RTU\) or --tcp HOST:PORT/],
      [{ tcp: '127.0.0.1:1', port: '/dev/null' }, /exactly one of/],
      [{ tcp: '127.0.0.1:1', units: '0-5' }, /--units: expected unit ids 1\.\.255 .* \(0 is broadcast: nothing answers it\)/],
      [{ port: '/dev/null', units: '250' }, /--units: expected unit ids 1\.\.247/],
      [{ tcp: '127.0.0.1:99999' }, /--tcp: expected HOST:PORT/],
      [{ tcp: '127.0.0.1:1', baud: '9600' }, /--baud, --parity and --stop-bits are for --port/],
      [{ port: '/dev/null', parity: 'mark' }, /--parity: expected none, even or odd, got "mark"/],
      [{ port: '/dev/null', timeoutMs: '5' }, /--timeout-ms: expected a whole number 10\.\.60000, got "5"/],
    ];
    for (const [options, message] of cases) {
      const r = await run((io) => runModbusScan(options, io));
      expect(r.code, JSON.stringify(options)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('a port that cannot be opened is exit 1 with the reason', async () => {
    const r = await run((io) => runModbusScan({ port: `${dir.path}/no-such-tty`, units: '1' }, io));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot open .*no-such-tty@19200: .*No such file/m);
  });

  it('`modbus read` polls every group of a source once and prints values with units, the JSON summary last', async () => {
    const r = await run((io) => runModbusRead({ config, source: 'plc' }, io));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('press (unit 1) group fast:\n  i16 = -1234\n  id = 1\n  volts = [101, 101.1] V\n  setpoint = 0 degC\n  run = 0\n');
    expect(r.stdout).toContain('meter (unit 3) group slow:\n  energy = 1034 kWh\n');
    expect(r.json).toMatchObject({ modbusRead: 'plc', failed: 0, groups: [{ unit: 1, group: 'fast', error: null }, { unit: 3, values: { energy: [1034] }, units: { energy: 'kWh' } }] });
  });

  it('`modbus read` of a source that is not there, or of a bad config, is exit 2 naming the file', async () => {
    const none = await run((io) => runModbusRead({ config, source: 'nope' }, io));
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`error: ${config} has no device "nope"; its modbus sources: line1, plc\n`);
    const bad = `${dir.path}/bad.yaml`;
    await writeFile(bad, configYaml(`${dir.path}/data`, sim).replace('address: 100 }', 'address: 100, type: bool }'));
    const r = await run((io) => runModbusRead({ config: bad, source: 'plc' }, io));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/devices\[0\]\.slaves\[0\]\.groups\[0\]\.points\[1\]\.type: expected a register type .* got bool \(line 16\)/);
  });

  it('`modbus write` writes a point with write: true over RTU and reads it back', async () => {
    const r = await run((io) => runModbusWrite({ config, source: 'line1', slave: 'oven', point: 'setpoint', value: '21.55' }, io));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote 21\.55 degC to oven\.setpoint \(unit 2, holding 120\) as registers \[216\]; reads back 21\.6 degC\n/);
    expect(r.json).toEqual({ modbusWrite: 'line1', slave: 'oven', unit: 2, point: 'setpoint', value: '21.55', registers: [216], readBack: [21.6] });
    const coil = await run((io) => runModbusWrite({ config, source: 'line1', slave: '2', point: 'run', value: 'on' }, io));
    expect(coil.code, coil.stderr).toBe(0);
    expect(coil.json).toMatchObject({ unit: 2, coils: [true], readBack: [1] });
    const back = await run((io) => runModbusRead({ config, source: 'line1' }, io));
    expect(back.json).toMatchObject({ groups: [{ values: { setpoint: [21.6], run: [1] } }] });
  });

  it('`modbus write` to a point without write: true is exit 2 naming the point and its line, and sends nothing', async () => {
    const before = writesSeen();
    const r = await edgewise(['modbus', 'write', '--config', config, '--source', 'plc', '--slave', 'press', '--point', 'id', '--value', '7'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd()).toBe(
      `error: ${config}: devices[1].slaves[0].groups[0].points[1] (line 31): point id of slave press (unit 1) is not writable: writes are off unless the point has \`write: true\` in the config (holding registers and coils only)`,
    );
    const value = await run((io) => runModbusWrite({ config, source: 'plc', slave: 'press', point: 'setpoint', value: '4000' }, io));
    expect(value.code).toBe(2);
    expect(value.stderr).toMatch(/^error: point setpoint: 4000 \(raw 40000 after scale 0\.1 and offset 0\) is outside int16/);
    const coil = await run((io) => runModbusWrite({ config, source: 'plc', slave: 'press', point: 'run', value: 'maybe' }, io));
    expect(coil.code).toBe(2);
    const unknown = await run((io) => runModbusWrite({ config, source: 'plc', slave: 'boiler', point: 'run', value: '1' }, io));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no slave named "boiler" on this bus; it has press \(unit 1\), meter \(unit 3\)/);
    expect(writesSeen()).toBe(before);
  });
});
