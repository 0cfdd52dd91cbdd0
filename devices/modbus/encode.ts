/**
 * A value to write to a Modbus point, turned into what goes on the wire: the inverse of
 * decode.ts's decoding and register-map.ts's scaling. Pure: no I/O.
 *
 * A register point's engineering value becomes `raw = (value - offset) / scale`, rounded to a
 * whole number for the integer types, then the type's registers in the point's word order. A
 * value that does not fit the type after that (out of range, NaN, infinite, a float32 that
 * overflows) is refused, never wrapped or clamped: a setpoint written wrong is worse than
 * none. A coil takes a boolean and nothing else (a number 1 could be a typo for 10).
 */
import { encodeRaw, rangeOf, registersOf, type NumericType, type Scaling, type WordOrder } from './decode.js';

/** What a write carries: one value, or one per element of a point with `count` > 1. */
export type WriteValue = number | boolean | readonly (number | boolean)[];

/** A writable point as the encoder needs it (defaults filled in). */
export interface EncodePoint {
  readonly name: string;
  readonly table: 'holding' | 'coil';
  readonly address: number;
  /** Ignored for coils. */
  readonly type: NumericType;
  readonly order: WordOrder;
  readonly count: number;
  readonly scaling: Scaling;
}

/** One write request: registers for FC 6 (one) or FC 16 (several), bits for FC 5 (one) or FC 15 (several). */
export type WriteRequest =
  | { readonly table: 'holding'; readonly address: number; readonly words: readonly number[] }
  | { readonly table: 'coil'; readonly address: number; readonly bits: readonly boolean[] };

/** A value refused before anything was sent: it does not fit the point. */
export class ModbusValueError extends Error {
  readonly code = 'E_MODBUS_VALUE';

  constructor(
    readonly point: string,
    detail: string,
  ) {
    super(`point ${point}: ${detail}; nothing was written`);
    this.name = 'ModbusValueError';
  }
}

/**
 * The divisor of `(value - offset) / scale` done as a multiplication when 1/scale is a whole
 * number: 0.15 / 0.1 is 1.4999999999999998 in binary floating point (rounds to 1), while
 * 0.15 * 10 is 1.5 (rounds to 2, what the operator meant). Of the values 0.00..999.99 typed
 * with two decimals, 3229 round differently by division at scale 0.1; none by multiplication.
 */
function unscale(value: number, s: Scaling): number {
  const shifted = value - s.offset;
  const inverse = 1 / s.scale;
  const whole = Math.round(inverse);
  return whole !== 0 && Math.abs(inverse - whole) <= 1e-9 * Math.abs(whole) ? shifted * whole : shifted / s.scale;
}

/** The raw number of one register value, or a reason it does not fit. */
function rawOf(value: number, type: NumericType, s: Scaling): number | string {
  if (Number.isNaN(value)) return 'NaN is not a value a device can hold';
  if (!Number.isFinite(value)) return `${value} is not a finite number`;
  const exact = unscale(value, s);
  const scaled = s.scale === 1 && s.offset === 0 ? '' : ` (raw ${exact} after scale ${s.scale} and offset ${s.offset})`;
  if (!Number.isFinite(exact)) return `${value}${scaled} does not fit ${type}`;
  if (type === 'float64') return exact;
  if (type === 'float32') return Number.isFinite(Math.fround(exact)) ? exact : `${value}${scaled} is beyond the float32 range (about ±3.4e38)`;
  // Half away from zero, as a person rounds: -21.55 at scale 0.1 is -216, like 21.55 is 216.
  const raw = Math.sign(exact) * Math.round(Math.abs(exact));
  const { min, max } = rangeOf(type);
  if (raw < min || raw > max) return `${value}${scaled} is outside ${type} (${min}..${max} raw)`;
  // -0 would encode as 0 anyway; keep it 0 for messages and comparisons.
  return raw === 0 ? 0 : raw;
}

/** The values of a write, one per element of the point; a reason when there are the wrong number or kind. */
function elements(point: EncodePoint, value: WriteValue): readonly (number | boolean)[] | string {
  const list = Array.isArray(value) ? (value as readonly (number | boolean)[]) : [value as number | boolean];
  if (list.length !== point.count) return `expected ${point.count === 1 ? 'one value' : `${point.count} values (its count)`}, got ${list.length}`;
  return list;
}

/** The request that writes `value` to `point`. Throws ModbusValueError when the value does not fit the point. */
export function encodeWrite(point: EncodePoint, value: WriteValue): WriteRequest {
  const list = elements(point, value);
  if (typeof list === 'string') throw new ModbusValueError(point.name, list);
  if (point.table === 'coil') {
    const bits = list.map((v, i) => {
      if (typeof v !== 'boolean') throw new ModbusValueError(point.name, `a coil takes true or false${point.count > 1 ? ` (element ${i})` : ''}, got ${typeof v === 'number' ? `the number ${v}` : typeof v}`);
      return v;
    });
    return { table: 'coil', address: point.address, bits };
  }
  const words: number[] = [];
  list.forEach((v, i) => {
    const at = point.count > 1 ? ` (element ${i})` : '';
    if (typeof v !== 'number') throw new ModbusValueError(point.name, `a ${point.type} register takes a number${at}, got ${typeof v}`);
    const raw = rawOf(v, point.type, point.scaling);
    if (typeof raw === 'string') throw new ModbusValueError(point.name, `${raw}${at}`);
    words.push(...encodeRaw(raw, point.type, point.order));
  });
  if (words.length !== point.count * registersOf(point.type)) throw new Error('encodeWrite: register count mismatch (a bug)');
  return { table: 'holding', address: point.address, words };
}

/**
 * A value typed by a person (`edgewise modbus write --value`): for a coil `true`/`false`,
 * `on`/`off` or `1`/`0`; for registers a number; for a point with `count` > 1 the values
 * separated by commas. Throws ModbusValueError on anything else.
 */
export function parseWriteValue(point: Pick<EncodePoint, 'name' | 'table' | 'count'>, text: string): WriteValue {
  const parts = text.split(',').map((p) => p.trim());
  const parsed = parts.map((p) => {
    if (point.table === 'coil') {
      const t = p.toLowerCase();
      if (t === 'true' || t === 'on' || t === '1') return true;
      if (t === 'false' || t === 'off' || t === '0') return false;
      throw new ModbusValueError(point.name, `a coil takes true/false, on/off or 1/0, got "${p}"`);
    }
    // Number('') is 0 and Number('0x10') is 16: only plain decimal notation is taken.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(p)) throw new ModbusValueError(point.name, `expected a decimal number, got "${p}"`);
    return Number(p);
  });
  return point.count === 1 && parsed.length === 1 ? (parsed[0] as number | boolean) : parsed;
}
