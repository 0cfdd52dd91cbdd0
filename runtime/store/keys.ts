import type { RecordClass } from '../../fleet/protocol/index.js';

/**
 * LevelDB key layout (all keys are ASCII strings, so `ldb scan` output stays readable):
 *
 *   m!dbid                      random id of this database, made once
 *   m!epoch                     open counter, bumped (with fsync) on every open
 *   m!probe                     the watchdog's liveness write (store-probe.ts): one small value, overwritten
 *   o{c}!{epoch:8 hex}{seq:12 hex}  outbox record of class c (t, r, a) -> CBOR wire record
 *   d!{ts:12 hex}{epoch:8 hex}{seq:8 hex}  decision log entry -> CBOR entry
 *   c!{source id}               a source's checkpoint (written in the batch of its records) -> the source's bytes
 *   u!{consumer}                an outbox consumer's acknowledged-through suffix (outbox-consumer.ts; only while
 *                               more than one consumer reads the outbox) -> the suffix, ASCII
 *
 * The outbox suffix `{epoch}{seq}` is one global order across classes: the epoch grows on
 * every open and seq restarts at 0 in each epoch, so key order is arrival order, also
 * across restarts. Each class has its own key range so eviction can walk the oldest
 * records of one class without touching the others.
 */
export const META_DBID = 'm!dbid';
export const META_EPOCH = 'm!epoch';
export const META_PROBE = 'm!probe';

export const CLASS_LETTER: Readonly<Record<RecordClass, string>> = { telemetry: 't', result: 'r', alert: 'a' };

const EPOCH_HEX = 8;
const SEQ_HEX = 12;
export const MAX_EPOCH = 0xffffffff;
export const MAX_SEQ = 2 ** 48 - 1;
/** Length of the ordering suffix `{epoch}{seq}`. */
export const SUFFIX_LENGTH = EPOCH_HEX + SEQ_HEX;

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

export function orderSuffix(epoch: number, seq: number): string {
  return hex(epoch, EPOCH_HEX) + hex(seq, SEQ_HEX);
}

export function parseOrderSuffix(suffix: string): { epoch: number; seq: number } {
  return { epoch: Number.parseInt(suffix.slice(0, EPOCH_HEX), 16), seq: Number.parseInt(suffix.slice(EPOCH_HEX), 16) };
}

export function classPrefix(cls: RecordClass): string {
  return `o${CLASS_LETTER[cls]}!`;
}

export function outboxKey(cls: RecordClass, suffix: string): string {
  return classPrefix(cls) + suffix;
}

/** The upper bound of a class range: '"' sorts right after '!'. */
export function classRangeEnd(cls: RecordClass): string {
  return `o${CLASS_LETTER[cls]}"`;
}

/** Record ids: short, unique per gateway for ever (the db id changes if the disk is wiped). */
export function recordId(dbId: string, epoch: number, seq: number): string {
  return `${dbId}.${epoch.toString(36)}.${seq.toString(36)}`;
}

/**
 * Sources' checkpoints (see pipeline/record.ts). Not records: not counted, not budgeted (one
 * small value per source), never sent.
 */
export const CHECKPOINT_PREFIX = 'c!';

/**
 * Outbox consumers' cursors (outbox-consumer.ts): every record whose suffix is at or below the
 * stored one was acknowledged by that consumer. Not records: not counted, never sent.
 */
export const CONSUMER_PREFIX = 'u!';
export const CONSUMER_END = 'u"';

export function consumerKey(name: string): string {
  return CONSUMER_PREFIX + name;
}

export const DECISION_PREFIX = 'd!';
export const DECISION_END = 'd"';

export function decisionKey(tsMs: number, epoch: number, seq: number): string {
  return DECISION_PREFIX + hex(Math.max(0, Math.floor(tsMs)), 12) + hex(epoch, 8) + hex(seq, 8);
}

export function decisionCutoffKey(tsMs: number): string {
  return DECISION_PREFIX + hex(Math.max(0, Math.floor(tsMs)), 12);
}

/** The epoch a record key (outbox or decision log) carries; undefined for other keys. */
export function keyEpoch(key: string): number | undefined {
  if (key.startsWith(DECISION_PREFIX)) {
    const epoch = Number.parseInt(key.slice(DECISION_PREFIX.length + 12, DECISION_PREFIX.length + 20), 16);
    return Number.isFinite(epoch) ? epoch : 0;
  }
  if (key.length === 3 + SUFFIX_LENGTH && key[0] === 'o' && key[2] === '!') {
    const epoch = Number.parseInt(key.slice(3, 3 + EPOCH_HEX), 16);
    return Number.isFinite(epoch) ? epoch : 0;
  }
  return undefined;
}
