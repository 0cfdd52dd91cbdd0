import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModbusBus } from '../../../devices/modbus/bus.js';
import { decodeRaw, NUMERIC_TYPES, rangeOf, registersOf, WORD_ORDERS, type NumericType, type WordOrder } from '../../../devices/modbus/decode.js';
import { encodeWrite, ModbusValueError, parseWriteValue, type EncodePoint } from '../../../devices/modbus/encode.js';
import { ModbusSource, type ModbusSourceOptions } from '../../../devices/modbus/modbus-source.js';
import { checkModbus, type ModbusConfig } from '../../../devices/modbus/schema.js';
import type { Receipt, SourceContext } from '../../../runtime/pipeline/components.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { PymodbusSim } from '../../support/pymodbus-sim.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

const point = (p: Partial<EncodePoint> & Pick<EncodePoint, 'type'>): EncodePoint => ({ name: 'p', table: 'holding', address: 0, order: 'ABCD', count: 1, scaling: { scale: 1, offset: 0 }, ...p });
const words = (type: NumericType): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: registersOf(type), maxLength: registersOf(type) });
const order = fc.constantFrom(...WORD_ORDERS);
const INTEGER_TYPES = ['int16', 'uint16', 'int32', 'uint32'] as const;
const FLOAT_TYPES = ['float32', 'float64'] as const;
// Scales a register map uses (0.001 .. 1000, and negative); offsets of a few thousand units.
const scaling = fc.record({
  scale: fc.oneof(fc.constantFrom(1, 0.1, 0.01, 0.001, 10, 100, -1, 0.5, 0.25), fc.double({ min: 0.001, max: 1000, noNaN: true })),
  offset: fc.oneof(fc.constant(0), fc.integer({ min: -10_000, max: 10_000 }), fc.double({ min: -10_000, max: 10_000, noNaN: true })),
});

function wordsOf(req: ReturnType<typeof encodeWrite>): readonly number[] {
  if (req.table !== 'holding') throw new Error('expected registers');
  return req.words;
}

describe('encodeWrite: the inverse of decoding and scaling', () => {
  it('an integer register value read and scaled encodes back to the same registers, in every order', () => {
    fc.assert(
      fc.property(fc.constantFrom(...INTEGER_TYPES).chain((t) => fc.tuple(fc.constant(t), words(t), order, scaling)), ([type, w, o, s]) => {
        const value = decodeRaw(w, type, o) * s.scale + s.offset;
        expect(wordsOf(encodeWrite(point({ type, order: o, scaling: s }), value))).toEqual(w);
      }),
      { numRuns: 2000 },
    );
  });

  it('a finite float register value encodes back to the same registers bit for bit, in every order', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FLOAT_TYPES).chain((t) => fc.tuple(fc.constant(t), words(t), order)), ([type, w, o]) => {
        const value = decodeRaw(w, type, o);
        fc.pre(Number.isFinite(value));
        expect(wordsOf(encodeWrite(point({ type, order: o }), value))).toEqual(w);
      }),
      { numRuns: 2000 },
    );
  });

  it('a point with count N takes N values and lays them out one after another', () => {
    fc.assert(
      fc.property(fc.constantFrom(...NUMERIC_TYPES), order, fc.integer({ min: 1, max: 8 }), (type, o, count) => {
        const { min, max } = rangeOf(type);
        const values = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? Math.max(min, -1 - i) : Math.min(max, 1000 + i)));
        const w = wordsOf(encodeWrite(point({ type, order: o, count }), values));
        const n = registersOf(type);
        expect(w).toHaveLength(n * count);
        values.forEach((v, i) => expect(decodeRaw(w, type, o, i * n)).toBe(v));
      }),
    );
  });

  it('throws only ModbusValueError, whatever it is given', () => {
    const anyValue = fc.oneof(fc.double(), fc.boolean(), fc.integer(), fc.array(fc.oneof(fc.double(), fc.boolean()), { maxLength: 4 }));
    fc.assert(
      fc.property(fc.constantFrom(...NUMERIC_TYPES, 'coil' as const), order, fc.integer({ min: 1, max: 3 }), scaling, anyValue, (type, o, count, s, value) => {
        const p = type === 'coil' ? point({ table: 'coil', type: 'uint16', count }) : point({ type, order: o, count, scaling: s });
        try {
          const req = encodeWrite(p, value);
          if (req.table === 'coil') expect(req.bits).toHaveLength(count);
          else {
            expect(req.words).toHaveLength(count * registersOf(p.type));
            for (const x of req.words) expect(Number.isInteger(x) && x >= 0 && x <= 0xffff).toBe(true);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(ModbusValueError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses what does not fit, naming the point and why', () => {
    const refuse = (p: EncodePoint, v: Parameters<typeof encodeWrite>[1], why: RegExp): void => {
      expect(() => encodeWrite(p, v)).toThrow(ModbusValueError);
      expect(() => encodeWrite(p, v)).toThrow(why);
    };
    refuse(point({ name: 'sp', type: 'int16' }), Number.NaN, /^point sp: NaN is not a value a device can hold; nothing was written$/);
    refuse(point({ type: 'float64' }), Number.POSITIVE_INFINITY, /not a finite number/);
    refuse(point({ type: 'int16' }), 32768, /32768 is outside int16 \(-32768\.\.32767 raw\)/);
    refuse(point({ type: 'uint16' }), -1, /outside uint16/);
    // 3276.8 at scale 0.1 is raw 32768: one past int16.
    refuse(point({ type: 'int16', scaling: { scale: 0.1, offset: 0 } }), 3276.8, /3276\.8 \(raw 32768 after scale 0\.1 and offset 0\) is outside int16/);
    refuse(point({ type: 'float32' }), 1e39, /beyond the float32 range/);
    refuse(point({ type: 'uint32' }), true, /takes a number, got boolean/);
    refuse(point({ table: 'coil', type: 'uint16' }), 1, /a coil takes true or false, got the number 1/);
    refuse(point({ type: 'int16', count: 3 }), [1, 2], /expected 3 values \(its count\), got 2/);
  });

  it('rounds an integer register to the nearest raw step, as the operator meant it', () => {
    const tenths = point({ type: 'int16', scaling: { scale: 0.1, offset: 0 } });
    expect(wordsOf(encodeWrite(tenths, 21.55))).toEqual([216]);
    expect(wordsOf(encodeWrite(tenths, -21.55))).toEqual([0x10000 - 216]);
    // 0.15 / 0.1 is 1.4999999999999998 in binary floating point; 0.15 * 10 is 1.5: every x.x5 rounds up, as typed.
    for (let i = 0; i < 2000; i += 1) expect(wordsOf(encodeWrite(tenths, Number(((i * 10 + 5) / 100).toFixed(2))))).toEqual([i + 1]);
    expect(wordsOf(encodeWrite(point({ type: 'int16', scaling: { scale: 0.1, offset: -40 } }), -0.04))).toEqual([400]);
    expect(wordsOf(encodeWrite(point({ type: 'uint16' }), -0.4))).toEqual([0]);
  });

  it('parsing typed text throws only ModbusValueError, whatever the text', () => {
    fc.assert(
      fc.property(fc.constantFrom('coil' as const, 'holding' as const), fc.integer({ min: 1, max: 3 }), fc.string({ maxLength: 24 }), (table, count, text) => {
        try {
          const v = parseWriteValue({ name: 'p', table, count }, text);
          for (const x of Array.isArray(v) ? v : [v]) expect(typeof x).toBe(table === 'coil' ? 'boolean' : 'number');
        } catch (err) {
          expect(err).toBeInstanceOf(ModbusValueError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('parses values typed on the command line', () => {
    const coil = { name: 'c', table: 'coil', count: 1 } as const;
    expect(parseWriteValue(coil, 'on')).toBe(true);
    expect(parseWriteValue(coil, 'FALSE')).toBe(false);
    expect(parseWriteValue({ ...coil, count: 3 }, '1,0, true')).toEqual([true, false, true]);
    expect(() => parseWriteValue(coil, 'yes')).toThrow(/a coil takes true\/false, on\/off or 1\/0, got "yes"/);
    const reg = { name: 'r', table: 'holding', count: 1 } as const;
    expect(parseWriteValue(reg, '-21.5')).toBe(-21.5);
    expect(parseWriteValue(reg, '1e3')).toBe(1000);
    expect(parseWriteValue({ ...reg, count: 2 }, '1,2')).toEqual([1, 2]);
    for (const bad of ['', '0x10', '12abc', 'NaN', 'Infinity']) expect(() => parseWriteValue(reg, bad)).toThrow(ModbusValueError);
  });
});

describe('write: true in the config', () => {
  it('is refused on input registers and discrete inputs by the config check', () => {
    const config = {
      id: 'bus',
      type: 'modbus',
      tcp: { host: '127.0.0.1' },
      slaves: [{ unit: 1, name: 'm', groups: [{ name: 'g', intervalMs: 1000, points: [
        { name: 'a', table: 'input', address: 0, write: true },
        { name: 'b', table: 'discrete', address: 0, write: true },
        { name: 'c', table: 'holding', address: 0, write: true },
        { name: 'd', table: 'coil', address: 0, write: true },
      ] }] }],
    } satisfies ModbusConfig;
    expect(checkModbus(config)).toEqual([
      { path: ['slaves', 0, 'groups', 0, 'points', 0, 'write'], expected: 'write only on holding registers and coils (input registers are read-only in Modbus)', got: 'write: true' },
      { path: ['slaves', 0, 'groups', 0, 'points', 1, 'write'], expected: 'write only on holding registers and coils (discrete inputs are read-only in Modbus)', got: 'write: true' },
    ]);
  });
});

// The simulator's default map (test/support/pymodbus-sim.py), per unit: HR0.. int16 -1234, uint16 54321, int32 -123456789,
// uint32 3000000000, float32 3.14159, float64 -2.718281828459045, laid out by Python's struct in ABCD at 0, CDAB at 20,
// BADC at 40, DCBA at 60; HR100 = unit id; HR 110..199 zero; coil i = i odd.
const VALUES: readonly [NumericType, number][] = [
  ['int16', -1234],
  ['uint16', 54321],
  ['int32', -123456789],
  ['uint32', 3000000000],
  ['float32', Math.fround(3.14159)],
  ['float64', -2.718281828459045],
];
const ORDER_BASE: Readonly<Record<WordOrder, number>> = { ABCD: 0, CDAB: 20, BADC: 40, DCBA: 60 };
/** Where the test writes: the same 12 registers per order from HR110 on. */
const WRITE_BASE = 110;
const SPAN = 12;

type PointConfig = ModbusConfig['slaves'][number]['groups'][number]['points'][number];

function writablePoints(): PointConfig[] {
  const points: PointConfig[] = [];
  WORD_ORDERS.forEach((o, k) => {
    let a = WRITE_BASE + k * SPAN;
    for (const [type] of VALUES) {
      points.push({ name: `${type}_${o}`, table: 'holding', address: a, type, ...(registersOf(type) > 1 ? { order: o } : {}), write: true });
      a += registersOf(type);
    }
  });
  points.push(
    { name: 'setpoint', table: 'holding', address: 170, type: 'int16', scale: 0.1, unit: 'degC', write: true },
    { name: 'readonly', table: 'holding', address: 171 },
    { name: 'run', table: 'coil', address: 40, write: true },
    { name: 'valves', table: 'coil', address: 44, count: 4, write: true },
    { name: 'past_end', table: 'holding', address: 250, write: true },
  );
  return points;
}

function sourceOptions(bus: Pick<ModbusConfig, 'rtu' | 'tcp'>): ModbusSourceOptions {
  return {
    id: 'bus',
    type: 'modbus',
    ...bus,
    timeoutMs: 300,
    retries: 0,
    reopen: { minDelayMs: 100, maxDelayMs: 1000 },
    slaves: [
      { unit: 1, name: 'plc', groups: [{ name: 'w', intervalMs: 60_000, points: writablePoints() }, { name: 'fast', intervalMs: 20, points: [{ name: 'id', table: 'holding', address: 100 }, { name: 'ir', table: 'input', address: 0, count: 10 }] }] },
      { unit: 2, name: 'meter', groups: [{ name: 'fast', intervalMs: 20, points: [{ name: 'id', table: 'holding', address: 100 }] }] },
    ],
  };
}

async function startSource(options: ModbusSourceOptions): Promise<{ source: ModbusSource; records: RecordInput[] }> {
  const records: RecordInput[] = [];
  const source = new ModbusSource(options);
  const ctx: SourceContext = {
    signal: new AbortController().signal,
    events: quietEvents(),
    emit: async (r): Promise<Receipt> => {
      records.push(...r);
      return { stored: Promise.resolve({ stored: r.length, dropped: 0, evicted: 0, consumed: 0 }) };
    },
  };
  await source.start(ctx);
  await waitFor(() => source.stats()['open'] === true, 'the bus to open', 10_000);
  return { source, records };
}

/** Every type in every order written through the source while its fast groups poll, read back as the registers Python laid out. */
async function expectWritesReadBack(source: ModbusSource, records: RecordInput[], read: (address: number, count: number) => Promise<number[]>): Promise<void> {
  const before = records.length;
  const writes: Promise<void>[] = [];
  for (const o of WORD_ORDERS) for (const [type, value] of VALUES) writes.push(source.write('plc', `${type}_${o}`, value));
  writes.push(source.write(1, 'setpoint', 21.55), source.write('plc', 'run', true), source.write('1', 'valves', [true, false, true, true]));
  await Promise.all(writes);
  for (const o of WORD_ORDERS) {
    const written = await read(WRITE_BASE + WORD_ORDERS.indexOf(o) * SPAN, SPAN);
    const python = await read(ORDER_BASE[o], SPAN);
    // A 16-bit point has no order in the config (one register): the two 16-bit values are as in ABCD.
    const sixteen = await read(ORDER_BASE.ABCD, 2);
    expect(written, `order ${o}`).toEqual([...sixteen, ...python.slice(2)]);
  }
  expect(await read(170, 1)).toEqual([216]);
  // Polls went on meanwhile, between the writes, on the same queue.
  await waitFor(() => records.length > before + 4, 'polls between the writes', 10_000);
  const s = source.stats();
  expect(s).toMatchObject({ writes: 27, writeFailures: 0, writesRefused: 0, timeouts: 0, crcErrors: 0, framingErrors: 0, lateBytesDropped: 0 });
}

async function expectRefusalsWithoutTraffic(sim: PymodbusSim, source: ModbusSource): Promise<void> {
  const writesSeen = (): number => [...sim.stdout.matchAll(/^request 1 (5|6|15|16)$/gm)].length;
  const before = writesSeen();
  expect(before).toBeGreaterThanOrEqual(27);
  await expect(source.write('plc', 'readonly', 1)).rejects.toMatchObject({ code: 'E_MODBUS_NOT_WRITABLE', path: ['slaves', 0, 'groups', 0, 'points', 25], message: expect.stringMatching(/^point readonly of slave plc \(unit 1\) is not writable: writes are off unless the point has `write: true`/) });
  await expect(source.write('plc', 'id', 1)).rejects.toMatchObject({ code: 'E_MODBUS_NOT_WRITABLE' });
  await expect(source.write('plc', 'nope', 1)).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_POINT', message: expect.stringContaining('slave plc (unit 1) has no point "nope"') });
  await expect(source.write('boiler', 'run', true)).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_SLAVE', message: 'no slave named "boiler" on this bus; it has plc (unit 1), meter (unit 2)' });
  await expect(source.write(9, 'run', true)).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_SLAVE' });
  await expect(source.write('plc', 'setpoint', 4000)).rejects.toMatchObject({ code: 'E_MODBUS_VALUE', message: expect.stringContaining('outside int16') });
  await expect(source.write('plc', 'run', 1)).rejects.toMatchObject({ code: 'E_MODBUS_VALUE' });
  expect(source.stats()).toMatchObject({ writesRefused: 7, writeFailures: 0 });
  // By name alone (a Sparkplug DCMD): the point must be on exactly one slave, and take a number or a bit.
  await expect(source.writeValue('id', 1)).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_POINT', message: 'point "id" is on several slaves (plc (unit 1), meter (unit 2)): name it on one only to write it by name' });
  await expect(source.writeValue('nope', 1)).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_POINT', message: 'no slave of this bus has a point "nope"' });
  await expect(source.writeValue('setpoint', 'warm')).rejects.toMatchObject({ code: 'E_MODBUS_VALUE', message: 'point setpoint: a Modbus point takes a number or a boolean, not the string "warm"; nothing was written' });
  await expect(source.writeValue('readonly', 1)).rejects.toMatchObject({ code: 'E_MODBUS_NOT_WRITABLE' });
  // A scope (the Sparkplug device is one slave) picks the slave: no longer ambiguous, and read-only there.
  await expect(source.writeValue('id', 1, 'meter')).rejects.toMatchObject({ code: 'E_MODBUS_NOT_WRITABLE', message: expect.stringContaining('point id of slave meter (unit 2) is not writable') });
  await expect(source.writeValue('run', true, 'meter')).rejects.toMatchObject({ code: 'E_MODBUS_UNKNOWN_POINT', message: 'no slave named "meter" has a point "run"' });
  expect(source.stats()).toMatchObject({ writesRefused: 13, writeFailures: 0 });
  // None of them reached the slave: it answered no write request meanwhile (the polls' reads go on).
  expect(writesSeen()).toBe(before);
  await expect(source.write('plc', 'past_end', 1)).rejects.toMatchObject({ code: 'E_MODBUS_EXCEPTION', failure: { kind: 'exception', code: 2 } });
  expect(source.stats()).toMatchObject({ writeFailures: 1 });
}

/** The source's bus (private): the one master on the line. */
function busOf(source: ModbusSource): ModbusBus {
  return (source as unknown as { bus: ModbusBus }).bus;
}

describe('writes against pymodbus', () => {
  let sim: PymodbusSim;
  beforeAll(async () => {
    sim = await PymodbusSim.start({ rtu: true, tcp: true, baudRate: 19_200 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  for (const kind of ['rtu', 'tcp'] as const) {
    it(`over ${kind === 'rtu' ? 'RTU (socat pty)' : 'TCP (127.0.0.1)'}: each type and order reads back exactly; refused writes send nothing`, async () => {
      const bus = kind === 'rtu' ? { rtu: { path: sim.serialPath, baudRate: 19_200, parity: 'none' as const, stopBits: 1 as const } } : { tcp: { host: '127.0.0.1', port: sim.tcpPort } };
      const { source, records } = await startSource(sourceOptions(bus));
      // A second client would be a second master on the RTU line: read back through the source's own bus.
      const b = busOf(source);
      const read = (address: number, count: number): Promise<number[]> => b.readRegisters(1, 'holding', address, count);
      try {
        await expectWritesReadBack(source, records, read);
        const coils = await b.readBits(1, 'coil', 40, 8);
        expect(coils).toEqual([true, true, false, true, true, false, true, true]);
        await expectRefusalsWithoutTraffic(sim, source);
      } finally {
        // Leave the simulator as the other test found it.
        await b.writeRegisters(1, WRITE_BASE, new Array<number>(61).fill(0));
        await b.writeCoils(1, 40, [false, true, false, true, false, true, false, true]);
        await source.stop();
      }
    });
  }
});
