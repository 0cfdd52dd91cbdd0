import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';

export type Parity = 'none' | 'even' | 'odd';

export interface RtuLineOptions {
  readonly path: string;
  readonly baudRate: number;
  readonly parity: Parity;
  readonly stopBits: 1 | 2;
  readonly dataBits: 7 | 8;
}

export interface RtuPortOptions extends RtuLineOptions {
  /** The silence kept before each request; default t3.5 from the baud rate (`t35Ms`). */
  readonly interFrameDelayMs?: number;
  /** Opens the serial device; default serialport 13. Tests pass a fake line. */
  readonly openSerial?: (line: RtuLineOptions) => SerialLine;
  /** Clock in ms (monotonic); default performance.now. */
  readonly now?: () => number;
}

/** What RtuPort needs from a serial device (serialport's SerialPort has it). */
export interface SerialLine {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
  write(data: Buffer, callback?: (err: Error | null | undefined) => void): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface RtuPortCounters {
  bytesIn: number;
  bytesOut: number;
  framesOut: number;
  framesIn: number;
  /** Bytes that were no reply to the request outstanding: late replies, noise, bytes with nothing asked. */
  lateBytesDropped: number;
  /** Requests held back to keep the inter-frame silence. */
  writesDelayed: number;
}

/**
 * The 3.5-character silence that ends an RTU frame, in ms: 3.5 x 11 bits / baud, and
 * 1.75 ms at any rate above 19200 (Modbus over Serial Line 1.02, 2.5.1.1). 11 bits is the
 * spec's character (start, 8 data, parity or a second stop bit, stop) whatever the line uses.
 */
export function t35Ms(baudRate: number): number {
  return baudRate > 19_200 ? 1.75 : (3.5 * 11 * 1000) / baudRate;
}

/** Time one character takes on the wire, in ms. */
function charMs(baudRate: number): number {
  return (11 * 1000) / baudRate;
}

interface Expected {
  readonly unit: number;
  readonly fc: number;
  /** Reply length in bytes with CRC, or undefined when the function's reply length is not known up front. */
  readonly length: number | undefined;
}

/** The normal reply's length for a request (exception replies are 5 bytes). */
export function expectedReplyLength(request: Uint8Array): number | undefined {
  const fc = request[1];
  const count = request.length >= 6 ? ((request[4] as number) << 8) | (request[5] as number) : 0;
  switch (fc) {
    case 1:
    case 2:
      return 3 + Math.ceil(count / 8) + 2;
    case 3:
    case 4:
      return 3 + 2 * count + 2;
    case 5:
    case 6:
    case 15:
    case 16:
      return 8;
    case 22:
      return 10;
    case 23: // FC23 (read/write multiple) carries its read quantity where FC3 has its count
      return 3 + 2 * count + 2;
    default:
      return undefined;
  }
}

/**
 * The port object modbus-serial's `new ModbusRTU(port)` drives, on serialport 13. It does
 * the RTU line discipline modbus-serial's own RTU ports do not:
 * - a request goes out only after the line has been silent for t3.5 since the last byte
 *   seen and since the end of our previous request;
 * - it hands modbus-serial exactly one reply frame per request (cut by the length the request
 *   implies, 5 bytes for an exception), and only while that request is outstanding: bytes
 *   that arrive with nothing asked are dropped and counted, so a late reply can never be
 *   taken for the answer to the next request;
 * - after a failed transaction (`abandon`), `whenQuiet` holds the next request until the
 *   line has been idle for t3.5 plus a guard, dropping whatever arrives meanwhile.
 * t1.5 (the longest gap inside a frame) is not enforceable from user space: the OS and a
 * USB adapter deliver bytes in chunks, so frames are cut by length, not by timing.
 */
export class RtuPort extends EventEmitter {
  /** modbus-serial keeps its transaction table keyed by these; RTU has one transaction at a time. */
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  readonly counters: RtuPortCounters = { bytesIn: 0, bytesOut: 0, framesOut: 0, framesIn: 0, lateBytesDropped: 0, writesDelayed: 0 };
  readonly t35: number;
  private readonly serial: SerialLine;
  private readonly now: () => number;
  private expected: Expected | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private lastRxAt = Number.NEGATIVE_INFINITY;
  private lastTxEndAt = Number.NEGATIVE_INFINITY;
  /** Set by `abandon`: the line must be idle this long after max(lastRxAt, abandonedAt) before the next request. */
  private quarantine: { from: number; idleMs: number } | undefined;
  private readonly pendingWrites: Buffer[] = [];
  private writeTimer: NodeJS.Timeout | undefined;
  private unknownLengthTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: RtuPortOptions) {
    super();
    this.t35 = options.interFrameDelayMs ?? t35Ms(options.baudRate);
    this.now = options.now ?? (() => performance.now());
    const open = options.openSerial ?? openSerialPort;
    this.serial = open(options);
    this.serial.on('data', (chunk) => this.onData(chunk));
    this.serial.on('error', (err) => this.fail(err));
    this.serial.on('close', () => this.onClose());
  }

  get isOpen(): boolean {
    return !this.closed && this.serial.isOpen;
  }

  open(callback: (err: Error | null) => void): void {
    this.serial.open((err) => callback(err ?? null));
  }

  close(callback?: (err: Error | null) => void): void {
    this.clearTimers();
    if (!this.serial.isOpen) {
      this.onClose();
      callback?.(null);
      return;
    }
    this.serial.close((err) => callback?.(err ?? null));
  }

  /** Called by modbus-serial with one request frame (with CRC). */
  write(data: Buffer): void {
    this.pendingWrites.push(Buffer.from(data));
    this.pump();
  }

  /**
   * The transaction outstanding failed (timeout, bad reply): forget it, drop what is buffered
   * and, with `guardMs`, hold the next request until the line has been idle t3.5 + guardMs.
   */
  abandon(guardMs: number): void {
    this.expected = undefined;
    this.dropBuffer();
    this.pendingWrites.length = 0;
    clearTimeout(this.unknownLengthTimer);
    this.quarantine = { from: this.now(), idleMs: this.t35 + guardMs };
  }

  /** Resolves once a request may be sent without the quarantine after `abandon` delaying it. */
  async whenQuiet(): Promise<void> {
    for (;;) {
      const q = this.quarantine;
      if (q === undefined || this.closed) return;
      const wait = Math.max(q.from, this.lastRxAt) + q.idleMs - this.now();
      if (wait <= 0) {
        this.quarantine = undefined;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
    }
  }

  private pump(): void {
    if (this.writeTimer !== undefined || this.pendingWrites.length === 0 || this.closed) return;
    const q = this.quarantine;
    const readyAt = Math.max(Math.max(this.lastRxAt, this.lastTxEndAt) + this.t35, q === undefined ? Number.NEGATIVE_INFINITY : Math.max(q.from, this.lastRxAt) + q.idleMs);
    const wait = readyAt - this.now();
    if (wait > 0) {
      this.counters.writesDelayed += 1;
      this.writeTimer = setTimeout(() => {
        this.writeTimer = undefined;
        this.pump();
      }, Math.ceil(wait));
      return;
    }
    const frame = this.pendingWrites.shift() as Buffer;
    this.quarantine = undefined;
    this.expected = { unit: frame[0] as number, fc: frame[1] as number, length: expectedReplyLength(frame) };
    this.dropBuffer();
    const start = this.now();
    this.lastTxEndAt = start + frame.length * charMs(this.options.baudRate);
    this.counters.bytesOut += frame.length;
    this.counters.framesOut += 1;
    this.serial.write(frame, (err) => {
      if (err !== null && err !== undefined) this.fail(err);
    });
    if (this.pendingWrites.length > 0) this.pump();
  }

  /** An error with no one listening (before modbus-serial's open, after its close) must not throw: the close that follows is what matters. */
  private fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private onData(chunk: Buffer): void {
    this.lastRxAt = this.now();
    this.counters.bytesIn += chunk.length;
    const expected = this.expected;
    if (expected === undefined || this.quarantine !== undefined) {
      this.counters.lateBytesDropped += chunk.length;
      return;
    }
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    // A frame starts with the unit addressed: leading bytes from anyone else are line noise or the tail of an old reply.
    let skip = 0;
    while (skip < this.buffer.length && this.buffer[skip] !== expected.unit) skip += 1;
    if (skip > 0) {
      this.counters.lateBytesDropped += skip;
      this.buffer = this.buffer.subarray(skip);
    }
    if (this.buffer.length < 2) return;
    const need = this.buffer[1] === (expected.fc | 0x80) ? 5 : expected.length;
    if (need === undefined) {
      // A function whose reply length the request does not tell: the frame ends at a t3.5 silence.
      clearTimeout(this.unknownLengthTimer);
      this.unknownLengthTimer = setTimeout(() => this.deliver(this.buffer.length), Math.max(Math.ceil(this.t35), 20));
      return;
    }
    if (this.buffer.length >= need) this.deliver(need);
  }

  private deliver(length: number): void {
    clearTimeout(this.unknownLengthTimer);
    this.unknownLengthTimer = undefined;
    const frame = Buffer.from(this.buffer.subarray(0, length));
    this.counters.lateBytesDropped += this.buffer.length - length;
    this.buffer = Buffer.alloc(0);
    this.expected = undefined;
    this.counters.framesIn += 1;
    this.emit('data', frame);
  }

  private dropBuffer(): void {
    this.counters.lateBytesDropped += this.buffer.length;
    this.buffer = Buffer.alloc(0);
  }

  private clearTimers(): void {
    clearTimeout(this.writeTimer);
    clearTimeout(this.unknownLengthTimer);
    this.writeTimer = undefined;
    this.unknownLengthTimer = undefined;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.pendingWrites.length = 0;
    this.expected = undefined;
    this.emit('close');
  }
}

function openSerialPort(line: RtuLineOptions): SerialLine {
  // hupcl false: closing must not drop DTR on adapters that power the transceiver from it.
  return new SerialPort({ path: line.path, baudRate: line.baudRate, parity: line.parity, stopBits: line.stopBits, dataBits: line.dataBits, autoOpen: false, hupcl: false });
}
