import { cborDecode, cborEncode } from './cbor.js';
import { ProtocolError } from './errors.js';
import { decodeRecord, type WireRecord } from './record.js';
import { isGatewayId } from './topics.js';

/** Version of the batch envelope; a receiver rejects any other. */
export const BATCH_VERSION = 1;
/** Upper bound on one batch message; a gateway never publishes more, a receiver rejects more. */
export const MAX_BATCH_BYTES = 1024 * 1024;
export const MAX_BATCH_RECORDS = 10_000;

/**
 * A batch carries each record as its own CBOR byte string, so that the gateway sends the
 * bytes it stored without re-encoding, and a receiver can reject one bad record without
 * losing the rest of the batch.
 */
export function encodeBatch(gatewayId: string, sentMs: number, records: readonly Uint8Array[]): Uint8Array {
  return cborEncode({ v: BATCH_VERSION, gw: gatewayId, sentMs, records });
}

/** Bytes the envelope adds around the records, at most: used by the sender to size batches. */
export const BATCH_OVERHEAD_BYTES = 128;
/** Bytes a record's byte-string header adds inside the batch, at most. */
export const BATCH_PER_RECORD_OVERHEAD_BYTES = 5;

/** The largest record (its CBOR bytes) that fits in a batch alone. Gateways refuse larger ones. */
export const MAX_RECORD_BYTES = MAX_BATCH_BYTES - BATCH_OVERHEAD_BYTES - BATCH_PER_RECORD_OVERHEAD_BYTES;

export interface RejectedRecord {
  readonly index: number;
  readonly code: string;
  readonly reason: string;
}

export interface DecodedBatch {
  readonly gatewayId: string;
  readonly sentMs: number;
  readonly records: readonly WireRecord[];
  /** Records that failed to decode or validate; the others are still delivered. */
  readonly rejected: readonly RejectedRecord[];
}

function invalid(detail: string): ProtocolError {
  return new ProtocolError('E_PAYLOAD_INVALID', `batch: ${detail}`);
}

/** Decodes a records batch. Throws for a bad envelope; collects bad records in `rejected`. */
export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  if (bytes.byteLength > MAX_BATCH_BYTES) {
    throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `batch: ${bytes.byteLength} bytes, expected at most ${MAX_BATCH_BYTES}`);
  }
  let value: unknown;
  try {
    value = cborDecode(bytes);
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `batch: not a CBOR item (${(err as Error).message})`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('expected a CBOR map');
  const env = value as Record<string, unknown>;
  if (env['v'] !== BATCH_VERSION) throw invalid(`v: expected ${BATCH_VERSION}, got ${JSON.stringify(env['v'])}`);
  const gw = env['gw'];
  if (typeof gw !== 'string' || !isGatewayId(gw)) throw invalid(`gw: expected a gateway id, got ${JSON.stringify(gw)}`);
  const sentMs = env['sentMs'];
  if (typeof sentMs !== 'number' || !Number.isFinite(sentMs) || sentMs < 0) throw invalid(`sentMs: expected a timestamp, got ${String(sentMs)}`);
  const items = env['records'];
  if (!Array.isArray(items)) throw invalid('records: expected a list of byte strings');
  if (items.length > MAX_BATCH_RECORDS) throw invalid(`records: ${items.length} entries, expected at most ${MAX_BATCH_RECORDS}`);
  const extra = Object.keys(env).filter((k) => !['v', 'gw', 'sentMs', 'records'].includes(k));
  if (extra.length > 0) throw invalid(`unknown key ${JSON.stringify(extra[0])}`);

  const records: WireRecord[] = [];
  const rejected: RejectedRecord[] = [];
  items.forEach((item: unknown, index) => {
    if (!(item instanceof Uint8Array)) {
      rejected.push({ index, code: 'E_PAYLOAD_INVALID', reason: `records[${index}]: expected a byte string` });
      return;
    }
    try {
      records.push(decodeRecord(item));
    } catch (err) {
      const e = err as ProtocolError;
      rejected.push({ index, code: e.code, reason: `records[${index}]: ${e.message}` });
    }
  });
  return { gatewayId: gw, sentMs, records, rejected };
}
