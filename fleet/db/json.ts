/**
 * A value as a JSON text for a `jsonb` parameter. PostgreSQL's jsonb cannot hold the NUL
 * character (`\u0000` is refused with "unsupported Unicode escape sequence"), which a
 * gateway's strings may contain: it becomes U+FFFD, in keys and values alike, so one odd
 * string never fails a whole batch. Byte strings (CBOR byte strings: a vision crop's PNG)
 * become `{"$base64": "..."}`; big integers and CBOR maps become what JSON can hold.
 */
export function jsonParam(value: unknown): string {
  return noNul(plainJson(value) ?? replacedJson(value));
}

/**
 * The common case without a replacer (a replacer is a JavaScript call for every value: most
 * of the cost on ingest's hot path). Undefined when the value holds something that needs one:
 * a byte string (a Buffer's toJSON writes {"type":"Buffer",...}, a Uint8Array {"0":...}), a big
 * integer (JSON.stringify throws) or a lone surrogate (written as an escape). No Map reaches here:
 * our CBOR decodes maps as objects (fleet/protocol/cbor.ts).
 */
function plainJson(value: unknown): string | undefined {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return undefined;
  }
  if (text === undefined || text.includes('"type":"Buffer"') || text.includes('{"0":') || /\\ud[89a-f]/i.test(text)) return undefined;
  return text;
}

function replacedJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // A Buffer has turned into {type, data} by its toJSON before the replacer sees it: look at the holder.
    const raw = this[key];
    if (raw instanceof Uint8Array) return { $base64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    if (v instanceof Uint8Array) return { $base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    // CBOR can carry what JSON cannot: big integers (as text when beyond 2^53) and maps with any keys.
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    // A lone UTF-16 surrogate is valid in JSON text but refused by jsonb.
    if (typeof v === 'string') return v.toWellFormed();
    if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), x as unknown]));
    return v;
  });
}

/** NUL as U+FFFD. An escape is preceded by an odd number of backslashes; `\\u0000` is a backslash and text. */
function noNul(text: string): string {
  return text.includes('\\u0000') ? text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : text;
}
