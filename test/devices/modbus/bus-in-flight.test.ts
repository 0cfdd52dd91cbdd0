import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../../devices/modbus/bus.js';
import { modbusSchema } from '../../../devices/modbus/schema.js';
import { validatorFor } from '../../../runtime/pipeline/registry.js';

/**
 * A Modbus TCP device on loopback that holds the requests it gets until `batch` of them are
 * waiting (or nothing more came for 20 ms) and then answers them in reverse order, as a
 * device handling several transactions may: only the transaction id ties an answer to its
 * request. Holding register i of unit u holds (1000 * u + i) & 0xffff. It records how many
 * requests were ever waiting at once.
 */
class ReorderingDevice {
  maxWaiting = 0;
  requests = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly batch: number) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      let buffered = Buffer.alloc(0);
      let waiting: Buffer[] = [];
      let flush: NodeJS.Timeout | undefined;
      const answer = (): void => {
        clearTimeout(flush);
        for (const frame of waiting.reverse()) socket.write(this.reply(frame));
        waiting = [];
      };
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 6 && buffered.length >= 6 + buffered.readUInt16BE(4)) {
          const length = 6 + buffered.readUInt16BE(4);
          waiting.push(buffered.subarray(0, length));
          buffered = buffered.subarray(length);
          this.requests += 1;
          this.maxWaiting = Math.max(this.maxWaiting, waiting.length);
        }
        if (waiting.length >= this.batch) answer();
        else {
          clearTimeout(flush);
          flush = setTimeout(answer, 20);
        }
      });
    });
  }

  private reply(frame: Buffer): Buffer {
    const unit = frame[6] as number;
    const address = frame.readUInt16BE(8);
    const count = frame.readUInt16BE(10);
    const out = Buffer.alloc(9 + 2 * count);
    frame.copy(out, 0, 0, 4); // transaction id and protocol id, as the request had them
    out.writeUInt16BE(3 + 2 * count, 4);
    out[6] = unit;
    out[7] = frame[7] as number;
    out[8] = 2 * count;
    for (let i = 0; i < count; i += 1) out.writeUInt16BE((1000 * unit + address + i) & 0xffff, 9 + 2 * i);
    return out;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('Modbus TCP with several transactions on the wire (tcp.maxInFlight)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function busTo(device: ReorderingDevice, maxInFlight?: number): Promise<ModbusBus> {
    const port = await device.listen();
    cleanup.push(() => device.close());
    const bus = new ModbusBus({ endpoint: { type: 'tcp', host: '127.0.0.1', port, ...(maxInFlight === undefined ? {} : { maxInFlight }) }, timeoutMs: 2000, retries: 0, reopen: { minMs: 50, maxMs: 500 } });
    await bus.start();
    cleanup.push(() => bus.close());
    return bus;
  }

  /** Reads of 3 registers at 24 addresses over 3 units, all queued at once. */
  async function readMany(bus: ModbusBus): Promise<void> {
    const reads = Array.from({ length: 24 }, (_, k) => ({ unit: 1 + (k % 3), address: 10 * k }));
    const got = await Promise.all(reads.map((r) => bus.readRegisters(r.unit, 'holding', r.address, 3)));
    got.forEach((values, k) => {
      const { unit, address } = reads[k]!;
      expect(values, `unit ${unit} address ${address}`).toEqual([0, 1, 2].map((i) => (1000 * unit + address + i) & 0xffff));
    });
  }

  it('keeps up to maxInFlight requests on the wire and gives each caller its own answer when the device answers out of order', async () => {
    const device = new ReorderingDevice(4);
    const bus = await busTo(device, 4);
    await readMany(bus);
    expect(device.requests).toBe(24);
    expect(device.maxWaiting).toBe(4);
    expect(bus.stats()).toMatchObject({ requests: 24, responses: 24, timeouts: 0, queueDepth: 0 });
    // Queued after the queue ran dry (no drain running), a read still goes out.
    expect(await bus.readRegisters(2, 'holding', 7, 1)).toEqual([2007]);
  });

  it('sends one request at a time by default, which every device supports', async () => {
    const device = new ReorderingDevice(4);
    const bus = await busTo(device);
    await readMany(bus);
    expect(device.maxWaiting).toBe(1);
  });

  it('is a config setting of 1 to 16 on tcp only', () => {
    const validate = validatorFor(modbusSchema);
    const bus = (tcp: Record<string, unknown>): unknown => ({ id: 'plc', type: 'modbus', tcp: { host: 'plc', ...tcp }, slaves: [{ unit: 1, name: 'a', groups: [{ name: 'g', intervalMs: 1000, points: [{ name: 'p', table: 'holding', address: 0 }] }] }] });
    expect(validate(bus({ maxInFlight: 4 })).error).toBeUndefined();
    expect(validate(bus({ maxInFlight: 0 })).error).toBeDefined();
    expect(validate(bus({ maxInFlight: 17 })).error).toBeDefined();
    expect(validate({ ...(bus({}) as object), tcp: undefined, rtu: { path: '/dev/ttyUSB0', maxInFlight: 2 } }).error).toBeDefined();
  });
});
