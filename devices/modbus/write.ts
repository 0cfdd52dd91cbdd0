import type { ModbusBus } from './bus.js';
import { encodeWrite, ModbusValueError, type EncodePoint, type WriteRequest, type WriteValue } from './encode.js';
import { findPoint, ModbusWriteRefusedError, type PointRef } from './points.js';
import { toMapPoint, type ModbusConfig } from './schema.js';

export { findPoint, findPointByName, findSlave, ModbusWriteRefusedError, notWritableByName, type EntryPath, type PointRef } from './points.js';

export interface WriteCounters {
  /** Writes the slave acknowledged. */
  writes: number;
  /** Writes sent that failed (exception reply, timeout after retries, port closed). */
  writeFailures: number;
  /** Writes refused before anything was sent (unknown point, not writable, a value that does not fit). */
  writesRefused: number;
}

/** The request writing `value` to a point; refuses a point without `write: true` and a value that does not fit. */
export function planWrite(ref: PointRef, value: WriteValue): WriteRequest {
  const p = ref.point;
  if (p.write !== true) {
    throw new ModbusWriteRefusedError(
      'E_MODBUS_NOT_WRITABLE',
      `point ${p.name} of slave ${ref.slave} (unit ${ref.unit}) is not writable: writes are off unless the point has \`write: true\` in the config (holding registers and coils only)`,
      ref.path,
    );
  }
  // The config check allows `write: true` only on holding registers and coils.
  if (p.table !== 'holding' && p.table !== 'coil') throw new Error(`point ${p.name}: write on ${p.table} passed the config check (a bug)`);
  const m = toMapPoint(p);
  const point: EncodePoint = { name: p.name, table: p.table, address: m.address, type: m.type, order: m.order, count: m.count, scaling: m.scaling };
  return encodeWrite(point, value);
}

/** Sends a write through the bus's queue: FC 6 / FC 16 for registers, FC 5 / FC 15 for coils. */
export async function sendWrite(bus: ModbusBus, unit: number, request: WriteRequest): Promise<void> {
  if (request.table === 'holding') await bus.writeRegisters(unit, request.address, request.words);
  else if (request.bits.length === 1) await bus.writeCoil(unit, request.address, request.bits[0] as boolean);
  else await bus.writeCoils(unit, request.address, request.bits);
}

/**
 * Writes to the points of one bus's config, counting what it did. Nothing is sent for a
 * refused write (unknown point, no `write: true`, a value that does not fit its type).
 */
export class ModbusWriter {
  readonly counters: WriteCounters = { writes: 0, writeFailures: 0, writesRefused: 0 };

  constructor(
    private readonly config: Pick<ModbusConfig, 'slaves'>,
    private readonly bus: () => ModbusBus | undefined,
  ) {}

  /** Writes `value` to a slave's point; resolves once the slave acknowledged it. */
  async write(slave: string | number, pointName: string, value: WriteValue): Promise<void> {
    let ref: PointRef;
    let request: WriteRequest;
    try {
      ref = findPoint(this.config, slave, pointName);
      request = planWrite(ref, value);
    } catch (err) {
      if (err instanceof ModbusWriteRefusedError || err instanceof ModbusValueError) this.counters.writesRefused += 1;
      throw err;
    }
    const bus = this.bus();
    if (bus === undefined) {
      this.counters.writesRefused += 1;
      throw new ModbusWriteRefusedError('E_MODBUS_NOT_STARTED', `the Modbus source is not running (not started, or stopping): nothing written to ${pointName}`, ref.path);
    }
    try {
      await sendWrite(bus, ref.unit, request);
      this.counters.writes += 1;
    } catch (err) {
      this.counters.writeFailures += 1;
      throw err;
    }
  }
}

