import { taskError } from './errors.js';

/** A JSON value: what a task stores and the registry reads (the gateway selector). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Bounds on an opaque value a task carries: a selector is a few labels, not a document. */
export const JSON_VALUE_LIMITS = { maxDepth: 16, maxBytes: 4096 } as const;

/**
 * Checks that `value` is plain JSON (null, booleans, finite numbers, strings, lists and plain
 * mappings) of bounded size and depth, and returns a deep copy, so that a task's record holds
 * exactly what was checked. What the value MEANS is not checked here: the gateway selector is
 * interpreted by the registry when a round picks its eligible gateways.
 */
export function checkJsonValue(value: unknown, field: string): JsonValue {
  const copy = walk(value, field, 0);
  const bytes = Buffer.byteLength(JSON.stringify(copy));
  if (bytes > JSON_VALUE_LIMITS.maxBytes) throw taskError(field, `is ${bytes} bytes as JSON, at most ${JSON_VALUE_LIMITS.maxBytes}`);
  return copy;
}

function walk(value: unknown, field: string, depth: number): JsonValue {
  if (depth > JSON_VALUE_LIMITS.maxDepth) throw taskError(field, `nests deeper than ${JSON_VALUE_LIMITS.maxDepth} levels`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw taskError(field, `${value} is not a JSON number`);
    // JSON has no -0: stored and read back it is 0, so the checked copy holds 0 too.
    return value + 0;
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, `${field}[${i}]`, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    // fromEntries defines own properties, so a key "__proto__" stays a key and never becomes a prototype.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, `${field}.${k}`, depth + 1)]));
  }
  throw taskError(field, `expected a JSON value, got ${value === undefined ? 'nothing' : typeof value === 'object' ? ((value as object).constructor?.name ?? 'an object') : typeof value}`);
}
