import { ProtocolError } from '../errors.js';
import { formatPath, toSchemaProblem, type SchemaErrorLike } from '../schema-problems.js';

/**
 * The JSON edge of federated learning's control messages (announcement, invitation, chunk
 * acknowledgement), read the way the release notice is: bounded bytes, strict UTF-8, one JSON
 * object, then a JSON Schema (tjs) whose first problem names the field. Every refusal is a
 * ProtocolError: E_PAYLOAD_TOO_LARGE, E_PAYLOAD_DECODE or E_PAYLOAD_INVALID.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface ControlValidator {
  validate(value: unknown): { error?: readonly SchemaErrorLike[] | undefined };
}

export function invalid(what: string, path: string, problem: string): ProtocolError {
  return new ProtocolError('E_PAYLOAD_INVALID', `${what}${path === '' ? '' : `.${path}`}: ${problem}`);
}

/** Parses at most `maxBytes` of UTF-8 JSON into an object. */
export function readControlJson(bytes: Uint8Array, what: string, maxBytes: number): Record<string, unknown> {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('E_PAYLOAD_DECODE', `${what}: expected bytes`);
  if (bytes.length > maxBytes) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `${what}: ${bytes.length} bytes, at most ${maxBytes}`);
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `${what}: not UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('E_PAYLOAD_INVALID', `${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** Checks `value` against the schema; the first problem becomes `what.path: expected X, got Y`. */
export function checkSchema(validator: ControlValidator, schemaRoot: object, value: unknown, what: string): void {
  const first = validator.validate(value).error?.[0];
  if (first === undefined) return;
  const p = toSchemaProblem(first, schemaRoot as Record<string, unknown>, value);
  throw invalid(what, p.path.length === 0 ? '' : formatPath(p.path), `expected ${p.expected}, got ${p.got}`);
}

/** Encodes a checked message; the size bound holds for what we send too. */
export function writeControlJson(value: object, what: string, maxBytes: number): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  if (bytes.length > maxBytes) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `${what}: ${bytes.length} bytes, at most ${maxBytes}`);
  return bytes;
}
