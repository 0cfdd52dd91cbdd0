import { Encoder } from 'cbor-x';

/**
 * One CBOR codec configured for interoperability (RFC 8949 plain maps, byte strings
 * without tag 64, no cbor-x record extension) so that a C, Python or Go receiver can
 * decode every payload with a stock CBOR library.
 */
const options = {
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  // Not in cbor-x's typings, but honoured: plain CBOR maps, no tag 259 around them.
  useTag259ForMaps: false,
  int64AsNumber: true,
  variableMapSize: true,
};
const codec = new Encoder(options);

export function cborEncode(value: unknown): Uint8Array {
  return codec.encode(value);
}

/** Decodes exactly one CBOR item; throws on malformed or truncated input. */
export function cborDecode(bytes: Uint8Array): unknown {
  return codec.decode(bytes);
}
