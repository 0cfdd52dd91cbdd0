/**
 * What went wrong with one Modbus transaction, told apart from what modbus-serial throws.
 * Its errors are not uniform: a timeout is a `TransactionTimedOutError` that is not an
 * `Error` instance (a plain constructor function, `errno: 'ETIMEDOUT'`); an exception reply
 * is an `Error` with `modbusCode`; a bad CRC is a plain `Error('CRC error')` recognised only
 * by its message; a closed port is `PortNotOpenError` (`errno: 'ECONNREFUSED'`).
 */
export type ModbusFailure =
  | { readonly kind: 'timeout' }
  /** The slave answered with an exception (1 illegal function, 2 illegal address, 3 illegal value, 4 device failure, 6 busy, 0x0B gateway target failed, ...). */
  | { readonly kind: 'exception'; readonly code: number }
  | { readonly kind: 'crc' }
  /** A reply of the wrong length, from the wrong unit or with the wrong function code. */
  | { readonly kind: 'framing'; readonly detail: string }
  | { readonly kind: 'port-closed' }
  | { readonly kind: 'other'; readonly detail: string };

export type ModbusFailureKind = ModbusFailure['kind'];

/** Names of the standard exception codes (Modbus Application Protocol 1.1b3, section 7). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  5: 'acknowledge',
  6: 'slave device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/**
 * The counter key of an exception code: `1`..`11` (the standard ones and the gaps between them),
 * anything else `other`. A slave can answer any byte as its exception code; the per-slave
 * counters stay at 12 keys whatever it sends.
 */
export function exceptionBucket(code: number): string {
  return Number.isInteger(code) && code >= 1 && code <= 11 ? String(code) : 'other';
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Sorts anything a modbus-serial call rejected with into a `ModbusFailure`. Never throws. */
export function classifyModbusError(err: unknown): ModbusFailure {
  if (err instanceof ModbusTransactionError) return err.failure;
  const name = field(err, 'name');
  const errno = field(err, 'errno');
  const message = field(err, 'message');
  const text = typeof message === 'string' ? message : String(err);
  if (name === 'TransactionTimedOutError' || errno === 'ETIMEDOUT') return { kind: 'timeout' };
  const code = field(err, 'modbusCode');
  if (typeof code === 'number' && Number.isInteger(code)) return { kind: 'exception', code };
  if (text === 'CRC error') return { kind: 'crc' };
  if (name === 'PortNotOpenError' || text === 'Port Not Open') return { kind: 'port-closed' };
  if (text.startsWith('Data length error') || text.startsWith('Unexpected data error')) return { kind: 'framing', detail: text };
  return { kind: 'other', detail: text };
}

const CODES: Readonly<Record<ModbusFailureKind, string>> = {
  timeout: 'E_MODBUS_TIMEOUT',
  exception: 'E_MODBUS_EXCEPTION',
  crc: 'E_MODBUS_CRC',
  framing: 'E_MODBUS_FRAMING',
  'port-closed': 'E_MODBUS_PORT_CLOSED',
  other: 'E_MODBUS_OTHER',
};

/** What to tell an operator about one failure: what happened and what to look at. */
function describe(failure: ModbusFailure, unit: number, what: string, attempts: number): string {
  const tried = attempts > 1 ? ` (${attempts} attempts)` : '';
  switch (failure.kind) {
    case 'timeout':
      return `slave ${unit} did not answer ${what}${tried}: check its unit id, wiring, baud rate and parity, or raise timeoutMs`;
    case 'exception':
      return `slave ${unit} refused ${what} with exception ${failure.code} (${EXCEPTION_NAMES[failure.code] ?? 'unknown'}): check the address, count and table against its register map`;
    case 'crc':
      return `slave ${unit} answered ${what} with a bad CRC${tried}: noise on the line, a termination or biasing problem, or two devices with the same unit id`;
    case 'framing':
      return `slave ${unit} answered ${what} with a malformed reply${tried}: ${failure.detail}`;
    case 'port-closed':
      return `${what} for slave ${unit} not sent: the port is closed (cable pulled or endpoint down); the bus reopens it by itself`;
    case 'other':
      return `${what} for slave ${unit} failed: ${failure.detail}`;
  }
}

/** A transaction that failed for good (after its retries). `code` is stable for logs and counters. */
export class ModbusTransactionError extends Error {
  readonly code: string;

  constructor(
    readonly failure: ModbusFailure,
    readonly unit: number,
    readonly what: string,
    readonly attempts: number,
  ) {
    super(describe(failure, unit, what, attempts));
    this.name = 'ModbusTransactionError';
    this.code = CODES[failure.kind];
  }
}

/** A transaction refused because the bus was closed (or closed while it waited in the queue). */
export class ModbusBusClosedError extends Error {
  readonly code = 'E_MODBUS_BUS_CLOSED';

  constructor(readonly endpoint: string) {
    super(`the Modbus bus ${endpoint} is closed; nothing more is sent on it`);
    this.name = 'ModbusBusClosedError';
  }
}

/** A transaction refused because too many wait already (a poll plan that asks more than the line can carry). */
export class ModbusQueueFullError extends Error {
  readonly code = 'E_MODBUS_QUEUE_FULL';

  constructor(
    readonly endpoint: string,
    readonly max: number,
  ) {
    super(`the Modbus bus ${endpoint} already has ${max} transactions waiting; poll less often or in fewer blocks`);
    this.name = 'ModbusQueueFullError';
  }
}
