/** Turning OPC UA data values into what a samples record holds. */

/** A sample's value as a number: booleans 0/1, 64-bit integers ([high, low] words) as numbers; others are not numbers. */
export function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return v[0] * 2 ** 32 + v[1];
  return undefined;
}

/** ms since 1970 of an OPC UA timestamp; null for none or OPC UA's null date (1601-01-01, negative here). */
export function msOf(d: Date | null | undefined): number | null {
  const t = d?.getTime();
  return t !== undefined && Number.isFinite(t) && t > 0 ? t : null;
}
