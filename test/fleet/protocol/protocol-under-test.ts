// The protocol's public face plus the raw CBOR encoder, for building malformed messages.
export * from '../../../fleet/protocol/index.js';
export { cborEncode as cborEncodeForTest } from '../../../fleet/protocol/cbor.js';
