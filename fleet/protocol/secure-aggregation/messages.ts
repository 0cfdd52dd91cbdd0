import { secAggFail } from './errors.js';
import { CLIENT_ID_PATTERN, MAX_CLIENTS, MAX_SHARE_HOLDERS, MAX_VECTOR_LENGTH, ROUND_ID_PATTERN } from './params.js';
import { BOX_OVERHEAD_BYTES } from './share-box.js';
import { SHARE_BYTES } from './shamir.js';
import { KEY_BYTES } from './x25519.js';

/**
 * The protocol's messages, in the order they flow (Bonawitz et al. 2017, rounds 0, 1, 2 and 4;
 * round 3, the signed consistency check, belongs to the malicious-server variant, which this is
 * not). "client -> server" messages are what a gateway publishes; "server -> client" ones are
 * what the fleet relays. Each has a check that takes an unknown value (a decoded payload) and
 * returns it typed, or throws E_SECAGG (reason `malformed`) naming the field. The check is
 * about shape and bounds; whether a message fits the round is checked by its receiver.
 */

/** client -> server, round 0: the client's two fresh X25519 public keys for this round. */
export interface AdvertiseKeys {
  readonly round: string;
  readonly from: string;
  /** Agrees the pairwise mask seeds s_uv; its private key is what is secret-shared for dropout recovery. */
  readonly maskPublicKey: Uint8Array;
  /** Agrees the keys of the boxes that carry shares between clients. */
  readonly encryptionPublicKey: Uint8Array;
}

export interface ClientKeys {
  readonly id: string;
  readonly maskPublicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
}

/** server -> every client that advertised (U1), round 0: everyone's keys. */
export interface KeyRoster {
  readonly round: string;
  readonly clients: readonly ClientKeys[];
}

/** The digests of the two shares a dealer made for one holder (the holder may be the dealer itself). */
export interface ShareDigests {
  readonly holder: string;
  readonly maskKey: Uint8Array;
  readonly selfMask: Uint8Array;
}

/** One client's shares for one peer, sealed for that peer. */
export interface ShareBox {
  readonly to: string;
  readonly box: Uint8Array;
}

/** client -> server, round 1. */
export interface ShareKeys {
  readonly round: string;
  readonly from: string;
  /** Commitment to the self-mask seed b_u (see derive.ts). */
  readonly selfMaskCommitment: Uint8Array;
  /** One entry per holder of the client's shares: itself and its neighbours in U1. */
  readonly digests: readonly ShareDigests[];
  /** One box per holder other than the client itself (a client keeps its own share). */
  readonly boxes: readonly ShareBox[];
}

/** server -> each client of U2, round 1: the boxes its neighbours in U2 sealed for it. */
export interface ShareDelivery {
  readonly round: string;
  readonly to: string;
  readonly boxes: readonly { readonly from: string; readonly box: Uint8Array }[];
}

/** client -> server, round 2: y_u, the masked input. */
export interface MaskedInput {
  readonly round: string;
  readonly from: string;
  readonly masked: Uint32Array;
}

/** server -> each client of U3, round 4: who sent a masked input (U3). */
export interface UnmaskingRequest {
  readonly round: string;
  readonly to: string;
  readonly survivors: readonly string[];
}

export interface RevealedShare {
  /** Whose secret this is a share of. */
  readonly of: string;
  readonly share: Uint8Array;
}

/** client -> server, round 4: self-mask shares of survivors, mask-key shares of the dropped; never both for one peer. */
export interface UnmaskingResponse {
  readonly round: string;
  readonly from: string;
  readonly selfMaskShares: readonly RevealedShare[];
  readonly maskKeyShares: readonly RevealedShare[];
}

/** A sealed box holds a mask-key share and a self-mask share. */
export const BOX_BYTES = BOX_OVERHEAD_BYTES + 2 * SHARE_BYTES;
export const DIGEST_BYTES = 32;

const malformed = (what: string, message: string): never => secAggFail('malformed', `${what}: ${message}`);

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed(what, 'expected an object');
  return value as Record<string, unknown>;
}

function id(value: unknown, what: string, pattern = CLIENT_ID_PATTERN): string {
  if (typeof value !== 'string' || !pattern.test(value)) return malformed(what, `expected an id matching ${String(pattern)}`);
  return value;
}

function bytes(value: unknown, what: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength !== length) return malformed(what, `expected ${length} bytes`);
  return value;
}

function list<T>(value: unknown, what: string, max: number, item: (v: unknown, what: string) => T): T[] {
  if (!Array.isArray(value)) return malformed(what, 'expected a list');
  if (value.length > max) return malformed(what, `${value.length} entries, at most ${max} allowed`);
  return value.map((v, i) => item(v, `${what}[${i}]`));
}

function header(value: unknown, what: string, peerField: 'from' | 'to'): { o: Record<string, unknown>; round: string; peer: string } {
  const o = record(value, what);
  return { o, round: id(o['round'], `${what}.round`, ROUND_ID_PATTERN), peer: id(o[peerField], `${what}.${peerField}`) };
}

export function checkAdvertiseKeys(value: unknown): AdvertiseKeys {
  const { o, round, peer } = header(value, 'advertise-keys', 'from');
  return { round, from: peer, maskPublicKey: bytes(o['maskPublicKey'], 'advertise-keys.maskPublicKey', KEY_BYTES), encryptionPublicKey: bytes(o['encryptionPublicKey'], 'advertise-keys.encryptionPublicKey', KEY_BYTES) };
}

export function checkKeyRoster(value: unknown): KeyRoster {
  const o = record(value, 'key-roster');
  const clients = list(o['clients'], 'key-roster.clients', MAX_CLIENTS, (v, what) => {
    const c = record(v, what);
    return { id: id(c['id'], `${what}.id`), maskPublicKey: bytes(c['maskPublicKey'], `${what}.maskPublicKey`, KEY_BYTES), encryptionPublicKey: bytes(c['encryptionPublicKey'], `${what}.encryptionPublicKey`, KEY_BYTES) };
  });
  return { round: id(o['round'], 'key-roster.round', ROUND_ID_PATTERN), clients };
}

export function checkShareKeys(value: unknown): ShareKeys {
  const { o, round, peer } = header(value, 'share-keys', 'from');
  const digests = list(o['digests'], 'share-keys.digests', MAX_SHARE_HOLDERS, (v, what) => {
    const d = record(v, what);
    return { holder: id(d['holder'], `${what}.holder`), maskKey: bytes(d['maskKey'], `${what}.maskKey`, DIGEST_BYTES), selfMask: bytes(d['selfMask'], `${what}.selfMask`, DIGEST_BYTES) };
  });
  const boxes = list(o['boxes'], 'share-keys.boxes', MAX_SHARE_HOLDERS, (v, what) => {
    const b = record(v, what);
    return { to: id(b['to'], `${what}.to`), box: bytes(b['box'], `${what}.box`, BOX_BYTES) };
  });
  return { round, from: peer, selfMaskCommitment: bytes(o['selfMaskCommitment'], 'share-keys.selfMaskCommitment', DIGEST_BYTES), digests, boxes };
}

export function checkShareDelivery(value: unknown): ShareDelivery {
  const { o, round, peer } = header(value, 'share-delivery', 'to');
  const boxes = list(o['boxes'], 'share-delivery.boxes', MAX_SHARE_HOLDERS, (v, what) => {
    const b = record(v, what);
    return { from: id(b['from'], `${what}.from`), box: bytes(b['box'], `${what}.box`, BOX_BYTES) };
  });
  return { round, to: peer, boxes };
}

export function checkMaskedInput(value: unknown): MaskedInput {
  const { o, round, peer } = header(value, 'masked-input', 'from');
  const masked = o['masked'];
  if (!(masked instanceof Uint32Array) || masked.length < 1 || masked.length > MAX_VECTOR_LENGTH) return malformed('masked-input.masked', `expected a Uint32Array of 1 to ${MAX_VECTOR_LENGTH} words`);
  return { round, from: peer, masked };
}

export function checkUnmaskingRequest(value: unknown): UnmaskingRequest {
  const { o, round, peer } = header(value, 'unmasking-request', 'to');
  return { round, to: peer, survivors: list(o['survivors'], 'unmasking-request.survivors', MAX_CLIENTS, (v, what) => id(v, what)) };
}

export function checkUnmaskingResponse(value: unknown): UnmaskingResponse {
  const { o, round, peer } = header(value, 'unmasking-response', 'from');
  const revealed = (field: string) =>
    list(o[field], `unmasking-response.${field}`, MAX_SHARE_HOLDERS, (v, what) => {
      const r = record(v, what);
      return { of: id(r['of'], `${what}.of`), share: bytes(r['share'], `${what}.share`, SHARE_BYTES) };
    });
  return { round, from: peer, selfMaskShares: revealed('selfMaskShares'), maskKeyShares: revealed('maskKeyShares') };
}
