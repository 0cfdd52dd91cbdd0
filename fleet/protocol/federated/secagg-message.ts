import { cborDecode, cborEncode } from '../cbor.js';
import {
  checkAdvertiseKeys,
  checkKeyRoster,
  checkMaskedInput,
  checkShareDelivery,
  checkShareKeys,
  checkUnmaskingRequest,
  checkUnmaskingResponse,
  planRound,
  SecureAggregationError,
  type AdvertiseKeys,
  type KeyRoster,
  type MaskedInput,
  type RoundParams,
  type ShareDelivery,
  type ShareKeys,
  type UnmaskingRequest,
  type UnmaskingResponse,
} from '../secure-aggregation/index.js';
import { isLearningTaskId, LEARNING_TASK_PATTERN } from '../topics.js';
import { FederatedError } from './errors.js';

/**
 * The secure-aggregation messages of a federated round as they travel over MQTT
 * (PROTOCOL.md, "Secure aggregation"): the seven messages of fleet/protocol/secure-aggregation
 * plus the round's parameters, each a CBOR map with the task, the round number and the step:
 *
 * | step | direction | topic |
 * | --- | --- | --- |
 * | `round-params` | fleet -> each drawn gateway | `edgewise/v1/gw/{id}/learning-secagg-relay` |
 * | `advertise-keys` | gateway -> fleet | `edgewise/v1/gw/{id}/learning-secagg` |
 * | `key-roster` | fleet -> each gateway of U1 | relay |
 * | `share-keys` | gateway -> fleet | secagg |
 * | `share-delivery` | fleet -> each gateway of U2 | relay |
 * | `masked-input` | gateway -> fleet | secagg |
 * | `unmasking-request` | fleet -> each gateway of U3 | relay |
 * | `unmasking-response` | gateway -> fleet | secagg |
 *
 * The protocol's round id (bound into every key, share and mask) is `{task}:{round}`
 * (`secAggRoundId`): it is not on the wire, both sides derive it from `task` and `round`.
 * Every other field has the protocol message's name; byte strings are CBOR byte strings, the
 * masked vector 4 bytes per word, little-endian. Decoding checks the envelope here and the
 * body with the protocol's own checks; anything wrong is E_FEDERATED_SECAGG naming the field.
 */

export const SECAGG_VERSION = 1;

/**
 * One message at most (the masked vector of a 262,000-parameter model, or a roster of 255
 * clients, fit). Larger models would need the update's chunking (chunks.ts), not built for
 * secure rounds: the fleet refuses a secure task whose model does not fit (maxSecAggVectorLength).
 */
export const MAX_SECAGG_MESSAGE_BYTES = 1024 * 1024;
/** The envelope and the masked-input's other fields take less than this. */
const MASKED_INPUT_OVERHEAD_BYTES = 1024;
/** Words of the largest vector a masked-input message can carry within MAX_SECAGG_MESSAGE_BYTES. */
export const MAX_SECAGG_VECTOR_LENGTH = Math.floor((MAX_SECAGG_MESSAGE_BYTES - MASKED_INPUT_OVERHEAD_BYTES) / 4);

export const GATEWAY_SECAGG_STEPS = ['advertise-keys', 'share-keys', 'masked-input', 'unmasking-response'] as const;
export const FLEET_SECAGG_STEPS = ['round-params', 'key-roster', 'share-delivery', 'unmasking-request'] as const;
export type GatewaySecAggStep = (typeof GATEWAY_SECAGG_STEPS)[number];
export type FleetSecAggStep = (typeof FLEET_SECAGG_STEPS)[number];
export type SecAggStep = GatewaySecAggStep | FleetSecAggStep;

/** What the fleet sends a drawn gateway of a secure round: the round's parameters, addressed to it. */
export interface SecAggRoundParams extends RoundParams {
  readonly to: string;
}

interface Head {
  readonly task: string;
  /** The round number (the announcement's and the invitation's `round`). */
  readonly round: number;
}

/** A message a gateway sends (on its own learning-secagg topic). */
export type GatewaySecAggMessage = Head &
  (
    | { readonly step: 'advertise-keys'; readonly body: AdvertiseKeys }
    | { readonly step: 'share-keys'; readonly body: ShareKeys }
    | { readonly step: 'masked-input'; readonly body: MaskedInput }
    | { readonly step: 'unmasking-response'; readonly body: UnmaskingResponse }
  );

/** A message the fleet sends (on one gateway's learning-secagg-relay topic). */
export type FleetSecAggMessage = Head &
  (
    | { readonly step: 'round-params'; readonly body: SecAggRoundParams }
    | { readonly step: 'key-roster'; readonly body: KeyRoster }
    | { readonly step: 'share-delivery'; readonly body: ShareDelivery }
    | { readonly step: 'unmasking-request'; readonly body: UnmaskingRequest }
  );

export type SecAggMessage = GatewaySecAggMessage | FleetSecAggMessage;

/** The protocol's round id of round `round` of `task`: salts every key derivation, bound into every box. */
export function secAggRoundId(task: string, round: number): string {
  return `${task}:${round}`;
}

export function secAggError(field: string, message: string, options?: { cause?: unknown }): FederatedError {
  return new FederatedError('E_FEDERATED_SECAGG', field, message, options);
}

/** Body keys on the wire per step (besides v, step, task, round): a receiver refuses any other. */
const BODY_KEYS: Record<SecAggStep, readonly string[]> = {
  'round-params': ['to', 'clients', 'threshold', 'vectorLength', 'graph'],
  'advertise-keys': ['from', 'maskPublicKey', 'encryptionPublicKey'],
  'key-roster': ['clients'],
  'share-keys': ['from', 'selfMaskCommitment', 'digests', 'boxes'],
  'share-delivery': ['to', 'boxes'],
  'masked-input': ['from', 'masked'],
  'unmasking-request': ['to', 'survivors'],
  'unmasking-response': ['from', 'selfMaskShares', 'maskKeyShares'],
};
const HEAD_KEYS = ['v', 'step', 'task', 'round'];

/** Encodes a message, checked by the rules its receiver applies (nobody sends what the other side refuses). */
export function encodeSecAggMessage(m: SecAggMessage): Uint8Array {
  const body: Record<string, unknown> = { ...m.body };
  delete body['round'];
  if (m.step === 'masked-input') body['masked'] = wordsToBytes(m.body.masked);
  if (m.step === 'round-params' && m.body.graph.type === 'harary') body['graph'] = { type: 'harary', degree: m.body.graph.degree, seed: m.body.graph.seed };
  const raw = { v: SECAGG_VERSION, step: m.step, task: m.task, round: m.round, ...body };
  const direction = (GATEWAY_SECAGG_STEPS as readonly string[]).includes(m.step) ? 'to-fleet' : 'to-gateway';
  parse(raw, direction);
  const bytes = cborEncode(raw);
  if (bytes.byteLength > MAX_SECAGG_MESSAGE_BYTES) throw secAggError('message', `${bytes.byteLength} bytes, at most ${MAX_SECAGG_MESSAGE_BYTES}`);
  return bytes;
}

/** Reads what a gateway sent (the fleet's side). */
export function decodeGatewaySecAggMessage(bytes: Uint8Array): GatewaySecAggMessage {
  return decode(bytes, 'to-fleet') as GatewaySecAggMessage;
}

/** Reads what the fleet sent (a gateway's side). */
export function decodeFleetSecAggMessage(bytes: Uint8Array): FleetSecAggMessage {
  return decode(bytes, 'to-gateway') as FleetSecAggMessage;
}

function decode(bytes: Uint8Array, direction: 'to-fleet' | 'to-gateway'): SecAggMessage {
  if (!(bytes instanceof Uint8Array)) throw secAggError('message', 'expected bytes');
  if (bytes.byteLength > MAX_SECAGG_MESSAGE_BYTES) throw secAggError('message', `${bytes.byteLength} bytes, at most ${MAX_SECAGG_MESSAGE_BYTES}`);
  let raw: unknown;
  try {
    raw = cborDecode(bytes);
  } catch (err) {
    throw secAggError('message', `not one whole CBOR item (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  try {
    return parse(ownBytes(raw, 0), direction);
  } catch (err) {
    if (err instanceof FederatedError) throw err;
    // Only the coded error leaves: a check above should have named the field.
    throw secAggError('message', `malformed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

/** The decoded value with every byte string copied into a plain Uint8Array (the decoder hands out Buffers over its input). */
function ownBytes(x: unknown, depth: number): unknown {
  if (depth > 8) throw secAggError('message', 'nested deeper than any secure-aggregation message');
  if (x instanceof Uint8Array) return Uint8Array.from(x);
  if (Array.isArray(x)) return x.map((v) => ownBytes(v, depth + 1));
  if (isMap(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, ownBytes(v, depth + 1)]));
  return x;
}

function isMap(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array) && !(x instanceof Map);
}

function parse(raw: unknown, direction: 'to-fleet' | 'to-gateway'): SecAggMessage {
  if (!isMap(raw)) throw secAggError('message', 'expected a CBOR map');
  if (raw['v'] !== SECAGG_VERSION) throw secAggError('v', `version ${String(raw['v'])} is not supported, expected ${SECAGG_VERSION}`);
  const step = raw['step'];
  const allowed: readonly string[] = direction === 'to-fleet' ? GATEWAY_SECAGG_STEPS : FLEET_SECAGG_STEPS;
  if (typeof step !== 'string' || !allowed.includes(step)) {
    throw secAggError('step', `expected one of ${allowed.join(', ')} (${direction === 'to-fleet' ? 'what a gateway sends' : 'what the fleet sends'}), got ${typeof step === 'string' ? JSON.stringify(step.slice(0, 40)) : typeof step}`);
  }
  const s = step as SecAggStep;
  for (const k of Object.keys(raw)) if (!HEAD_KEYS.includes(k) && !BODY_KEYS[s].includes(k)) throw secAggError(k, `unknown key in ${s} (a new key means a new version)`);
  const task = raw['task'];
  if (typeof task !== 'string' || !isLearningTaskId(task)) throw secAggError('task', `expected a task id (${LEARNING_TASK_PATTERN})`);
  const round = raw['round'];
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0) throw secAggError('round', `expected an integer >= 0, got ${String(round)}`);
  const roundId = secAggRoundId(task, round);
  const body: Record<string, unknown> = { round: roundId };
  for (const k of BODY_KEYS[s]) if (k in raw) body[k] = raw[k];
  const head = { task, round };
  try {
    switch (s) {
      case 'round-params': {
        const to = raw['to'];
        if (typeof to !== 'string') throw secAggError('to', 'expected the gateway id the parameters are addressed to');
        const plan = planRound(body);
        if (!plan.has(to)) throw secAggError('to', `${JSON.stringify(to)} is not among the round's clients`);
        return { ...head, step: s, body: { to, round: roundId, clients: plan.clients, threshold: plan.threshold, vectorLength: plan.vectorLength, graph: plan.graph } };
      }
      case 'advertise-keys':
        return { ...head, step: s, body: checkAdvertiseKeys(body) };
      case 'key-roster':
        return { ...head, step: s, body: checkKeyRoster(body) };
      case 'share-keys':
        return { ...head, step: s, body: checkShareKeys(body) };
      case 'share-delivery':
        return { ...head, step: s, body: checkShareDelivery(body) };
      case 'masked-input': {
        const masked = raw['masked'];
        if (!(masked instanceof Uint8Array) || masked.byteLength % 4 !== 0 || masked.byteLength === 0 || masked.byteLength / 4 > MAX_SECAGG_VECTOR_LENGTH) {
          throw secAggError('masked', `expected a byte string of 1 to ${MAX_SECAGG_VECTOR_LENGTH} little-endian uint32 words (a multiple of 4 bytes)`);
        }
        return { ...head, step: s, body: checkMaskedInput({ ...body, masked: bytesToWords(masked) }) };
      }
      case 'unmasking-request':
        return { ...head, step: s, body: checkUnmaskingRequest(body) };
      case 'unmasking-response':
        return { ...head, step: s, body: checkUnmaskingResponse(body) };
    }
  } catch (err) {
    if (err instanceof SecureAggregationError) throw secAggError(s, err.message, { cause: err });
    throw err;
  }
}

/** uint32 words as little-endian bytes (a copy; the platform's order does not matter). */
export function wordsToBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i += 1) view.setUint32(i * 4, words[i] as number, true);
  return out;
}

export function bytesToWords(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i += 1) out[i] = view.getUint32(i * 4, true);
  return out;
}
