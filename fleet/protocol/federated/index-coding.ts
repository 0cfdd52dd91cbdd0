import { updateError } from './errors.js';

/**
 * Which elements a sparse tensor sends, in one of two codings; the encoder takes the smaller
 * (a tie goes to the bitmap, which decodes without a data-dependent loop):
 *
 * - `varint`: the gaps between ascending indices as unsigned LEB128 varints: first the first
 *   index, then for each next index (index - previous - 1). A gap under 128 costs one byte,
 *   under 16,384 two. Minimal encodings only (no trailing 0x80 0x00), so an index set has one
 *   encoding.
 * - `bitmap`: one bit per element, element j is bit (j mod 8) (least significant first) of
 *   byte floor(j / 8); ceil(n / 8) bytes, the bits past n are zero.
 *
 * Varints win below about one element in eight (each kept index costs at least 8 bits against
 * the bitmap's 8 bits per 8 elements); README.md has the sizes measured on the autoencoder.
 */
export type IndexCoding = 'varint' | 'bitmap';

function varintLength(x: number): number {
  let len = 1;
  while (x >= 128) {
    x = Math.floor(x / 128);
    len += 1;
  }
  return len;
}

/** Bytes of the varint coding of ascending distinct indices. */
export function varintIndexBytes(indices: Uint32Array): number {
  let bytes = 0;
  let prev = -1;
  for (let j = 0; j < indices.length; j += 1) {
    const i = indices[j] as number;
    bytes += varintLength(i - prev - 1);
    prev = i;
  }
  return bytes;
}

export function bitmapIndexBytes(elements: number): number {
  return Math.ceil(elements / 8);
}

export function encodeVarintIndices(indices: Uint32Array): Uint8Array {
  const out = new Uint8Array(varintIndexBytes(indices));
  let at = 0;
  let prev = -1;
  for (let j = 0; j < indices.length; j += 1) {
    const i = indices[j] as number;
    let gap = i - prev - 1;
    prev = i;
    while (gap >= 128) {
      out[at] = (gap % 128) | 0x80;
      at += 1;
      gap = Math.floor(gap / 128);
    }
    out[at] = gap;
    at += 1;
  }
  return out;
}

export function encodeBitmapIndices(indices: Uint32Array, elements: number): Uint8Array {
  const out = new Uint8Array(bitmapIndexBytes(elements));
  for (let j = 0; j < indices.length; j += 1) {
    const i = indices[j] as number;
    out[i >>> 3] = (out[i >>> 3] as number) | (1 << (i & 7));
  }
  return out;
}

/** The smaller coding of ascending distinct indices into a tensor of `elements` elements. */
export function encodeIndices(indices: Uint32Array, elements: number): { coding: IndexCoding; bytes: Uint8Array } {
  return varintIndexBytes(indices) < bitmapIndexBytes(elements) ? { coding: 'varint', bytes: encodeVarintIndices(indices) } : { coding: 'bitmap', bytes: encodeBitmapIndices(indices, elements) };
}

/** Largest varint a gap can need: elements are bounded far below 2^35. */
const MAX_VARINT_BYTES = 5;

/** Decodes and checks varint-coded indices: every index below `elements`, every varint minimal. */
export function decodeVarintIndices(bytes: Uint8Array, elements: number, field: string): Uint32Array {
  const out = new Uint32Array(bytes.length);
  let count = 0;
  let prev = -1;
  let at = 0;
  while (at < bytes.length) {
    let gap = 0;
    let mul = 1;
    let len = 0;
    let b: number;
    do {
      if (at >= bytes.length) throw updateError(field, `varint ${count} is cut off at byte ${at}`);
      if (len === MAX_VARINT_BYTES) throw updateError(field, `varint ${count} is longer than ${MAX_VARINT_BYTES} bytes`);
      b = bytes[at] as number;
      at += 1;
      len += 1;
      gap += (b & 0x7f) * mul;
      mul *= 128;
    } while ((b & 0x80) !== 0);
    if (b === 0 && len > 1) throw updateError(field, `varint ${count} is not minimal (ends in 0x00 at byte ${at - 1})`);
    const i = prev + 1 + gap;
    if (i >= elements) throw updateError(field, `index ${count} is ${i}, the tensor has ${elements} elements`);
    out[count] = i;
    count += 1;
    prev = i;
  }
  return out.slice(0, count);
}

/** Decodes and checks a bitmap: exactly ceil(elements / 8) bytes, no bit set past the end. */
export function decodeBitmapIndices(bytes: Uint8Array, elements: number, field: string): Uint32Array {
  if (bytes.length !== bitmapIndexBytes(elements)) throw updateError(field, `expected ${bitmapIndexBytes(elements)} bytes of bitmap for ${elements} elements, got ${bytes.length}`);
  const tail = elements & 7;
  if (tail !== 0 && ((bytes[bytes.length - 1] as number) >>> tail) !== 0) throw updateError(field, `bits set past element ${elements - 1}`);
  let count = 0;
  for (let k = 0; k < bytes.length; k += 1) {
    let b = bytes[k] as number;
    while (b !== 0) {
      b &= b - 1;
      count += 1;
    }
  }
  const out = new Uint32Array(count);
  let j = 0;
  for (let k = 0; k < bytes.length; k += 1) {
    const b = bytes[k] as number;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit += 1) {
      if ((b & (1 << bit)) !== 0) {
        out[j] = k * 8 + bit;
        j += 1;
      }
    }
  }
  return out;
}
