import { isGatewayId } from '../protocol/index.js';
import { ApiProblem } from './problem.js';

/** Where a page of events ended: the last event's sort key (newest first). */
export interface EventCursor {
  readonly ts: number;
  readonly gatewayId: string;
  readonly recordId: string;
}

/**
 * Opaque to clients: base64url of `[ts, gatewayId, recordId]` as JSON. Opaque so the sort
 * key can change without breaking clients that pass `next` back unchanged.
 */
export function encodeEventCursor(c: EventCursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.gatewayId, c.recordId]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeEventCursor`; anything else is a 400 naming `field`. */
export function decodeEventCursor(text: string, field = 'query.before'): EventCursor {
  const bad = (): ApiProblem => new ApiProblem(400, 'E_VALIDATION', `${field}: not a cursor from this API; pass the \`next\` of the previous page unchanged`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 3) throw bad();
  const [ts, gatewayId, recordId] = v as unknown[];
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || typeof gatewayId !== 'string' || !isGatewayId(gatewayId) || typeof recordId !== 'string' || recordId.length === 0 || recordId.length > 256) throw bad();
  const cursor = { ts, gatewayId, recordId };
  // Base64 decoding skips characters it does not know; only the exact encoding is a cursor.
  if (encodeEventCursor(cursor) !== text) throw bad();
  return cursor;
}
