import { isGatewayId } from './topics.js';
import { ProtocolError } from './errors.js';

/** One decoder for every message (`fatal`: malformed UTF-8 is refused, not replaced); without `stream` it keeps no state between calls. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The retained message on `.../state`. A gateway publishes `online` after every connect
 * and `offline` before a clean shutdown; the broker publishes the Last Will (`offline`,
 * with `clean: false`) when the connection dies without one.
 */
export interface GatewayState {
  readonly gw: string;
  readonly state: 'online' | 'offline';
  readonly ts: number;
  /** false only in the Last Will: the gateway went away without saying goodbye. */
  readonly clean: boolean;
  readonly runtimeVersion: string;
}

export function encodeState(state: GatewayState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

export function decodeState(bytes: Uint8Array): GatewayState {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `state: not UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  const v = value as Partial<Record<keyof GatewayState, unknown>> | null;
  if (v === null || typeof v !== 'object') throw new ProtocolError('E_PAYLOAD_INVALID', 'state: expected a JSON object');
  if (typeof v.gw !== 'string' || !isGatewayId(v.gw)) throw new ProtocolError('E_PAYLOAD_INVALID', `state.gw: expected a gateway id, got ${JSON.stringify(v.gw)}`);
  if (v.state !== 'online' && v.state !== 'offline') throw new ProtocolError('E_PAYLOAD_INVALID', `state.state: expected "online" or "offline", got ${JSON.stringify(v.state)}`);
  if (typeof v.ts !== 'number' || !Number.isFinite(v.ts)) throw new ProtocolError('E_PAYLOAD_INVALID', 'state.ts: expected a number');
  if (typeof v.clean !== 'boolean') throw new ProtocolError('E_PAYLOAD_INVALID', 'state.clean: expected true or false');
  if (typeof v.runtimeVersion !== 'string') throw new ProtocolError('E_PAYLOAD_INVALID', 'state.runtimeVersion: expected a string');
  return { gw: v.gw, state: v.state, ts: v.ts, clean: v.clean, runtimeVersion: v.runtimeVersion };
}
