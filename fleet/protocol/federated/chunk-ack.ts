import { schema } from 'tjs';
import { checkSchema, invalid, readControlJson, writeControlJson } from './control-json.js';
import { MAX_CHUNK_COUNT, UPDATE_ID_PATTERN } from './chunks.js';

/**
 * The fleet's answer about one update's chunks, on the sender's own
 * `edgewise/v1/gw/{id}/learning-ack`: what ChunkReassembler.missing(sender, id, sha) says, so a
 * gateway resuming after a reconnect sends only what is still needed.
 *
 * - `complete`: every chunk arrived and the whole hashed to `sha`; send nothing more.
 * - `missing`: the fleet holds part of this update; send the chunks listed (ascending).
 * - `unknown`: the fleet holds nothing of it (never seen, dropped after the TTL or a checksum
 *   mismatch); send every chunk.
 */
export interface ChunkAckMessage {
  readonly v: 1;
  /** The update id of the chunks (chunks.ts `id`). */
  readonly id: string;
  /** Lower-case hex of the chunks' SHA-256 (chunks.ts `sha`): an ack speaks of one encoding only. */
  readonly sha: string;
  readonly status: 'complete' | 'missing' | 'unknown';
  /** Chunk indices, strictly ascending; empty unless `status` is `missing`. */
  readonly missing: readonly number[];
}

export const CHUNK_ACK_VERSION = 1;
/** Room for every index of the largest update (4,096 indices of up to 4 digits and a comma) and the envelope. */
export const MAX_CHUNK_ACK_BYTES = 32 * 1024;

export const chunkAckSchema = {
  type: 'object',
  properties: {
    v: { const: CHUNK_ACK_VERSION },
    id: { type: 'string', pattern: UPDATE_ID_PATTERN, description: `an update id (${UPDATE_ID_PATTERN})` },
    sha: { type: 'string', pattern: '^[0-9a-f]{64}$', description: '64 lower-case hex digits (the SHA-256 of the update)' },
    status: { enum: ['complete', 'missing', 'unknown'] },
    missing: { type: 'array', items: { type: 'integer', minimum: 0, maximum: MAX_CHUNK_COUNT - 1 }, maxItems: MAX_CHUNK_COUNT },
  },
  required: ['v', 'id', 'sha', 'status', 'missing'],
  additionalProperties: false,
} as const;

const validator = schema(chunkAckSchema);
const WHAT = 'chunk ack';

function check(value: unknown): ChunkAckMessage {
  checkSchema(validator, chunkAckSchema, value, WHAT);
  const m = value as ChunkAckMessage;
  if (m.status === 'missing' && m.missing.length === 0) throw invalid(WHAT, 'missing', 'expected at least one index when status is "missing"');
  if (m.status !== 'missing' && m.missing.length > 0) throw invalid(WHAT, 'missing', `expected no index when status is ${JSON.stringify(m.status)}`);
  for (let i = 1; i < m.missing.length; i++) {
    if ((m.missing[i] as number) <= (m.missing[i - 1] as number)) throw invalid(WHAT, `missing[${i}]`, `expected indices in strictly ascending order, got ${m.missing[i]} after ${m.missing[i - 1]}`);
  }
  return m;
}

export function encodeChunkAck(m: ChunkAckMessage): Uint8Array {
  return writeControlJson(check(JSON.parse(JSON.stringify(m)) as unknown), WHAT, MAX_CHUNK_ACK_BYTES);
}

export function decodeChunkAck(bytes: Uint8Array): ChunkAckMessage {
  return check(readControlJson(bytes, WHAT, MAX_CHUNK_ACK_BYTES));
}
