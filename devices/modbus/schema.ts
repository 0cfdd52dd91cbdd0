import type { Infer } from 'tjs';
import { RECORD_CLASSES } from '../../fleet/protocol/index.js';
import { delayRangeSchema, idProperty } from '../../runtime/config/schema.js';
import type { PluginProblem } from '../../runtime/pipeline/registry.js';
import { NUMERIC_TYPES, registersOf, WORD_ORDERS, type NumericType } from './decode.js';
import { isBitTable, MAX_READ_BITS, MAX_READ_REGISTERS, TABLES, type MapPoint, type Table } from './register-map.js';

/** A point's type: a number type for registers, `bool` for coils and discrete inputs. */
export const POINT_TYPES = [...NUMERIC_TYPES, 'bool'] as const;
export type PointType = (typeof POINT_TYPES)[number];

const nameProperty = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$', description: 'a name of letters, digits, _ . : - (at most 64)' } as const;

export const modbusPointSchema = {
  type: 'object',
  properties: {
    name: { ...nameProperty, description: 'the key of this point in the record\'s data.values' },
    table: { enum: TABLES, description: 'holding registers (FC 3), input registers (FC 4), coils (FC 1), discrete inputs (FC 2)' },
    address: { type: 'integer', minimum: 0, maximum: 65_535, description: 'zero-based protocol address: holding register 40001 in a manual is address 0' },
    type: { enum: POINT_TYPES, description: 'int16 | uint16 | int32 | uint32 | float32 | float64 for registers (default uint16); bool for coils and discrete inputs (the default there)' },
    order: { enum: WORD_ORDERS, description: 'byte layout of a 32/64-bit value across its registers: ABCD (default), CDAB (word swap), BADC (byte swap), DCBA' },
    /** Values of `type` read one after another; the point's value is a list of `count` numbers. */
    count: { type: 'integer', minimum: 1, maximum: MAX_READ_BITS, description: 'how many consecutive values the point reads (default 1)' },
    scale: { type: 'number', description: 'recorded value = raw * scale + offset (default 1)' },
    offset: { type: 'number', description: 'recorded value = raw * scale + offset (default 0)' },
    unit: { type: 'string', minLength: 1, maxLength: 32, description: 'engineering unit recorded with the value, like V, kWh or degC' },
    /** Writes are off unless a point enables them. */
    write: { type: 'boolean', description: 'allow writes to this point (holding registers and coils only; default false)' },
  },
  required: ['name', 'table', 'address'],
  additionalProperties: false,
} as const;

export const modbusGroupSchema = {
  type: 'object',
  properties: {
    name: nameProperty,
    intervalMs: { type: 'integer', minimum: 10, maximum: 86_400_000, description: 'time between the starts of two polls of this group' },
    /** Overrides the source's maxGap for this group. */
    maxGap: { type: 'integer', minimum: 0, maximum: MAX_READ_REGISTERS - 1, description: 'unused addresses between two points still read in one request' },
    stream: { type: 'string', minLength: 1, maxLength: 128, description: 'the stream of this group\'s records (default: <source id>.<slave name>.<group name>)' },
    points: { type: 'array', items: modbusPointSchema, minItems: 1, maxItems: 10_000 },
  },
  required: ['name', 'intervalMs', 'points'],
  additionalProperties: false,
} as const;

export const modbusSlaveSchema = {
  type: 'object',
  properties: {
    unit: { type: 'integer', minimum: 0, maximum: 255, description: 'the slave (unit) id: 1..247 (255 is also accepted over TCP)' },
    name: nameProperty,
    groups: { type: 'array', items: modbusGroupSchema, minItems: 1, maxItems: 100 },
  },
  required: ['unit', 'name', 'groups'],
  additionalProperties: false,
} as const;

export const modbusRtuSchema = {
  type: 'object',
  properties: {
    path: { type: 'string', minLength: 1, description: 'a serial device path like /dev/ttyUSB0 or /dev/serial/by-id/...' },
    baudRate: { type: 'integer', minimum: 300, maximum: 4_000_000, description: 'line speed (default 19200, the spec\'s default)' },
    parity: { enum: ['none', 'even', 'odd'], description: 'default even, the spec\'s default' },
    stopBits: { enum: [1, 2], description: 'default 1; the spec asks for 2 when parity is none' },
    dataBits: { enum: [8], description: 'always 8 in RTU (7 data bits is Modbus ASCII, which is not supported)' },
  },
  required: ['path'],
  additionalProperties: false,
} as const;

export const modbusTcpSchema = {
  type: 'object',
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 253, description: 'a host name or IP address' },
    port: { type: 'integer', minimum: 1, maximum: 65_535, description: 'default 502' },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 16, description: 'requests sent before their answers came back, matched by transaction id (default 1: one at a time, which every device supports)' },
  },
  required: ['host'],
  additionalProperties: false,
} as const;

/** One Modbus bus: a serial line (rtu) or a TCP endpoint (tcp), and the slaves polled on it. */
export const modbusSchema = {
  type: 'object',
  properties: {
    id: idProperty,
    type: { const: 'modbus' },
    rtu: modbusRtuSchema,
    tcp: modbusTcpSchema,
    timeoutMs: { type: 'integer', minimum: 10, maximum: 60_000, description: 'wait for an answer at most this long (default 300)' },
    retries: { type: 'integer', minimum: 0, maximum: 10, description: 'repeats of a request that timed out or failed its CRC (default 1)' },
    interFrameDelayMs: {
      oneOf: [
        { type: 'string', enum: ['auto'], description: 'auto: 3.5 characters at the baud rate (1.75 ms above 19200 baud)' },
        { type: 'number', minimum: 0, maximum: 1000, description: 'silence before each request, in ms' },
      ],
    },
    maxGap: { type: 'integer', minimum: 0, maximum: MAX_READ_REGISTERS - 1, description: 'unused addresses between two points still read in one request (default 0)' },
    reopen: delayRangeSchema,
    class: { enum: RECORD_CLASSES },
    slaves: { type: 'array', items: modbusSlaveSchema, minItems: 1, maxItems: 247 },
  },
  required: ['id', 'type', 'slaves'],
  additionalProperties: false,
} as const;

export type ModbusConfig = Infer<typeof modbusSchema>;
type PointConfig = Infer<typeof modbusPointSchema>;

/** A point's type with its table's default filled in. */
export function pointType(p: Pick<PointConfig, 'table' | 'type'>): PointType {
  return p.type ?? (isBitTable(p.table) ? 'bool' : 'uint16');
}

/** A config point as the planner takes it (defaults filled in). Only for points that passed `check`. */
export function toMapPoint(p: PointConfig): MapPoint {
  const t = pointType(p);
  return {
    name: p.name,
    table: p.table,
    address: p.address,
    // Bit tables ignore the type; any numeric type stands in.
    type: t === 'bool' ? 'uint16' : t,
    order: p.order ?? 'ABCD',
    count: p.count ?? 1,
    scaling: { scale: p.scale ?? 1, offset: p.offset ?? 0 },
  };
}

const WRITABLE: readonly Table[] = ['holding', 'coil'];
/** Per write request, from the spec: FC 16 carries 123 registers, FC 15 1968 coils. */
const MAX_WRITE_REGISTERS = 123;
const MAX_WRITE_BITS = 1968;

/** Problems of one point; `at` is its path inside the entry. */
function pointProblems(p: PointConfig, at: readonly (string | number)[]): PluginProblem[] {
  const problems: PluginProblem[] = [];
  const bits = isBitTable(p.table);
  const t = pointType(p);
  if (bits && t !== 'bool') problems.push({ path: [...at, 'type'], expected: `bool (a ${p.table} is one bit)`, got: t });
  if (!bits && t === 'bool') problems.push({ path: [...at, 'type'], expected: `a register type (${NUMERIC_TYPES.join(', ')}) for ${p.table === 'input' ? 'an input' : 'a holding'} register`, got: 'bool' });
  if (p.order !== undefined && (bits || t === 'bool' || registersOf(t as NumericType) === 1)) {
    problems.push({ path: [...at, 'order'], expected: 'no order: it applies to 32- and 64-bit types, which span several registers', got: `order ${p.order} on ${bits ? `a ${p.table}` : t}` });
  }
  if (bits) {
    for (const key of ['scale', 'offset'] as const) if (p[key] !== undefined) problems.push({ path: [...at, key], expected: `no ${key} on a ${p.table} (its value is 0 or 1)`, got: String(p[key]) });
  }
  if (p.scale === 0) problems.push({ path: [...at, 'scale'], expected: 'a scale other than 0', got: '0' });
  if (p.write === true && !WRITABLE.includes(p.table)) problems.push({ path: [...at, 'write'], expected: `write only on holding registers and coils (${p.table === 'input' ? 'input registers' : 'discrete inputs'} are read-only in Modbus)`, got: 'write: true' });
  const count = p.count ?? 1;
  const length = bits ? count : registersOf(t === 'bool' ? 'uint16' : t) * count;
  const limit = bits ? MAX_READ_BITS : MAX_READ_REGISTERS;
  if (length > limit) {
    problems.push({ path: [...at, 'count'], expected: `a point one request can read: at most ${limit} ${bits ? 'bits' : 'registers'}`, got: `${count} x ${bits ? 'bit' : `${t} (${registersOf(t as NumericType)} registers)`} = ${length}` });
  } else if (p.write === true && length > (bits ? MAX_WRITE_BITS : MAX_WRITE_REGISTERS)) {
    problems.push({ path: [...at, 'count'], expected: `a writable point one request can write: at most ${bits ? `${MAX_WRITE_BITS} bits (FC 15)` : `${MAX_WRITE_REGISTERS} registers (FC 16)`}`, got: String(length) });
  } else if (p.address + length > 0x10000) {
    problems.push({ path: [...at, 'address'], expected: 'a point that ends at address 65535 or before', got: `addresses ${p.address}..${p.address + length - 1}` });
  }
  return problems;
}

/** Cross-field rules of a `modbus` entry the schema cannot say; paths are relative to the entry. */
export function checkModbus(config: ModbusConfig): PluginProblem[] {
  const problems: PluginProblem[] = [];
  if ((config.rtu === undefined) === (config.tcp === undefined)) {
    problems.push({ path: config.rtu === undefined ? [] : ['tcp'], expected: 'exactly one of rtu (a serial line) or tcp (host and port)', got: config.rtu === undefined ? 'neither' : 'both' });
  }
  const tcp = config.rtu === undefined && config.tcp !== undefined;
  if (tcp && config.interFrameDelayMs !== undefined) problems.push({ path: ['interFrameDelayMs'], expected: 'interFrameDelayMs only with rtu (TCP frames are delimited by their length)', got: String(config.interFrameDelayMs) });
  const r = config.reopen;
  if (r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.minDelayMs > r.maxDelayMs) {
    problems.push({ path: ['reopen', 'maxDelayMs'], expected: `a number >= reopen.minDelayMs (${r.minDelayMs})`, got: String(r.maxDelayMs) });
  }
  const units = new Map<number, number>();
  const slaveNames = new Map<string, number>();
  config.slaves.forEach((slave, s) => {
    const at = ['slaves', s];
    if (slave.unit === 0) problems.push({ path: [...at, 'unit'], expected: 'a unit id 1..247 (0 is broadcast: no slave answers it, so it cannot be polled)', got: '0' });
    else if (slave.unit > 247 && !(tcp && slave.unit === 255)) {
      problems.push({ path: [...at, 'unit'], expected: `a unit id 1..247${tcp ? ' (or 255, the TCP device itself)' : ' (248..255 are reserved)'}`, got: String(slave.unit) });
    }
    const sameUnit = units.get(slave.unit);
    if (sameUnit !== undefined) problems.push({ path: [...at, 'unit'], expected: `a unit id no other slave on this bus has`, got: `${slave.unit}, also slaves[${sameUnit}]` });
    else units.set(slave.unit, s);
    const sameName = slaveNames.get(slave.name);
    if (sameName !== undefined) problems.push({ path: [...at, 'name'], expected: 'a slave name unique on this bus', got: `"${slave.name}", also slaves[${sameName}]` });
    else slaveNames.set(slave.name, s);
    const groupNames = new Map<string, number>();
    const pointNames = new Map<string, string>();
    slave.groups.forEach((group, g) => {
      const gat = [...at, 'groups', g];
      const sameGroup = groupNames.get(group.name);
      if (sameGroup !== undefined) problems.push({ path: [...gat, 'name'], expected: `a group name unique in slave ${slave.name}`, got: `"${group.name}", also groups[${sameGroup}]` });
      else groupNames.set(group.name, g);
      group.points.forEach((point, i) => {
        const pat = [...gat, 'points', i];
        problems.push(...pointProblems(point, pat));
        const where = `groups[${g}].points[${i}]`;
        const samePoint = pointNames.get(point.name);
        if (samePoint !== undefined) problems.push({ path: [...pat, 'name'], expected: `a point name unique in slave ${slave.name}`, got: `"${point.name}", also ${samePoint}` });
        else pointNames.set(point.name, where);
      });
    });
  });
  return problems;
}
