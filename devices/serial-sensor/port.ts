import { SerialPort } from 'serialport';

export interface PortOptions {
  readonly path: string;
  readonly baudRate: number;
  readonly onData: (chunk: Uint8Array) => void;
  readonly onOpen?: () => void;
  readonly onClose?: (reason: string) => void;
  /** Reopen attempts back off from min to max while the device is missing. */
  readonly reopenMinDelayMs?: number;
  readonly reopenMaxDelayMs?: number;
}

export interface PortCounters {
  opens: number;
  closes: number;
  openFailures: number;
  writeErrors: number;
  /** Bytes written while the port was closed (dropped: the link layer resends what matters). */
  droppedWriteBytes: number;
  bytesIn: number;
  bytesOut: number;
}

/** What the serial sensor needs from a byte pipe (the port below; benchmarks pass an in-memory one). */
export interface SerialTransport {
  readonly counters: PortCounters;
  readonly isOpen: boolean;
  start(): void;
  write(bytes: Uint8Array): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A serial port that stays wanted: when the device disappears (USB cable pulled, the MCU
 * reset its USB stack, a pty torn down) it closes, and reopens when the path is back,
 * without anyone restarting anything. Reads can be paused for backpressure.
 */
export class ReconnectingPort implements SerialTransport {
  readonly counters: PortCounters = { opens: 0, closes: 0, openFailures: 0, writeErrors: 0, droppedWriteBytes: 0, bytesIn: 0, bytesOut: 0 };
  private port: SerialPort | undefined;
  private stopped = false;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private lastError: string | null = null;

  constructor(private readonly options: PortOptions) {
    this.delay = options.reopenMinDelayMs ?? 200;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  get error(): string | null {
    return this.lastError;
  }

  start(): void {
    this.stopped = false;
    this.tryOpen();
  }

  private tryOpen(): void {
    if (this.stopped || this.port !== undefined) return;
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate, autoOpen: false, hupcl: false });
    this.port = port;
    port.open((err) => {
      if (this.stopped) {
        if (err === null) port.close();
        return;
      }
      if (err !== null) {
        this.counters.openFailures += 1;
        this.lastError = err.message;
        this.port = undefined;
        this.scheduleReopen();
        return;
      }
      this.counters.opens += 1;
      this.lastError = null;
      this.delay = this.options.reopenMinDelayMs ?? 200;
      port.on('data', (chunk: Buffer) => {
        this.counters.bytesIn += chunk.length;
        this.options.onData(chunk);
      });
      port.on('error', (e: Error) => {
        this.lastError = e.message;
      });
      port.on('close', () => this.onClosed(port));
      if (this.paused) port.pause();
      this.options.onOpen?.();
    });
  }

  private onClosed(port: SerialPort): void {
    if (this.port !== port) return;
    this.port = undefined;
    this.counters.closes += 1;
    this.options.onClose?.(this.lastError ?? 'closed');
    if (!this.stopped) this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped || this.timer !== undefined) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.options.reopenMaxDelayMs ?? 5000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tryOpen();
    }, wait);
  }

  /** Writes bytes if open; otherwise drops them (and counts). A write error closes the port. */
  write(bytes: Uint8Array): void {
    const port = this.port;
    if (port === undefined || !port.isOpen) {
      this.counters.droppedWriteBytes += bytes.length;
      return;
    }
    this.counters.bytesOut += bytes.length;
    port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (err) => {
      if (err === null || err === undefined) return;
      this.counters.writeErrors += 1;
      this.lastError = err.message;
      // EIO after the other end vanished: close, and the reopen loop takes over.
      if (port.isOpen) port.close();
      else this.onClosed(port);
    });
  }

  /** Bytes the OS has not yet taken from us (serialport's own buffer). */
  get writeBacklog(): number {
    return this.port?.writableLength ?? 0;
  }

  pause(): void {
    this.paused = true;
    this.port?.pause();
  }

  resume(): void {
    this.paused = false;
    this.port?.resume();
  }

  /** Closes the port for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen !== true) return;
    // Let the last bytes (a final COMMIT) reach the device, but do not wait on a dead line.
    await Promise.race([new Promise<void>((resolve) => port.drain(() => resolve())), new Promise<void>((resolve) => setTimeout(resolve, 500).unref())]);
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
