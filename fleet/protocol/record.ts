import { schema } from 'tjs';
import { cborDecode, cborEncode } from './cbor.js';
import { ProtocolError } from './errors.js';
import { formatProblem, toSchemaProblem } from './schema-problems.js';

/**
 * Priority classes of outbox records. Order matters: under disk pressure a gateway
 * evicts the first class before the second, and so on.
 */
export const RECORD_CLASSES = ['telemetry', 'result', 'alert'] as const;
export type RecordClass = (typeof RECORD_CLASSES)[number];

/** Largest `ts` a record may carry: JavaScript's maximum Date (year 275760). */
export const MAX_TIMESTAMP_MS = 8.64e15;
export const MAX_RECORD_ID_LENGTH = 64;
export const MAX_STREAM_LENGTH = 128;

const recordJsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: MAX_RECORD_ID_LENGTH, description: 'a record id of 1 to 64 characters' },
    stream: { type: 'string', minLength: 1, maxLength: MAX_STREAM_LENGTH, description: 'a stream name of 1 to 128 characters' },
    class: { enum: RECORD_CLASSES },
    ts: { type: 'number', minimum: 0, maximum: MAX_TIMESTAMP_MS, description: 'milliseconds since 1970-01-01 UTC' },
    data: {},
  },
  required: ['id', 'stream', 'class', 'ts', 'data'],
  additionalProperties: false,
} as const;

const recordValidator = schema(recordJsonSchema);

/**
 * One record as it crosses the wire: `id` is unique per gateway for ever (receivers drop
 * duplicates by it), `stream` names the series (ordering is kept per stream), `ts` is the
 * source's timestamp in ms since the epoch, and `data` is any CBOR value.
 */
export interface WireRecord {
  readonly id: string;
  readonly stream: string;
  readonly class: RecordClass;
  readonly ts: number;
  readonly data: unknown;
}

export function encodeRecord(record: WireRecord): Uint8Array {
  return cborEncode({ id: record.id, stream: record.stream, class: record.class, ts: record.ts, data: record.data });
}

/** Checks a decoded value against the record schema; throws E_PAYLOAD_INVALID naming the field. */
export function validateRecord(value: unknown): WireRecord {
  const result = recordValidator.validate(value);
  if (result.error !== undefined) {
    const first = result.error[0];
    const detail = first === undefined ? 'invalid' : formatProblem(toSchemaProblem(first, recordJsonSchema, value, ['record']));
    throw new ProtocolError('E_PAYLOAD_INVALID', detail);
  }
  return value as WireRecord;
}

export function decodeRecord(bytes: Uint8Array): WireRecord {
  let value: unknown;
  try {
    value = cborDecode(bytes);
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `record: not a CBOR item (${(err as Error).message})`, { cause: err });
  }
  return validateRecord(value);
}
