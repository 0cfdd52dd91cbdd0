import modbusSerial from 'modbus-serial';
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import { classifyModbusError, exceptionBucket, ModbusBusClosedError, ModbusQueueFullError, ModbusTransactionError, type ModbusFailure } from './errors.js';
import { RtuPort, type RtuLineOptions, type RtuPortOptions } from './rtu-port.js';

// modbus-serial is CommonJS whose module.exports is the client class; its typings declare it as `export default`,
// which TypeScript's NodeNext resolution reads as the module object.
const ModbusRTU = modbusSerial as unknown as new (port?: unknown) => Client;

export type BusEndpoint =
  | ({ readonly type: 'rtu' } & RtuLineOptions)
  | {
      readonly type: 'tcp';
      readonly host: string;
      readonly port: number;
      /**
       * Transactions on the wire at once (default 1). Modbus TCP matches each answer to its
       * request by transaction id, so a device that handles several (most PLCs and TCP-to-RTU
       * gateways queue them) answers the next while the gateway stores the last; a device
       * that handles one at a time may drop the rest, hence the default.
       */
      readonly maxInFlight?: number;
    };

export interface BusOptions {
  readonly endpoint: BusEndpoint;
  /** How long one attempt waits for its reply. */
  readonly timeoutMs: number;
  /** Attempts after the first one, on a timeout, a bad CRC or a malformed reply (never on an exception reply). */
  readonly retries: number;
  /** RTU: the silence before each request; default t3.5 from the baud rate. */
  readonly interFrameDelayMs?: number;
  /** RTU: after a timeout, the line must be idle t3.5 + this before the next request; default timeoutMs. */
  readonly lateReplyGuardMs?: number;
  /** Reopen delays after a close or a failed open: doubling from minMs up to maxMs. */
  readonly reopen: { readonly minMs: number; readonly maxMs: number };
  /** Transactions allowed to wait; one more is refused (E_MODBUS_QUEUE_FULL). Default 1000. */
  readonly maxQueue?: number;
  /** TCP: how long a connect may take. Default 5000. */
  readonly connectTimeoutMs?: number;
  readonly onEvent?: (level: 'info' | 'warn', name: string, fields: Record<string, unknown>) => void;
  /** RTU: opens the serial device (tests pass a fake line). */
  readonly openSerial?: RtuPortOptions['openSerial'];
}

export interface UnitStats {
  requests: number;
  responses: number;
  timeouts: number;
  crcErrors: number;
  framingErrors: number;
  /** Exception replies by code: `1`..`11`, anything else under `other` (see exceptionBucket). */
  exceptions: Record<string, number>;
  retries: number;
  /** Transactions in a row that got no usable answer (an exception reply is an answer). */
  consecutiveFailures: number;
  /** Wall-clock ms of the last usable answer, and of the first failure of the current run of failures. */
  lastOkAt: number | null;
  failingSince: number | null;
}

export interface BusStats extends Omit<UnitStats, 'consecutiveFailures' | 'lastOkAt' | 'failingSince'> {
  endpoint: string;
  open: boolean;
  portOpens: number;
  portCloses: number;
  openFailures: number;
  /** Wall-clock ms since when the port is not open (null while open), and why the last open failed. */
  notOpenSince: number | null;
  lastOpenError: string | null;
  lateBytesDropped: number;
  queueDepth: number;
  units: Record<string, UnitStats>;
}

interface Job {
  readonly unit: number;
  readonly what: string;
  readonly run: (client: Client) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

function answered(s: UnitStats): void {
  s.consecutiveFailures = 0;
  s.failingSince = null;
  s.lastOkAt = Date.now();
}

export function describeEndpoint(e: BusEndpoint): string {
  return e.type === 'tcp' ? `tcp://${e.host}:${e.port}` : `${e.path}@${e.baudRate}`;
}

/**
 * One Modbus bus: a serial line (RTU) or one TCP connection. Transactions from every slave
 * and polling group queue here, first in first out, and go out one at a time (on RS-485 only
 * one device may talk; modbus-serial also keeps one transaction slot per serial port), or
 * over TCP up to `maxInFlight` at a time, each answer matched to its request by the MBAP
 * header's transaction id (modbus-serial keeps a slot per transaction id on TCP). Each
 * attempt has a timeout; timeouts, bad CRCs and malformed replies are retried; the port is
 * reopened with backoff after it closes (modbus-serial itself never reopens).
 */
export class ModbusBus {
  readonly endpoint: string;
  private client: Client | undefined;
  private rtuPort: RtuPort | undefined;
  private readonly queue: Job[] = [];
  /** Drain loops running (at most `inFlight`), each with one transaction on the wire at a time; `close` awaits them. */
  private active = 0;
  private readonly drains = new Set<Promise<void>>();
  private readonly inFlight: number;
  private closed = false;
  private opening: Promise<void> | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenDelay: number;
  private lateBytesBefore = 0;
  private readonly units = new Map<number, UnitStats>();
  private readonly counts = { portOpens: 0, portCloses: 0, openFailures: 0 };
  private notOpenSince: number | null = Date.now();
  private lastOpenError: string | null = null;

  constructor(private readonly options: BusOptions) {
    this.endpoint = describeEndpoint(options.endpoint);
    this.reopenDelay = options.reopen.minMs;
    this.inFlight = options.endpoint.type === 'tcp' ? Math.max(1, Math.min(16, Math.floor(options.endpoint.maxInFlight ?? 1))) : 1;
  }

  get isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  /** Opens the port; resolves after the first attempt (if it failed, the bus keeps trying in the background). */
  async start(): Promise<void> {
    await this.open();
  }

  readRegisters(unit: number, table: 'holding' | 'input', address: number, count: number): Promise<number[]> {
    const what = `read ${table} ${address}+${count}`;
    return this.enqueue(unit, what, async (c) => (table === 'holding' ? await c.readHoldingRegisters(address, count) : await c.readInputRegisters(address, count)).data);
  }

  readBits(unit: number, table: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]> {
    const what = `read ${table} ${address}+${count}`;
    // modbus-serial returns whole bytes of bits: keep the ones asked for.
    return this.enqueue(unit, what, async (c) => (table === 'coil' ? await c.readCoils(address, count) : await c.readDiscreteInputs(address, count)).data.slice(0, count));
  }

  writeRegisters(unit: number, address: number, values: readonly number[]): Promise<void> {
    return this.enqueue(unit, `write holding ${address}+${values.length}`, async (c) => {
      if (values.length === 1) await c.writeRegister(address, values[0] as number);
      else await c.writeRegisters(address, [...values]);
    });
  }

  writeCoil(unit: number, address: number, value: boolean): Promise<void> {
    return this.enqueue(unit, `write coil ${address}`, async (c) => {
      await c.writeCoil(address, value);
    });
  }

  /** FC 15: several coils in one request. */
  writeCoils(unit: number, address: number, values: readonly boolean[]): Promise<void> {
    return this.enqueue(unit, `write coil ${address}+${values.length}`, async (c) => {
      await c.writeCoils(address, [...values]);
    });
  }

  stats(): BusStats {
    const units: Record<string, UnitStats> = {};
    const total = { requests: 0, responses: 0, timeouts: 0, crcErrors: 0, framingErrors: 0, retries: 0 };
    const exceptions: Record<string, number> = {};
    for (const [unit, s] of [...this.units].sort((a, b) => a[0] - b[0])) {
      units[String(unit)] = { ...s, exceptions: { ...s.exceptions } };
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += s[k];
      for (const [code, n] of Object.entries(s.exceptions)) exceptions[code] = (exceptions[code] ?? 0) + n;
    }
    return {
      endpoint: this.endpoint,
      open: this.isOpen,
      ...total,
      exceptions,
      ...this.counts,
      notOpenSince: this.isOpen ? null : this.notOpenSince,
      lastOpenError: this.lastOpenError,
      lateBytesDropped: this.lateBytesBefore + (this.rtuPort?.counters.lateBytesDropped ?? 0),
      queueDepth: this.queue.length,
      units,
    };
  }

  unitStats(unit: number): UnitStats {
    let s = this.units.get(unit);
    if (s === undefined) {
      s = { requests: 0, responses: 0, timeouts: 0, crcErrors: 0, framingErrors: 0, exceptions: {}, retries: 0, consecutiveFailures: 0, lastOkAt: null, failingSince: null };
      this.units.set(unit, s);
    }
    return s;
  }

  /** Refuses what is queued, lets the transaction on the wire finish (bounded by its timeout), closes the port. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    for (const job of this.queue.splice(0)) job.reject(new ModbusBusClosedError(this.endpoint));
    await Promise.all(this.drains);
    await this.opening;
    await this.dropClient();
  }

  private enqueue<T>(unit: number, what: string, run: (client: Client) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ModbusBusClosedError(this.endpoint));
    const max = this.options.maxQueue ?? 1000;
    if (this.queue.length >= max) return Promise.reject(new ModbusQueueFullError(this.endpoint, max));
    this.unitStats(unit);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ unit, what, run, resolve: resolve as (v: unknown) => void, reject });
      if (this.active < this.inFlight) {
        this.active += 1;
        const d: Promise<void> = this.drain().finally(() => this.drains.delete(d));
        this.drains.add(d);
      }
    });
  }

  /**
   * Runs the queue until it is empty, one transaction at a time; up to `inFlight` of these run
   * side by side. `active` goes down in the same tick as the last shift finds the queue empty:
   * a transaction queued by the code that awaited the previous one (which runs only after
   * this returns) starts a new drain instead of waiting forever.
   */
  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        // Settled on the next turn of the event loop: the next request is on the wire first, so
        // what the caller does with this answer (decode, store) overlaps the slave's next reply
        // instead of delaying the request (measured: npm run bench -- modbus).
        try {
          setImmediate(job.resolve, await this.transact(job));
        } catch (err) {
          setImmediate(job.reject, err as Error);
        }
      }
    } finally {
      this.active -= 1;
    }
  }

  private async transact(job: Job): Promise<unknown> {
    const s = this.unitStats(job.unit);
    const attemptsAllowed = 1 + Math.max(0, this.options.retries);
    let failure: ModbusFailure = { kind: 'port-closed' };
    let attempts = 0;
    while (attempts < attemptsAllowed) {
      const client = this.client;
      if (client === undefined || !client.isOpen || this.closed) {
        failure = { kind: 'port-closed' };
        break;
      }
      if (attempts > 0) s.retries += 1;
      attempts += 1;
      await this.rtuPort?.whenQuiet();
      s.requests += 1;
      try {
        client.setID(job.unit);
        const value = await job.run(client);
        s.responses += 1;
        answered(s);
        return value;
      } catch (err) {
        failure = classifyModbusError(err);
      }
      // The reply (if any) is no longer wanted: whatever of it still arrives is dropped.
      this.rtuPort?.abandon(failure.kind === 'timeout' ? (this.options.lateReplyGuardMs ?? this.options.timeoutMs) : 0);
      if (failure.kind === 'timeout') s.timeouts += 1;
      else if (failure.kind === 'crc') s.crcErrors += 1;
      else if (failure.kind === 'framing') s.framingErrors += 1;
      else if (failure.kind === 'exception') {
        // The slave is there and answered: not a failure of the link.
        s.responses += 1;
        const bucket = exceptionBucket(failure.code);
        s.exceptions[bucket] = (s.exceptions[bucket] ?? 0) + 1;
        answered(s);
        throw new ModbusTransactionError(failure, job.unit, job.what, attempts);
      }
      if (failure.kind !== 'timeout' && failure.kind !== 'crc' && failure.kind !== 'framing') break;
    }
    if (s.consecutiveFailures === 0) s.failingSince = Date.now();
    s.consecutiveFailures += 1;
    throw new ModbusTransactionError(failure, job.unit, job.what, Math.max(attempts, 1));
  }

  private open(): Promise<void> {
    if (this.closed || this.client !== undefined) return Promise.resolve();
    this.opening ??= this.tryOpen().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async tryOpen(): Promise<void> {
    try {
      const client = await this.connect();
      if (this.closed) {
        await new Promise<void>((resolve) => client.close(() => resolve()));
        return;
      }
      this.client = client;
      this.counts.portOpens += 1;
      this.notOpenSince = null;
      this.lastOpenError = null;
      this.reopenDelay = this.options.reopen.minMs;
      this.options.onEvent?.('info', 'modbus.opened', { endpoint: this.endpoint });
      client.on('close', () => {
        if (this.client !== client) return;
        this.counts.portCloses += 1;
        this.notOpenSince = Date.now();
        this.options.onEvent?.('warn', 'modbus.closed', { code: 'E_MODBUS_PORT_CLOSED', endpoint: this.endpoint });
        void this.dropClient().then(() => this.scheduleReopen());
      });
    } catch (err) {
      this.counts.openFailures += 1;
      this.lastOpenError = (err as Error).message;
      this.options.onEvent?.('warn', 'modbus.open_failed', { code: 'E_MODBUS_OPEN', endpoint: this.endpoint, reason: (err as Error).message, retryInMs: this.reopenDelay });
      this.scheduleReopen();
    }
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer !== undefined) return;
    const wait = this.reopenDelay;
    this.reopenDelay = Math.min(this.reopenDelay * 2, this.options.reopen.maxMs);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.open();
    }, wait);
  }

  private async connect(): Promise<Client> {
    const e = this.options.endpoint;
    if (e.type === 'rtu') {
      const port = new RtuPort({ ...e, interFrameDelayMs: this.options.interFrameDelayMs, openSerial: this.options.openSerial });
      const client = new ModbusRTU(port);
      client.on('error', () => undefined); // a port error ends in 'close', which reopens
      client.setTimeout(this.options.timeoutMs);
      try {
        await new Promise<void>((resolve, reject) => client.open((err: Error | null) => (err ? reject(err) : resolve())));
      } catch (err) {
        port.close();
        throw err;
      }
      this.rtuPort = port;
      return client;
    }
    const client = new ModbusRTU();
    client.on('error', () => undefined);
    const connectMs = this.options.connectTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connectTCP(e.host, { port: e.port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no TCP connection to ${e.host}:${e.port} within ${connectMs} ms`)), connectMs);
        }),
      ]);
    } catch (err) {
      client.destroy(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    client.setTimeout(this.options.timeoutMs);
    return client;
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.rtuPort !== undefined) {
      this.lateBytesBefore += this.rtuPort.counters.lateBytesDropped;
      this.rtuPort = undefined;
    }
    if (client === undefined) return;
    if (client.isOpen) await new Promise<void>((resolve) => client.close(() => resolve()));
  }
}
