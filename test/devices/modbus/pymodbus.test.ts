import modbusSerial from 'modbus-serial';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus, type BusEndpoint, type BusOptions } from '../../../devices/modbus/bus.js';
import { PymodbusSim } from '../../support/pymodbus-sim.js';
import { waitFor } from '../../support/wait-for.js';

// The simulator's default map (test/support/pymodbus-sim.py): int16 -1234 at HR0, uint16 54321 at HR1, HR100 = unit id,
// IR i = 1000 + 10 * unit + i, coil i = i odd, discrete i = i multiple of 3.
const HR0 = 0xfb2e; // -1234 as a 16-bit word
const UNITS = [1, 2, 3] as const;

function busFor(endpoint: BusEndpoint, options: Partial<BusOptions> = {}): ModbusBus {
  return new ModbusBus({ endpoint, timeoutMs: 300, retries: 1, reopen: { minMs: 100, maxMs: 1000 }, ...options });
}

/** Every table of every slave, read through the bus, against the simulator's map. */
async function expectAllTables(bus: ModbusBus): Promise<void> {
  const reads = UNITS.map(async (unit) => ({
    unit,
    holding: await bus.readRegisters(unit, 'holding', 0, 2),
    id: await bus.readRegisters(unit, 'holding', 100, 1),
    input: await bus.readRegisters(unit, 'input', 0, 5),
    coils: await bus.readBits(unit, 'coil', 0, 10),
    discrete: await bus.readBits(unit, 'discrete', 0, 10),
  }));
  for (const r of await Promise.all(reads)) {
    expect(r.holding).toEqual([HR0, 54321]);
    expect(r.id).toEqual([r.unit]);
    expect(r.input).toEqual([0, 1, 2, 3, 4].map((i) => 1000 + 10 * r.unit + i));
    expect(r.coils).toEqual(Array.from({ length: 10 }, (_, i) => i % 2 === 1));
    expect(r.discrete).toEqual(Array.from({ length: 10 }, (_, i) => i % 3 === 0));
  }
}

/** Writes a holding register (FC6), several (FC16) and a coil (FC5) on unit 1, reads them back, and restores them. */
async function expectWritesReadBack(bus: ModbusBus): Promise<void> {
  await bus.writeRegisters(1, 150, [4242]);
  await bus.writeRegisters(1, 151, [1, 2, 3]);
  await expect(bus.readRegisters(1, 'holding', 150, 4)).resolves.toEqual([4242, 1, 2, 3]);
  await expect(bus.readRegisters(2, 'holding', 150, 4)).resolves.toEqual([0, 0, 0, 0]);
  await bus.writeCoil(1, 63, false);
  await expect(bus.readBits(1, 'coil', 62, 2)).resolves.toEqual([false, false]);
  await bus.writeCoil(1, 63, true);
  await bus.writeRegisters(1, 150, [0, 0, 0, 0]);
}

/** A silent unit 2 times out (after its retry) while units 1 and 3, asked in between, answer. */
async function expectSilentSlaveIsolated(sim: PymodbusSim, bus: ModbusBus): Promise<void> {
  await sim.command('silent 2');
  const results = await Promise.allSettled(UNITS.flatMap((unit) => [bus.readRegisters(unit, 'holding', 100, 1), bus.readRegisters(unit, 'holding', 100, 1)]));
  results.forEach((r, i) => {
    const unit = UNITS[Math.floor(i / 2)] as number;
    if (unit === 2) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'E_MODBUS_TIMEOUT', attempts: 2 } });
    else expect(r).toEqual({ status: 'fulfilled', value: [unit] });
  });
  expect(bus.stats().units['2']).toMatchObject({ timeouts: 4, retries: 2, responses: 0, consecutiveFailures: 2 });
  expect(bus.stats().units['1']).toMatchObject({ timeouts: 0, consecutiveFailures: 0 });
  await sim.command('answer 2');
  await expect(bus.readRegisters(2, 'holding', 100, 1)).resolves.toEqual([2]);
  expect(bus.stats().units['2']?.consecutiveFailures).toBe(0);
}

describe('Modbus RTU against pymodbus on a socat pty pair', () => {
  let sim: PymodbusSim;
  let bus: ModbusBus | undefined;
  let rtu: BusEndpoint;
  beforeAll(async () => {
    sim = await PymodbusSim.start({ rtu: true, baudRate: 19_200 });
    rtu = { type: 'rtu', path: sim.serialPath, baudRate: 19_200, parity: 'none', stopBits: 1, dataBits: 8 };
  });
  afterAll(async () => {
    await sim?.stop();
  });
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  it('reads holding and input registers, coils and discrete inputs from three slaves', async () => {
    bus = busFor(rtu);
    await bus.start();
    await expectAllTables(bus);
    const s = bus.stats();
    expect(s).toMatchObject({ timeouts: 0, crcErrors: 0, framingErrors: 0, retries: 0, lateBytesDropped: 0, portOpens: 1 });
    expect(s.responses).toBe(15);
  });

  it('writes registers and coils', async () => {
    bus = busFor(rtu);
    await bus.start();
    await expectWritesReadBack(bus);
  });

  it('counts an exception reply by its code', async () => {
    bus = busFor(rtu);
    await bus.start();
    await expect(bus.readRegisters(1, 'holding', 150, 100)).rejects.toMatchObject({ code: 'E_MODBUS_EXCEPTION', failure: { kind: 'exception', code: 2 } });
    expect(bus.stats().exceptions).toEqual({ '2': 1 });
  });

  it('a slave that stops answering times out while the other two keep answering', async () => {
    bus = busFor(rtu);
    await bus.start();
    await expectSilentSlaveIsolated(sim, bus);
  });

  it('counts bad CRCs and retries them', async () => {
    bus = busFor(rtu);
    await bus.start();
    await sim.command('badcrc 3');
    try {
      await expect(bus.readRegisters(3, 'holding', 100, 1)).rejects.toMatchObject({ code: 'E_MODBUS_CRC', attempts: 2 });
      await expect(bus.readRegisters(1, 'holding', 100, 1)).resolves.toEqual([1]);
    } finally {
      await sim.command('goodcrc 3');
    }
    expect(bus.stats().units['3']).toMatchObject({ crcErrors: 2, retries: 1, consecutiveFailures: 1 });
    await expect(bus.readRegisters(3, 'holding', 100, 1)).resolves.toEqual([3]);
  });

  it('drops a late reply: it is never taken for the answer to the next request', async () => {
    bus = busFor(rtu, { retries: 0 });
    await bus.start();
    // Unit 3's reply to HR100 (its id, 3) comes 500 ms late; the request times out at 300 ms.
    await sim.command('late 3 500');
    await expect(bus.readRegisters(3, 'holding', 100, 1)).rejects.toMatchObject({ code: 'E_MODBUS_TIMEOUT' });
    // The next request to the same unit, same function, same length: only the value tells the replies apart.
    await expect(bus.readRegisters(3, 'holding', 0, 1)).resolves.toEqual([HR0]);
    expect(bus.stats().lateBytesDropped).toBe(7);
    await expect(bus.readRegisters(3, 'holding', 100, 1)).resolves.toEqual([3]);
  });

  it("the same late reply fools modbus-serial's own RTUBufferedPort (why the bus has its own port)", async () => {
    const ModbusClient = modbusSerial as unknown as new () => ModbusRTU;
    const client = new ModbusClient();
    await client.connectRTUBuffered(sim.serialPath, { baudRate: 19_200 });
    try {
      client.setTimeout(300);
      client.setID(3);
      await sim.command('late 3 500');
      await expect(client.readHoldingRegisters(100, 1)).rejects.toMatchObject({ name: 'TransactionTimedOutError' });
      const next = await client.readHoldingRegisters(0, 1);
      expect(next.data).toEqual([3]); // HR100's value handed back as HR0's, with no error
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });

  it('survives a cable pull: the port closes, reads fail at once, and the bus reopens when the cable is back', async () => {
    bus = busFor(rtu);
    await bus.start();
    await expect(bus.readRegisters(1, 'holding', 100, 1)).resolves.toEqual([1]);
    const b = bus;
    await sim.pullCable();
    try {
      await waitFor(() => b.stats().portCloses === 1, 'the bus to see the port close', 10_000);
      await expect(bus.readRegisters(1, 'holding', 100, 1)).rejects.toMatchObject({ code: 'E_MODBUS_PORT_CLOSED' });
    } finally {
      await sim.plugIn();
    }
    await waitFor(() => b.isOpen, 'the bus to reopen the port', 15_000);
    await expectAllTables(bus);
    expect(bus.stats()).toMatchObject({ portOpens: 2, portCloses: 1 });
  });
});

describe('Modbus TCP against pymodbus on 127.0.0.1', () => {
  let sim: PymodbusSim;
  let bus: ModbusBus | undefined;
  let tcp: BusEndpoint;
  beforeAll(async () => {
    sim = await PymodbusSim.start({ tcp: true });
    tcp = { type: 'tcp', host: '127.0.0.1', port: sim.tcpPort };
  });
  afterAll(async () => {
    await sim?.stop();
  });
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  it('reads holding and input registers, coils and discrete inputs from three unit ids', async () => {
    bus = busFor(tcp);
    await bus.start();
    await expectAllTables(bus);
    expect(bus.stats()).toMatchObject({ responses: 15, timeouts: 0, portOpens: 1 });
  });

  it('writes registers and coils', async () => {
    bus = busFor(tcp);
    await bus.start();
    await expectWritesReadBack(bus);
  });

  it('a unit id that stops answering times out while the other two keep answering', async () => {
    bus = busFor(tcp);
    await bus.start();
    await expectSilentSlaveIsolated(sim, bus);
  });

  it('reconnects when the server goes away and comes back on its port', async () => {
    bus = busFor(tcp);
    await bus.start();
    await expect(bus.readRegisters(2, 'holding', 100, 1)).resolves.toEqual([2]);
    const b = bus;
    await sim.pullCable();
    try {
      await waitFor(() => b.stats().portCloses === 1, 'the bus to see the connection close', 10_000);
      await expect(bus.readRegisters(2, 'holding', 100, 1)).rejects.toMatchObject({ code: 'E_MODBUS_PORT_CLOSED' });
    } finally {
      await sim.plugIn();
    }
    await waitFor(() => b.isOpen, 'the bus to reconnect', 15_000);
    await expectAllTables(bus);
    expect(bus.stats()).toMatchObject({ portOpens: 2, portCloses: 1 });
  });
});
