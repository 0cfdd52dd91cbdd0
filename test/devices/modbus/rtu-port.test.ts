import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedReplyLength, RtuPort, t35Ms, type RtuLineOptions, type SerialLine } from '../../../devices/modbus/rtu-port.js';
import { crc16 } from '../../support/pymodbus-sim.js';
import { waitFor } from '../../support/wait-for.js';

/** A serial line in memory: records what is written, when (on the port's clock), and lets the test play the slave. */
class FakeLine extends EventEmitter implements SerialLine {
  isOpen = false;
  readonly writes: { at: number; bytes: Buffer }[] = [];
  constructor(private readonly clock: () => number) {
    super();
  }
  open(callback: (err: Error | null) => void): void {
    this.isOpen = true;
    callback(null);
  }
  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    this.emit('close');
    callback?.(null);
  }
  write(data: Buffer, callback?: (err: Error | null | undefined) => void): boolean {
    this.writes.push({ at: this.clock(), bytes: Buffer.from(data) });
    callback?.(null);
    return true;
  }
  receive(bytes: Uint8Array): void {
    this.emit('data', Buffer.from(bytes));
  }
}

const LINE: RtuLineOptions = { path: '/dev/null', baudRate: 9600, parity: 'none', stopBits: 1, dataBits: 8 };
const clock = (): number => performance.now();

function frame(...bytes: number[]): Buffer {
  const b = Buffer.from(bytes);
  return Buffer.concat([b, crc16(b)]);
}

/** FC3 read of `count` registers at `address` from `unit`. */
const readHolding = (unit: number, address: number, count: number): Buffer => frame(unit, 3, address >> 8, address & 0xff, count >> 8, count & 0xff);

function openPort(options: Partial<ConstructorParameters<typeof RtuPort>[0]> = {}): { port: RtuPort; line: FakeLine; frames: Buffer[] } {
  let line: FakeLine | undefined;
  const port = new RtuPort({ ...LINE, ...options, now: clock, openSerial: () => (line = new FakeLine(clock)) });
  const frames: Buffer[] = [];
  port.on('data', (f: Buffer) => frames.push(f));
  port.open(() => undefined);
  return { port, line: line as FakeLine, frames };
}

describe('RTU timing', () => {
  it('t3.5 is 3.5 eleven-bit characters up to 19200 baud and 1.75 ms above', () => {
    expect(t35Ms(9600)).toBeCloseTo(4.0104, 3);
    expect(t35Ms(19200)).toBeCloseTo(2.0052, 3);
    expect(t35Ms(38400)).toBe(1.75);
    expect(t35Ms(115200)).toBe(1.75);
  });

  it('knows the reply length of each read and write request', () => {
    expect(expectedReplyLength(readHolding(1, 0, 10))).toBe(3 + 20 + 2);
    expect(expectedReplyLength(frame(1, 4, 0, 0, 0, 2))).toBe(9);
    expect(expectedReplyLength(frame(1, 1, 0, 0, 0, 9))).toBe(3 + 2 + 2);
    expect(expectedReplyLength(frame(1, 2, 0, 0, 0, 8))).toBe(3 + 1 + 2);
    expect(expectedReplyLength(frame(1, 6, 0, 1, 0, 7))).toBe(8);
    expect(expectedReplyLength(frame(1, 16, 0, 1, 0, 2, 4, 0, 1, 0, 2))).toBe(8);
    expect(expectedReplyLength(frame(1, 43, 14, 1, 0))).toBeUndefined();
  });
});

describe('RtuPort', () => {
  let port: RtuPort | undefined;
  afterEach(() => {
    port?.close();
    port = undefined;
  });

  it('never sends a request within t3.5 of the last byte it received or of the end of its previous request', async () => {
    const o = openPort();
    port = o.port;
    const t35 = o.port.t35;
    const charMs = 11_000 / LINE.baudRate;
    let lastRx = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < 20; i += 1) {
      const req = readHolding(1, i, 1);
      const before = o.line.writes.length;
      o.port.write(req);
      await waitFor(() => o.line.writes.length > before, `request ${i} on the wire`, 2000, 0);
      const sent = o.line.writes[before] as { at: number; bytes: Buffer };
      expect(sent.at - lastRx).toBeGreaterThanOrEqual(t35);
      if (before > 0) {
        const prev = o.line.writes[before - 1] as { at: number; bytes: Buffer };
        expect(sent.at - (prev.at + prev.bytes.length * charMs)).toBeGreaterThanOrEqual(t35);
      }
      // The slave answers at once: the next request must still wait t3.5 after its last byte.
      o.line.receive(frame(1, 3, 2, 0, i));
      lastRx = clock();
    }
    expect(o.frames).toHaveLength(20);
    expect(o.port.counters.writesDelayed).toBeGreaterThan(0);
  });

  it('drops bytes that arrive with no request outstanding, and never hands them on', () => {
    const o = openPort();
    port = o.port;
    o.line.receive(frame(1, 3, 2, 0, 3));
    expect(o.frames).toHaveLength(0);
    expect(o.port.counters.lateBytesDropped).toBe(7);
  });

  it('hands on one whole reply however the line chunks it, and drops what follows it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 125 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 5 }), async (values, cuts, trailing) => {
        const o = openPort({ interFrameDelayMs: 0 });
        try {
          o.port.write(readHolding(7, 0, values.length));
          await waitFor(() => o.line.writes.length === 1, 'the request', 2000, 0);
          const reply = frame(7, 3, values.length * 2, ...values.flatMap((v) => [v >> 8, v & 0xff]));
          const bytes = Buffer.concat([reply, Buffer.from(trailing)]);
          let at = 0;
          for (let i = 0; at < bytes.length; i += 1) {
            const n = cuts[i % cuts.length] as number;
            o.line.receive(bytes.subarray(at, at + n));
            at += n;
          }
          expect(o.frames).toEqual([reply]);
          expect(o.port.counters.lateBytesDropped).toBe(trailing.length);
        } finally {
          o.port.close();
        }
      }),
      { numRuns: 100 },
    );
  });

  it('cuts an exception reply at its 5 bytes', async () => {
    const o = openPort();
    port = o.port;
    o.port.write(readHolding(2, 500, 4));
    await waitFor(() => o.line.writes.length === 1, 'the request', 2000, 0);
    const exception = frame(2, 0x83, 2);
    o.line.receive(exception);
    expect(o.frames).toEqual([exception]);
  });

  it('skips leading bytes that are not from the unit asked', async () => {
    const o = openPort();
    port = o.port;
    o.port.write(readHolding(2, 0, 1));
    await waitFor(() => o.line.writes.length === 1, 'the request', 2000, 0);
    const reply = frame(2, 3, 2, 0, 42);
    o.line.receive(Buffer.concat([Buffer.from([0x00, 0xff, 0x33]), reply]));
    expect(o.frames).toEqual([reply]);
    expect(o.port.counters.lateBytesDropped).toBe(3);
  });

  it('after an abandoned request, drops the late reply and holds the next request until the line is idle t3.5 + guard', async () => {
    const o = openPort();
    port = o.port;
    const guardMs = 60;
    o.port.write(readHolding(3, 100, 1));
    await waitFor(() => o.line.writes.length === 1, 'the request', 2000, 0);
    o.port.abandon(guardMs); // the caller's timeout fired
    const quiet = o.port.whenQuiet().then(() => clock());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = frame(3, 3, 2, 0, 3); // the reply to the abandoned request, arriving now
    o.line.receive(late);
    const lateAt = clock();
    const quietAt = await quiet;
    expect(quietAt - lateAt).toBeGreaterThanOrEqual(o.port.t35 + guardMs);
    expect(o.frames).toHaveLength(0);
    expect(o.port.counters.lateBytesDropped).toBe(late.length);
    // The next request gets its own reply, not the late one.
    o.port.write(readHolding(3, 0, 1));
    await waitFor(() => o.line.writes.length === 2, 'the next request', 2000, 0);
    const own = frame(3, 3, 2, 0xfb, 0x2e);
    o.line.receive(own);
    expect(o.frames).toEqual([own]);
  });

  it('a request written during the quarantine waits for it too', async () => {
    const o = openPort();
    port = o.port;
    o.port.write(readHolding(1, 0, 1));
    await waitFor(() => o.line.writes.length === 1, 'the request', 2000, 0);
    const abandonedAt = clock();
    o.port.abandon(40);
    o.port.write(readHolding(1, 0, 1));
    await waitFor(() => o.line.writes.length === 2, 'the second request', 2000, 0);
    expect((o.line.writes[1] as { at: number }).at - abandonedAt).toBeGreaterThanOrEqual(o.port.t35 + 40);
  });

  it('emits close once when the line goes away, and then reports itself closed', () => {
    const o = openPort();
    let closes = 0;
    o.port.on('close', () => (closes += 1));
    o.line.close();
    o.port.close();
    expect(closes).toBe(1);
    expect(o.port.isOpen).toBe(false);
  });
});
