/**
 * Modbus register values to numbers and back. Pure: no I/O.
 *
 * A register is a 16-bit word, sent high byte first. A value wider than one register spans 2 or
 * 4 consecutive registers, and devices disagree on how its bytes are laid out across them. The
 * four layouts are named by the order in which the bytes A B C D of the big-endian value (A the
 * most significant) appear in the registers, first register first:
 *
 * | order | float32 123.456 (big-endian 42 F6 E9 79) | meaning                                   |
 * | ----- | ---------------------------------------- | ----------------------------------------- |
 * | ABCD  | 0x42F6 0xE979                            | big-endian words, big-endian bytes        |
 * | CDAB  | 0xE979 0x42F6                            | word swap ("little-endian word order")    |
 * | BADC  | 0xF642 0x79E9                            | byte swap inside each word                |
 * | DCBA  | 0x79E9 0xF642                            | both: the value's little-endian bytes     |
 *
 * For a 4-register value (float64) CDAB reverses all four words (and DCBA is the fully
 * little-endian value), as pymodbus's BinaryPayloadBuilder lays it out with wordorder Little;
 * that is what most devices and gateways mean by "word swap". A 16-bit value has one word, so
 * ABCD and CDAB read the same and BADC/DCBA swap its two bytes.
 *
 * Coils and discrete inputs are bits; on the wire (function codes 1, 2, 15) eight to a byte,
 * the first bit in the least significant bit of the first byte.
 */

export const NUMERIC_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const;
export type NumericType = (typeof NUMERIC_TYPES)[number];

export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];

const WORDS: Readonly<Record<NumericType, 1 | 2 | 4>> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4 };

/** How many 16-bit registers one value of `type` spans. */
export function registersOf(type: NumericType): 1 | 2 | 4 {
  return WORDS[type];
}

/** The inclusive range of values a type holds (floats: the finite range). */
export function rangeOf(type: NumericType): { readonly min: number; readonly max: number } {
  switch (type) {
    case 'int16':
      return { min: -0x8000, max: 0x7fff };
    case 'uint16':
      return { min: 0, max: 0xffff };
    case 'int32':
      return { min: -0x8000_0000, max: 0x7fff_ffff };
    case 'uint32':
      return { min: 0, max: 0xffff_ffff };
    case 'float32':
      return { min: -3.4028234663852886e38, max: 3.4028234663852886e38 };
    case 'float64':
      return { min: -Number.MAX_VALUE, max: Number.MAX_VALUE };
  }
}

const wordSwapped = (order: WordOrder): boolean => order === 'CDAB' || order === 'DCBA';
const byteSwapped = (order: WordOrder): boolean => order === 'BADC' || order === 'DCBA';

/** The value's big-endian bytes from its registers (`words[at]` on), undoing `order`. */
function bigEndianBytes(words: ArrayLike<number>, at: number, n: number, order: WordOrder): DataView {
  if (at < 0 || at + n > words.length) throw new RangeError(`registers ${at}..${at + n - 1} wanted, ${words.length} given`);
  const view = new DataView(new ArrayBuffer(n * 2));
  for (let i = 0; i < n; i += 1) {
    const w = (words[wordSwapped(order) ? at + n - 1 - i : at + i] as number) & 0xffff;
    view.setUint16(i * 2, byteSwapped(order) ? ((w & 0xff) << 8) | (w >>> 8) : w);
  }
  return view;
}

/**
 * The raw value of `type` stored in `order` at `words[at]` (before scale and offset). Each
 * word is taken as its low 16 bits. Throws RangeError when `words` is too short.
 */
export function decodeRaw(words: ArrayLike<number>, type: NumericType, order: WordOrder = 'ABCD', at = 0): number {
  if (type === 'uint16' || type === 'int16') {
    // One register, the common case: no DataView for it (a 125-register read decodes 125 of them a poll).
    if (at < 0 || at + 1 > words.length) throw new RangeError(`registers ${at}..${at} wanted, ${words.length} given`);
    const w = (words[at] as number) & 0xffff;
    const u = byteSwapped(order) ? ((w & 0xff) << 8) | (w >>> 8) : w;
    return type === 'int16' && u >= 0x8000 ? u - 0x10000 : u;
  }
  const v = bigEndianBytes(words, at, WORDS[type], order);
  switch (type) {
    case 'int32':
      return v.getInt32(0);
    case 'uint32':
      return v.getUint32(0);
    case 'float32':
      return v.getFloat32(0);
    case 'float64':
      return v.getFloat64(0);
  }
}

/**
 * The registers that hold `raw` as `type` in `order`. Integers must be whole and in the type's
 * range (RangeError otherwise: a write must never wrap around silently); float32 rounds to the
 * nearest float32.
 */
export function encodeRaw(raw: number, type: NumericType, order: WordOrder = 'ABCD'): number[] {
  const n = WORDS[type];
  const view = new DataView(new ArrayBuffer(n * 2));
  if (type === 'float32') view.setFloat32(0, raw);
  else if (type === 'float64') view.setFloat64(0, raw);
  else {
    const { min, max } = rangeOf(type);
    if (!Number.isInteger(raw) || raw < min || raw > max) throw new RangeError(`${raw} is not a ${type} (whole numbers ${min}..${max})`);
    if (type === 'int16') view.setInt16(0, raw);
    else if (type === 'uint16') view.setUint16(0, raw);
    else if (type === 'int32') view.setInt32(0, raw);
    else view.setUint32(0, raw);
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i += 1) {
    const w = view.getUint16(i * 2);
    out[wordSwapped(order) ? n - 1 - i : i] = byteSwapped(order) ? ((w & 0xff) << 8) | (w >>> 8) : w;
  }
  return out;
}

/** How a point's raw number becomes the value recorded: `raw * scale + offset`. */
export interface Scaling {
  readonly scale: number;
  readonly offset: number;
}

export const NO_SCALING: Scaling = { scale: 1, offset: 0 };

export function applyScaling(raw: number, s: Scaling): number {
  // Unscaled integers stay integers for V8 (small integers, not doubles): an array of them is
  // stored and CBOR-encoded without a heap number for each value.
  if (s.scale === 1 && s.offset === 0) return raw;
  return raw * s.scale + s.offset;
}

/** The engineering value of `type`/`order` at `words[at]`: decoded, then scaled. */
export function decodeValue(words: ArrayLike<number>, type: NumericType, order: WordOrder, s: Scaling = NO_SCALING, at = 0): number {
  return applyScaling(decodeRaw(words, type, order, at), s);
}

/** Bits packed eight to a byte as Modbus sends them (first bit in bit 0 of the first byte). */
export function unpackBits(bytes: ArrayLike<number>, count: number): boolean[] {
  if (count < 0 || Math.ceil(count / 8) > bytes.length) throw new RangeError(`${count} bits wanted, ${bytes.length} bytes given`);
  const out = new Array<boolean>(count);
  for (let i = 0; i < count; i += 1) out[i] = (((bytes[i >>> 3] as number) >>> (i & 7)) & 1) === 1;
  return out;
}

/** The inverse of `unpackBits`: unused high bits of the last byte are zero, as the spec asks. */
export function packBits(bits: readonly boolean[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >>> 3] = (out[i >>> 3] as number) | (1 << (i & 7));
  });
  return out;
}

/** A coil or discrete input as a recorded number: 1 on, 0 off (stages read numbers). */
export function bitValue(bit: boolean): 0 | 1 {
  return bit ? 1 : 0;
}
