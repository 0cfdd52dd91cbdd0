import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkModbus, modbusSchema, toMapPoint, type ModbusConfig } from '../../../devices/modbus/schema.js';
import { NUMERIC_TYPES, WORD_ORDERS } from '../../../devices/modbus/decode.js';
import { TABLES, planReads } from '../../../devices/modbus/register-map.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { validatorFor } from '../../../runtime/pipeline/registry.js';

const validate = validatorFor(modbusSchema);

/** A schema-valid entry (the check runs only on those), or the test fails here. */
function entry(value: unknown): ModbusConfig {
  const r = validate(value);
  if (r.error !== undefined) throw new Error(`not schema-valid: ${JSON.stringify(r.error)}`);
  return r.value as ModbusConfig;
}

const meter = {
  id: 'line1-rs485',
  type: 'modbus',
  rtu: { path: '/dev/ttyUSB0', baudRate: 19200, parity: 'even', stopBits: 1, dataBits: 8 },
  timeoutMs: 300,
  retries: 1,
  interFrameDelayMs: 'auto',
  reopen: { minDelayMs: 500, maxDelayMs: 30000 },
  slaves: [
    {
      unit: 1,
      name: 'press1-meter',
      groups: [
        {
          name: 'fast',
          intervalMs: 1000,
          points: [
            { name: 'voltage_l1', table: 'input', address: 0, type: 'float32', order: 'CDAB', unit: 'V' },
            { name: 'energy', table: 'holding', address: 100, type: 'uint32', order: 'ABCD', scale: 0.01, unit: 'kWh' },
            { name: 'running', table: 'coil', address: 5 },
            { name: 'setpoint', table: 'holding', address: 200, type: 'int16', scale: 0.1, unit: 'degC', write: true },
          ],
        },
        { name: 'slow', intervalMs: 60000, points: [{ name: 'hours', table: 'input', address: 40, type: 'uint32', count: 2 }] },
      ],
    },
  ],
};

/** `meter` with its first group's points replaced. */
const withPoints = (points: unknown[], extra: Record<string, unknown> = {}): unknown => ({
  ...meter,
  ...extra,
  slaves: [{ ...meter.slaves[0], groups: [{ name: 'fast', intervalMs: 1000, points }] }],
});

const problems = (value: unknown): string[] => checkModbus(entry(value)).map((p) => `${p.path.join('.')}: expected ${p.expected}, got ${p.got}`);

describe('modbus config: schema and check (schema.ts)', () => {
  it("accepts the research's sample bus, and its points plan into reads", () => {
    const config = entry(meter);
    expect(checkModbus(config)).toEqual([]);
    const fast = config.slaves[0]?.groups[0]?.points.map(toMapPoint) ?? [];
    expect(planReads(1, fast).map((b) => [b.table, b.address, b.count])).toEqual([
      ['holding', 100, 2],
      ['holding', 200, 1],
      ['input', 0, 2],
      ['coil', 5, 1],
    ]);
    expect(checkModbus(entry({ id: 'plc', type: 'modbus', tcp: { host: '10.0.0.12', port: 502 }, slaves: [{ unit: 255, name: 'plc', groups: [{ name: 'g', intervalMs: 100, points: [{ name: 'x', table: 'holding', address: 0 }] }] }] }))).toEqual([]);
  });

  it('refuses a type the table cannot hold: a coil as float32, a register as bool', () => {
    expect(problems(withPoints([{ name: 'a', table: 'coil', address: 0, type: 'float32' }, { name: 'b', table: 'input', address: 0, type: 'bool' }]))).toEqual([
      'slaves.0.groups.0.points.0.type: expected bool (a coil is one bit), got float32',
      'slaves.0.groups.0.points.1.type: expected a register type (int16, uint16, int32, uint32, float32, float64) for an input register, got bool',
    ]);
  });

  it('refuses an order on a 16-bit type or a bit, and scale or offset on a bit', () => {
    expect(problems(withPoints([
      { name: 'a', table: 'holding', address: 0, type: 'int16', order: 'BADC' },
      { name: 'b', table: 'discrete', address: 0, order: 'CDAB', scale: 2, offset: 1 },
      { name: 'c', table: 'holding', address: 1, order: 'CDAB' },
    ]))).toEqual([
      'slaves.0.groups.0.points.0.order: expected no order: it applies to 32- and 64-bit types, which span several registers, got order BADC on int16',
      'slaves.0.groups.0.points.1.order: expected no order: it applies to 32- and 64-bit types, which span several registers, got order CDAB on a discrete',
      'slaves.0.groups.0.points.1.scale: expected no scale on a discrete (its value is 0 or 1), got 2',
      'slaves.0.groups.0.points.1.offset: expected no offset on a discrete (its value is 0 or 1), got 1',
      'slaves.0.groups.0.points.2.order: expected no order: it applies to 32- and 64-bit types, which span several registers, got order CDAB on uint16',
    ]);
  });

  it('refuses write on input registers and discrete inputs, allows it on holding registers and coils', () => {
    expect(problems(withPoints([
      { name: 'a', table: 'input', address: 0, write: true },
      { name: 'b', table: 'discrete', address: 0, write: true },
      { name: 'c', table: 'holding', address: 0, write: true },
      { name: 'd', table: 'coil', address: 0, write: true },
    ]))).toEqual([
      'slaves.0.groups.0.points.0.write: expected write only on holding registers and coils (input registers are read-only in Modbus), got write: true',
      'slaves.0.groups.0.points.1.write: expected write only on holding registers and coils (discrete inputs are read-only in Modbus), got write: true',
    ]);
  });

  it('refuses duplicate point names in a slave (across its groups too), and duplicate groups, slave names and unit ids', () => {
    const p = { name: 'x', table: 'holding', address: 0 };
    const twice = {
      ...meter,
      slaves: [
        { unit: 1, name: 's', groups: [{ name: 'g', intervalMs: 100, points: [p, p] }, { name: 'g', intervalMs: 100, points: [p] }] },
        { unit: 1, name: 's', groups: [{ name: 'g', intervalMs: 100, points: [p] }] },
      ],
    };
    expect(problems(twice)).toEqual([
      'slaves.0.groups.0.points.1.name: expected a point name unique in slave s, got "x", also groups[0].points[0]',
      'slaves.0.groups.1.name: expected a group name unique in slave s, got "g", also groups[0]',
      'slaves.0.groups.1.points.0.name: expected a point name unique in slave s, got "x", also groups[0].points[0]',
      'slaves.1.unit: expected a unit id no other slave on this bus has, got 1, also slaves[0]',
      'slaves.1.name: expected a slave name unique on this bus, got "s", also slaves[0]',
    ]);
  });

  it('refuses unit 0 (broadcast) and ids above 247 (255 only over TCP)', () => {
    const bus = (transport: Record<string, unknown>, unit: number): unknown => ({
      id: 'b',
      type: 'modbus',
      ...transport,
      slaves: [{ unit, name: 's', groups: [{ name: 'g', intervalMs: 100, points: [{ name: 'x', table: 'holding', address: 0 }] }] }],
    });
    expect(problems(bus({ rtu: { path: '/dev/ttyUSB0' } }, 0))).toEqual(['slaves.0.unit: expected a unit id 1..247 (0 is broadcast: no slave answers it, so it cannot be polled), got 0']);
    expect(problems(bus({ rtu: { path: '/dev/ttyUSB0' } }, 248))).toEqual(['slaves.0.unit: expected a unit id 1..247 (248..255 are reserved), got 248']);
    expect(problems(bus({ rtu: { path: '/dev/ttyUSB0' } }, 255))).toHaveLength(1);
    expect(problems(bus({ tcp: { host: 'plc' } }, 255))).toEqual([]);
    expect(problems(bus({ tcp: { host: 'plc' } }, 0))).toHaveLength(1);
    expect(validate(bus({ tcp: { host: 'plc' } }, 256)).error).toBeDefined();
  });

  it('refuses a point longer than one request (125 registers, 2000 bits; written: 123, 1968) or past address 65535', () => {
    expect(problems(withPoints([
      { name: 'a', table: 'holding', address: 0, type: 'float64', count: 32 },
      { name: 'b', table: 'holding', address: 200, count: 125 },
      { name: 'c', table: 'input', address: 65534, type: 'float32', count: 1 },
      { name: 'd', table: 'coil', address: 65000, count: 2000 },
      { name: 'e', table: 'holding', address: 300, count: 124, write: true },
      { name: 'f', table: 'coil', address: 0, count: 1968, write: true },
    ]))).toEqual([
      'slaves.0.groups.0.points.0.count: expected a point one request can read: at most 125 registers, got 32 x float64 (4 registers) = 128',
      'slaves.0.groups.0.points.3.address: expected a point that ends at address 65535 or before, got addresses 65000..66999',
      'slaves.0.groups.0.points.4.count: expected a writable point one request can write: at most 123 registers (FC 16), got 124',
    ]);
  });

  it('wants exactly one of rtu and tcp, no inter-frame delay over TCP, and reopen delays the right way round', () => {
    const { rtu: _rtu, ...noTransport } = meter;
    expect(problems(noTransport)).toEqual([': expected exactly one of rtu (a serial line) or tcp (host and port), got neither']);
    expect(problems({ ...meter, tcp: { host: 'plc' } })).toEqual(['tcp: expected exactly one of rtu (a serial line) or tcp (host and port), got both']);
    expect(problems({ ...noTransport, tcp: { host: 'plc' } })).toEqual(['interFrameDelayMs: expected interFrameDelayMs only with rtu (TCP frames are delimited by their length), got auto']);
    expect(problems({ ...meter, interFrameDelayMs: 4.5, reopen: { minDelayMs: 5000, maxDelayMs: 100 } })).toEqual(['reopen.maxDelayMs: expected a number >= reopen.minDelayMs (5000), got 100']);
    expect(validate({ ...meter, interFrameDelayMs: 'fast' }).error).toBeDefined();
  });
});

describe('the check and the planner agree', () => {
  it('a point the check passes always plans; one the planner refuses always has a problem (property)', () => {
    const pointArb = fc.record(
      {
        name: fc.constant('p'),
        table: fc.constantFrom(...TABLES),
        address: fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.integer({ min: 65_400, max: 65_535 })),
        type: fc.constantFrom(...NUMERIC_TYPES, 'bool' as const),
        order: fc.constantFrom(...WORD_ORDERS),
        count: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2000 })),
        scale: fc.constantFrom(0.1, 2),
      },
      { requiredKeys: ['name', 'table', 'address'] },
    );
    fc.assert(
      fc.property(pointArb, (point) => {
        const config = entry(withPoints([point]));
        const found = checkModbus(config);
        let planned = true;
        try {
          planReads(1, config.slaves[0]?.groups[0]?.points.map(toMapPoint) ?? []);
        } catch {
          planned = false;
        }
        if (found.length === 0) expect(planned).toBe(true);
        if (!planned) expect(found.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });
});

function checkYaml(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml', builtinRegistry()); // the modbus plug-in as devices/modbus/index.ts registers it
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const yamlHead = 'gateway:\n  id: gw-1\n  dataDir: /tmp/x\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n';

describe('bad register maps at --check: the path and the YAML line', () => {
  it('names the point key and its line for a rule of the check and for a schema error', () => {
    const yaml = `${yamlHead}  - id: line1
    type: modbus
    rtu: { path: /dev/ttyUSB0, baudRate: 19200 }
    slaves:
      - unit: 1
        name: press1
        groups:
          - name: fast
            intervalMs: 1000
            points:
              - { name: voltage, table: input, address: 0, type: float32, order: CDAB, unit: V }
              - name: running
                table: coil
                address: 5
                type: float32
              - { name: temp, table: input, address: 9, tpye: int16 }
      - unit: 0
        name: press2
        groups: [{ name: slow, intervalMs: 60000, points: [{ name: hours, table: input, address: 0, write: true }] }]
`;
    const got = checkYaml(yaml);
    expect(got).toEqual([
      expect.stringMatching(/^devices\[0\]\.slaves\[0\]\.groups\[0\]\.points\[2\]\.tpye: .*did you mean "type"\?.*\(line 22\)$/),
    ]);
    const fixed = yaml.replace('tpye', 'type');
    expect(checkYaml(fixed)).toEqual([
      'devices[0].slaves[0].groups[0].points[1].type: expected bool (a coil is one bit), got float32 (line 21)',
      'devices[0].slaves[1].unit: expected a unit id 1..247 (0 is broadcast: no slave answers it, so it cannot be polled), got 0 (line 23)',
      'devices[0].slaves[1].groups[0].points[0].write: expected write only on holding registers and coils (input registers are read-only in Modbus), got write: true (line 25)',
    ]);
  });
});
