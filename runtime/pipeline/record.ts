import type { RecordClass } from '../../fleet/protocol/index.js';

/**
 * A record as sources and stages hand it over, before the store gives it an id.
 * `data` must be a CBOR-encodable value (numbers, strings, lists, maps, byte arrays).
 */
export interface RecordInput {
  readonly stream: string;
  readonly class: RecordClass;
  /** Source timestamp, ms since 1970-01-01 UTC. */
  readonly ts: number;
  readonly data: unknown;
}

/**
 * A source's position (what it has read, in its own terms), written in the same LevelDB batch
 * as the records that carry it: after a crash the stored records and the stored checkpoint
 * agree, so a source that dedupes by position never stores a record twice. `key` is the
 * source's id (the pipeline sets it); a later checkpoint of the same key replaces the earlier.
 */
export interface Checkpoint {
  readonly key: string;
  readonly value: Uint8Array;
}

/** What became of records handed to an edge, once the store has decided. */
export interface EmitResult {
  /** Written to LevelDB. */
  readonly stored: number;
  /** Dropped by a queue's overflow policy before reaching the store. */
  readonly dropped: number;
  /** Written and at once evicted because the disk budget was full of higher classes. */
  readonly evicted: number;
  /** Consumed by a stage that produced no output for them (an aggregate window, say). */
  readonly consumed: number;
}

export const emptyResult: EmitResult = { stored: 0, dropped: 0, evicted: 0, consumed: 0 };

export function addResults(a: EmitResult, b: EmitResult): EmitResult {
  return { stored: a.stored + b.stored, dropped: a.dropped + b.dropped, evicted: a.evicted + b.evicted, consumed: a.consumed + b.consumed };
}
