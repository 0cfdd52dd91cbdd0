/**
 * A value as a JSON text for a `jsonb` parameter. PostgreSQL's jsonb cannot hold the NUL
 * character (`\u0000` is refused with "unsupported Unicode escape sequence"), which a
 * gateway's strings may contain: it becomes U+FFFD, in keys and values alike, so one odd
 * string never fails a whole batch. Byte strings (CBOR byte strings: a vision crop's PNG)
 * become `{"$base64": "..."}`.
 */
export function jsonParam(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? { $base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : v));
  // An escape is preceded by an odd number of backslashes; `\\u0000` is a backslash and text.
  return text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd');
}
