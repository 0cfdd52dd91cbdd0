import { createHash } from 'node:crypto';
import { cborDecode, cborEncode } from '../cbor.js';
import { FederatedError } from './errors.js';
import { DEFAULT_UPDATE_LIMITS } from './tensor.js';

/**
 * An encoded update split into MQTT messages of a bounded size. Each chunk says which update it
 * belongs to (`id`, plus the SHA-256 of the whole update), its place (`i` of `n`) and the
 * geometry (`len` bytes in all, `size` bytes per chunk but the last), so that any single chunk
 * is enough for a receiver to place its bytes, in any order, and to reserve the whole.
 *
 * Why the digest is in EVERY chunk, not only the first (32 bytes, 0.05% of a 64 KiB chunk):
 * chunks arrive in any order (a resend after a reconnect starts wherever the gaps are), so a
 * receiver that waited for chunk 0 to learn the digest would have to hold chunks it cannot
 * yet attribute; and a sender that re-encodes an update under the same id (new stochastic
 * rounding after a restart) produces a different digest, so chunks of the two encodings are
 * never mixed into one corrupt whole: they are two separate assemblies.
 */
export interface Chunk {
  readonly updateId: string;
  /** SHA-256 of the whole encoded update. */
  readonly sha256: Uint8Array;
  readonly totalBytes: number;
  /** Bytes of every chunk but the last (which holds the rest). */
  readonly chunkBytes: number;
  readonly count: number;
  readonly index: number;
  readonly data: Uint8Array;
}

export const CHUNK_VERSION = 1;
export const DEFAULT_MAX_CHUNK_BYTES = 64 * 1024;
/** Chunks of one update at most: bounds the reassembler's per-update bookkeeping. */
export const MAX_CHUNK_COUNT = 4096;
/**
 * The chunk envelope's bytes at most (keys, a 128-character id, the digest, five integers and
 * the data's byte-string header): a chunk of maxChunkBytes carries maxChunkBytes minus this.
 */
export const CHUNK_ENVELOPE_BYTES = 256;
export const MIN_CHUNK_BYTES = 1024;
export const UPDATE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const updateIdRe = new RegExp(UPDATE_ID_PATTERN);
const KEYS = ['v', 'id', 'sha', 'len', 'size', 'n', 'i', 'd'];

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function chunkError(field: string, message: string, options?: { cause?: unknown }): FederatedError {
  return new FederatedError('E_FEDERATED_CHUNK', field, message, options);
}

export interface SplitOptions {
  /** Chosen by the sender, the same for every chunk and every resend of this update. */
  readonly updateId: string;
  /** Largest MQTT payload per chunk, envelope included (default 64 KiB). */
  readonly maxChunkBytes?: number;
  /** Largest update accepted (default: the update message bound). */
  readonly maxUpdateBytes?: number;
}

/**
 * Splits an encoded update into chunk messages, in order. A sender keeps the array (or the
 * update and its options) until the fleet has all of it, and re-sends only the indices the
 * fleet reports missing.
 */
export function splitUpdate(update: Uint8Array, o: SplitOptions): Uint8Array[] {
  const maxChunkBytes = o.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  const maxUpdateBytes = o.maxUpdateBytes ?? DEFAULT_UPDATE_LIMITS.maxMessageBytes;
  if (!updateIdRe.test(o.updateId)) throw chunkError('updateId', `expected ${UPDATE_ID_PATTERN}, got ${JSON.stringify(o.updateId)}`);
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes < MIN_CHUNK_BYTES) throw chunkError('maxChunkBytes', `expected an integer >= ${MIN_CHUNK_BYTES}, got ${maxChunkBytes}`);
  if (update.length < 1 || update.length > maxUpdateBytes) throw chunkError('update', `${update.length} bytes, expected 1 to ${maxUpdateBytes}`);
  const size = maxChunkBytes - CHUNK_ENVELOPE_BYTES;
  const n = Math.ceil(update.length / size);
  if (n > MAX_CHUNK_COUNT) throw chunkError('maxChunkBytes', `${update.length} bytes in chunks of ${size} is ${n} chunks, at most ${MAX_CHUNK_COUNT}: use larger chunks`);
  const sha = sha256(update);
  return Array.from({ length: n }, (_, i) => cborEncode({ v: CHUNK_VERSION, id: o.updateId, sha, len: update.length, size, n, i, d: update.subarray(i * size, Math.min(update.length, (i + 1) * size)) }));
}

const uint = (o: Record<string, unknown>, k: string, min: number, max: number): number => {
  const x = o[k];
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw chunkError(`chunk.${k}`, `expected an integer from ${min} to ${max}, got ${String(x)}`);
  return x;
};

/**
 * Decodes and checks one chunk message: geometry consistent (n = ceil(len / size), index below
 * n, the data exactly as long as its place), bounds kept. Anything wrong is E_FEDERATED_CHUNK.
 */
export function decodeChunk(bytes: Uint8Array, maxUpdateBytes: number = DEFAULT_UPDATE_LIMITS.maxMessageBytes): Chunk {
  if (!(bytes instanceof Uint8Array)) throw chunkError('chunk', 'expected bytes');
  if (bytes.length > maxUpdateBytes + CHUNK_ENVELOPE_BYTES) throw chunkError('chunk', `${bytes.length} bytes, larger than any chunk of an update of at most ${maxUpdateBytes} bytes`);
  let raw: unknown;
  try {
    raw = cborDecode(bytes);
  } catch (err) {
    throw chunkError('chunk', `not one whole CBOR item (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array || raw instanceof Map) throw chunkError('chunk', 'expected a CBOR map');
  const o = raw as Record<string, unknown>;
  if (o['v'] !== CHUNK_VERSION) throw chunkError('chunk.v', `version ${String(o['v'])} is not supported, expected ${CHUNK_VERSION}`);
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw chunkError(`chunk.${k}`, 'unknown key (a new key means a new version)');
  const id = o['id'];
  if (typeof id !== 'string' || !updateIdRe.test(id)) throw chunkError('chunk.id', `expected an update id (${UPDATE_ID_PATTERN})`);
  const sha = o['sha'];
  if (!(sha instanceof Uint8Array) || sha.length !== 32) throw chunkError('chunk.sha', 'expected the 32-byte SHA-256 of the update');
  const len = uint(o, 'len', 1, maxUpdateBytes);
  const size = uint(o, 'size', 1, maxUpdateBytes);
  const n = uint(o, 'n', 1, MAX_CHUNK_COUNT);
  if (n !== Math.ceil(len / size)) throw chunkError('chunk.n', `${n} chunks, but ${len} bytes in chunks of ${size} make ${Math.ceil(len / size)}`);
  const i = uint(o, 'i', 0, n - 1);
  const d = o['d'];
  const want = i < n - 1 ? size : len - (n - 1) * size;
  if (!(d instanceof Uint8Array) || d.length !== want) throw chunkError('chunk.d', `chunk ${i} of ${n} carries ${want} bytes, got ${d instanceof Uint8Array ? d.length : typeof d}`);
  return { updateId: id, sha256: new Uint8Array(sha), totalBytes: len, chunkBytes: size, count: n, index: i, data: new Uint8Array(d) };
}
