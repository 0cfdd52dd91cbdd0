/** Turning OPC UA data values into what a samples record holds. */

/**
 * The data types (by name, as `opcua browse` prints them) whose scalar values numberOf turns into
 * numbers: Boolean as 0/1, the integer types, Float, Double, and the abstract Number, Integer and
 * UInteger (a value of one of those carries one of the concrete types). Decimal is not one: node-opcua
 * does not decode it to a number, and the source leaves it out (counted in nonNumericSamples).
 */
export const NUMERIC_DATA_TYPES: ReadonlySet<string> = new Set(['Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double', 'Number', 'Integer', 'UInteger']);

/** node-opcua's DataType numbers of the two 64-bit integer types (Part 6 §5.1.2). */
const INT64 = 8;
const UINT64 = 9;

/**
 * A sample's value as a number: booleans 0/1; 64-bit integers, which node-opcua gives as
 * [high, low] unsigned 32-bit words, by the variant's data type: Int64 signed (two's
 * complement), UInt64 (and a pair without a type) unsigned. Beyond 2^53 a double cannot hold
 * every integer: the value is rounded to the nearest one it can (as Number(bigint) does).
 * Anything else is not a number.
 */
export function numberOf(v: unknown, dataType?: number): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' && (dataType === undefined || dataType === INT64 || dataType === UINT64)) {
    // One rounding: high * 2^32 is exact, the sum is rounded once, to the nearest double.
    const high = dataType === INT64 ? v[0] | 0 : v[0] >>> 0;
    return high * 2 ** 32 + (v[1] >>> 0);
  }
  return undefined;
}

/** ms since 1970 of an OPC UA timestamp; null for none or OPC UA's null date (1601-01-01, negative here). */
export function msOf(d: Date | null | undefined): number | null {
  const t = d?.getTime();
  return t !== undefined && Number.isFinite(t) && t > 0 ? t : null;
}
