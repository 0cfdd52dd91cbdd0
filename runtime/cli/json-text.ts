/**
 * JSON text for values decoded from CBOR, which JSON cannot hold as they are: byte strings
 * (Buffer/Uint8Array) become `{ base64, bytes }`, other typed arrays plain arrays, big
 * integers strings, maps objects. Converted before `JSON.stringify`, because a Buffer's own
 * `toJSON` would otherwise turn it into `{ type: 'Buffer', data: [...] }` first.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(plain(value, 0)) ?? 'null';
}

/** Deeper than this, a value is shown as the string "..." (a CBOR item can nest without end). */
const MAX_DEPTH = 64;

function plain(value: unknown, depth: number): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '...';
  if (value instanceof Uint8Array) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'), bytes: value.byteLength };
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? x.toString() : x));
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v, depth + 1)]));
  if (value instanceof Date) return value.toISOString();
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, depth + 1)]));
}
