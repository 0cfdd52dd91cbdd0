import { afterEach, describe, expect, it } from 'vitest';
import { ModbusBus, type BusOptions } from '../../../devices/modbus/bus.js';
import { classifyModbusError, ModbusTransactionError } from '../../../devices/modbus/errors.js';
import { MemoryRtuLine } from '../../support/memory-rtu-line.js';
import { crc16 } from '../../support/pymodbus-sim.js';
import { waitFor } from '../../support/wait-for.js';

type Behaviour = 'answer' | 'silent' | 'badcrc';

/**
 * Three RTU slaves in memory behind a fake serial line: holding register i of unit u holds
 * 100 * u + i; an address >= 1000 gets exception 2. Checks that no request is written while
 * another is unanswered (one talker at a time on the bus).
 */
class FakeBusLine extends MemoryRtuLine {
  outstanding = false;
  overlaps = 0;
  readonly behaviour = new Map<number, Behaviour>();
  constructor(readonly failOpen = false) {
    super();
  }
  protected override openFailure(): Error | undefined {
    return this.failOpen ? new Error('No such file or directory, cannot open /dev/ttyFAKE') : undefined;
  }
  write(data: Buffer): boolean {
    if (this.outstanding) this.overlaps += 1;
    const unit = data[0] as number;
    const address = data.readUInt16BE(2);
    const count = data.readUInt16BE(4);
    const behaviour = this.behaviour.get(unit) ?? 'answer';
    if (behaviour === 'silent') return true;
    this.outstanding = true;
    let body: Buffer;
    if (address >= 1000) body = Buffer.from([unit, 0x83, 2]);
    else {
      body = Buffer.alloc(3 + 2 * count);
      body.writeUInt8(unit, 0);
      body.writeUInt8(3, 1);
      body.writeUInt8(2 * count, 2);
      for (let i = 0; i < count; i += 1) body.writeUInt16BE(100 * unit + address + i, 3 + 2 * i);
    }
    const reply = Buffer.concat([body, crc16(body)]);
    if (behaviour === 'badcrc') reply.writeUInt8(reply.readUInt8(reply.length - 1) ^ 0xff, reply.length - 1);
    setImmediate(() => {
      this.outstanding = false;
      if (this.isOpen) this.emit('data', reply);
    });
    return true;
  }
}

function busOn(lines: FakeBusLine[], options: Partial<BusOptions> = {}): ModbusBus {
  let opened = 0;
  return new ModbusBus({
    endpoint: { type: 'rtu', path: '/dev/ttyFAKE', baudRate: 115_200, parity: 'none', stopBits: 1, dataBits: 8 },
    timeoutMs: 80,
    retries: 1,
    lateReplyGuardMs: 10,
    reopen: { minMs: 20, maxMs: 200 },
    openSerial: () => {
      const line = lines[Math.min(opened, lines.length - 1)] as FakeBusLine;
      opened += 1;
      return line;
    },
    ...options,
  });
}

describe('classifyModbusError', () => {
  it("sorts modbus-serial's errors, which are not all Error instances", () => {
    function TransactionTimedOutError(this: Record<string, unknown>): void {
      this.name = 'TransactionTimedOutError';
      this.message = 'Timed out';
      this.errno = 'ETIMEDOUT';
    }
    const timeout = new (TransactionTimedOutError as unknown as new () => object)();
    expect(timeout instanceof Error).toBe(false);
    expect(classifyModbusError(timeout)).toEqual({ kind: 'timeout' });
    expect(classifyModbusError(Object.assign(new Error('Modbus exception 2: Illegal data address'), { modbusCode: 2 }))).toEqual({ kind: 'exception', code: 2 });
    expect(classifyModbusError(new Error('CRC error'))).toEqual({ kind: 'crc' });
    expect(classifyModbusError({ name: 'PortNotOpenError', message: 'Port Not Open', errno: 'ECONNREFUSED' })).toEqual({ kind: 'port-closed' });
    expect(classifyModbusError(new Error('Data length error, expected 7 got 5')).kind).toBe('framing');
    expect(classifyModbusError(new Error('Unexpected data error, expected address 2 got 3')).kind).toBe('framing');
    expect(classifyModbusError('weird')).toEqual({ kind: 'other', detail: 'weird' });
    expect(classifyModbusError(undefined).kind).toBe('other');
  });
});

describe('ModbusBus over an RTU line (in memory)', () => {
  let bus: ModbusBus | undefined;
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  it('serves reads from every slave first in first out, one on the line at a time', async () => {
    const line = new FakeBusLine();
    bus = busOn([line]);
    await bus.start();
    const reads = Array.from({ length: 30 }, (_, i) => bus!.readRegisters((i % 3) + 1, 'holding', i, 2));
    const values = await Promise.all(reads);
    values.forEach((v, i) => expect(v).toEqual([100 * ((i % 3) + 1) + i, 100 * ((i % 3) + 1) + i + 1]));
    expect(line.overlaps).toBe(0);
    const s = bus.stats();
    expect(s.requests).toBe(30);
    expect(s.responses).toBe(30);
    expect(s.units['2']).toMatchObject({ requests: 10, responses: 10, consecutiveFailures: 0 });
  });

  it('serves a transaction asked for right after the previous one settled (the queue never stalls)', { timeout: 5000 }, async () => {
    const line = new FakeBusLine();
    bus = busOn([line]);
    await bus.start();
    for (let i = 0; i < 20; i += 1) {
      // A bare await resumes here before anything the bus chains after the transaction has run.
      const value = await bus.readRegisters(1, 'holding', i, 1);
      expect(value).toEqual([100 + i]);
    }
  });

  it('a silent slave times out after its retries while the others keep answering', async () => {
    const line = new FakeBusLine();
    line.behaviour.set(2, 'silent');
    bus = busOn([line]);
    await bus.start();
    const [a, b, c] = await Promise.allSettled([bus.readRegisters(1, 'holding', 0, 1), bus.readRegisters(2, 'holding', 0, 1), bus.readRegisters(3, 'holding', 0, 1)]);
    expect(a).toEqual({ status: 'fulfilled', value: [100] });
    expect(c).toEqual({ status: 'fulfilled', value: [300] });
    expect(b.status).toBe('rejected');
    const err = (b as PromiseRejectedResult).reason as ModbusTransactionError;
    expect(err).toBeInstanceOf(ModbusTransactionError);
    expect(err.code).toBe('E_MODBUS_TIMEOUT');
    expect(err.attempts).toBe(2);
    expect(err.message).toMatch(/slave 2 did not answer read holding 0\+1 \(2 attempts\)/);
    expect(bus.stats().units['2']).toMatchObject({ requests: 2, responses: 0, timeouts: 2, retries: 1, consecutiveFailures: 1 });
    expect(bus.stats().units['2']?.failingSince).toEqual(expect.any(Number));
    expect(bus.stats().units['1']).toMatchObject({ timeouts: 0, consecutiveFailures: 0, failingSince: null });
    line.behaviour.set(2, 'answer');
    await expect(bus.readRegisters(2, 'holding', 0, 1)).resolves.toEqual([200]);
    expect(bus.stats().units['2']).toMatchObject({ consecutiveFailures: 0, failingSince: null, lastOkAt: expect.any(Number) });
  });

  it('counts bad CRCs and retries them; counts exceptions by code and does not retry them', async () => {
    const line = new FakeBusLine();
    line.behaviour.set(3, 'badcrc');
    bus = busOn([line]);
    await bus.start();
    await expect(bus.readRegisters(3, 'holding', 0, 1)).rejects.toMatchObject({ code: 'E_MODBUS_CRC', attempts: 2 });
    await expect(bus.readRegisters(1, 'holding', 1000, 1)).rejects.toMatchObject({ code: 'E_MODBUS_EXCEPTION', attempts: 1, failure: { kind: 'exception', code: 2 } });
    const s = bus.stats();
    expect(s.units['3']).toMatchObject({ requests: 2, crcErrors: 2, retries: 1, consecutiveFailures: 1 });
    expect(s.units['1']).toMatchObject({ requests: 1, responses: 1, exceptions: { '2': 1 }, consecutiveFailures: 0, retries: 0 });
    expect(s.exceptions).toEqual({ '2': 1 });
    line.behaviour.set(3, 'answer');
    await expect(bus.readRegisters(3, 'holding', 0, 1)).resolves.toEqual([300]);
    expect(bus.stats().units['3']?.consecutiveFailures).toBe(0);
  });

  it('reopens the line with backoff after it closes, failing what is asked meanwhile at once', async () => {
    const first = new FakeBusLine();
    const missing = new FakeBusLine(true);
    const second = new FakeBusLine();
    const lines = [first, missing, second];
    bus = busOn(lines);
    await bus.start();
    await expect(bus.readRegisters(1, 'holding', 0, 1)).resolves.toEqual([100]);
    first.close(); // cable pulled
    await expect(bus.readRegisters(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'E_MODBUS_PORT_CLOSED' });
    const b = bus;
    await waitFor(() => b.isOpen, 'the bus to reopen on the second try', 5000);
    await expect(bus.readRegisters(1, 'holding', 0, 1)).resolves.toEqual([100]);
    expect(bus.stats()).toMatchObject({ portOpens: 2, portCloses: 1, openFailures: 1 });
  });

  it('close refuses what is still queued and sends nothing more', async () => {
    const line = new FakeBusLine();
    line.behaviour.set(2, 'silent');
    const b = busOn([line]);
    await b.start();
    const slow = expect(b.readRegisters(2, 'holding', 0, 1)).rejects.toBeInstanceOf(ModbusTransactionError);
    const queued = expect(b.readRegisters(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'E_MODBUS_BUS_CLOSED' });
    await b.close();
    await slow;
    await queued;
    await expect(b.readRegisters(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'E_MODBUS_BUS_CLOSED' });
    expect(line.isOpen).toBe(false);
  });

  it('refuses a transaction beyond maxQueue', async () => {
    const line = new FakeBusLine();
    bus = busOn([line], { maxQueue: 2 });
    await bus.start();
    const ok = [bus.readRegisters(1, 'holding', 0, 1), bus.readRegisters(1, 'holding', 0, 1)];
    // The first left the queue for the line at once; two more fit, a fourth does not.
    ok.push(bus.readRegisters(1, 'holding', 0, 1));
    await expect(bus.readRegisters(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'E_MODBUS_QUEUE_FULL' });
    await Promise.all(ok);
  });
});
