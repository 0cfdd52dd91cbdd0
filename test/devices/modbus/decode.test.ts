import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NUMERIC_TYPES,
  WORD_ORDERS,
  decodeRaw,
  decodeValue,
  encodeRaw,
  packBits,
  rangeOf,
  registersOf,
  unpackBits,
  type NumericType,
  type WordOrder,
} from '../../../devices/modbus/decode.js';

interface Vector {
  readonly type: NumericType;
  readonly order: WordOrder;
  readonly value: number;
  readonly registers: readonly number[];
}

/** Laid out by pymodbus's BinaryPayloadBuilder (pymodbus-payload.py --vectors). */
const vectors = (JSON.parse(readFileSync(new URL('./word-order-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

/** Any value a type holds exactly (float32: a value that is already a float32). */
function valueOf(type: NumericType): fc.Arbitrary<number> {
  const { min, max } = rangeOf(type);
  if (type === 'float32') return fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v));
  if (type === 'float64') return fc.double({ noNaN: true, noDefaultInfinity: true });
  return fc.integer({ min, max });
}

const typeAndOrder = fc.constantFrom(...NUMERIC_TYPES).chain((type) => fc.record({ type: fc.constant(type), order: fc.constantFrom(...WORD_ORDERS), value: valueOf(type) }));

describe('register values to numbers (decode.ts)', () => {
  it('reads every known vector of pymodbus\'s BinaryPayloadBuilder, in every type and order, and writes the same registers', () => {
    expect(vectors).toHaveLength(NUMERIC_TYPES.length * WORD_ORDERS.length + WORD_ORDERS.length * 2);
    for (const v of vectors) {
      const expected = v.type === 'float32' ? Math.fround(v.value) : v.value;
      expect(decodeRaw(v.registers, v.type, v.order), `${v.type} ${v.order}`).toBe(expected);
      expect(encodeRaw(v.value, v.type, v.order), `${v.type} ${v.order}`).toEqual(v.registers);
    }
  });

  it('lays float32 123.456 out as the table in decode.ts says (42F6 E979 in ABCD)', () => {
    const hex = (order: WordOrder): string[] => encodeRaw(123.456, 'float32', order).map((w) => w.toString(16).toUpperCase().padStart(4, '0'));
    expect(hex('ABCD')).toEqual(['42F6', 'E979']);
    expect(hex('CDAB')).toEqual(['E979', '42F6']);
    expect(hex('BADC')).toEqual(['F642', '79E9']);
    expect(hex('DCBA')).toEqual(['79E9', 'F642']);
  });

  it('round-trips every value of every type in every order (property)', () => {
    fc.assert(
      fc.property(typeAndOrder, ({ type, order, value }) => {
        const words = encodeRaw(value, type, order);
        expect(words).toHaveLength(registersOf(type));
        for (const w of words) expect(Number.isInteger(w) && w >= 0 && w <= 0xffff).toBe(true);
        expect(decodeRaw(words, type, order)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every register pattern: any words decode, and encoding the result gives the words back (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NUMERIC_TYPES),
        fc.constantFrom(...WORD_ORDERS),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
        (type, order, four) => {
          const words = four.slice(0, registersOf(type));
          const v = decodeRaw(words, type, order);
          // A NaN has many bit patterns; every other value has exactly one.
          if (!Number.isNaN(v)) expect(encodeRaw(v, type, order)).toEqual(words);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('orders are the byte permutations they are named for: DCBA is the little-endian value, CDAB and BADC compose to it (property)', () => {
    fc.assert(
      fc.property(typeAndOrder, ({ type, value }) => {
        const abcd = encodeRaw(value, type, 'ABCD');
        const swapBytes = (w: number): number => ((w & 0xff) << 8) | (w >>> 8);
        expect(encodeRaw(value, type, 'CDAB')).toEqual([...abcd].reverse());
        expect(encodeRaw(value, type, 'BADC')).toEqual(abcd.map(swapBytes));
        expect(encodeRaw(value, type, 'DCBA')).toEqual([...abcd].reverse().map(swapBytes));
      }),
    );
  });

  it('decodes at an offset inside a longer answer, and refuses one too short', () => {
    const words = [0, 0, ...encodeRaw(-123456789, 'int32', 'CDAB'), 7];
    expect(decodeRaw(words, 'int32', 'CDAB', 2)).toBe(-123456789);
    expect(() => decodeRaw(words, 'float64', 'ABCD', 2)).toThrow(RangeError);
  });

  it('refuses to encode an integer out of range or with a fraction, rather than wrap a write around', () => {
    expect(() => encodeRaw(65536, 'uint16')).toThrow(/not a uint16/);
    expect(() => encodeRaw(-1, 'uint32')).toThrow(RangeError);
    expect(() => encodeRaw(32768, 'int16')).toThrow(RangeError);
    expect(() => encodeRaw(1.5, 'int32')).toThrow(RangeError);
    expect(encodeRaw(-32768, 'int16')).toEqual([0x8000]);
  });

  it('scales and offsets: value = raw * scale + offset (writes invert it in encode.ts, tested there)', () => {
    expect(decodeValue([12345], 'uint16', 'ABCD', { scale: 0.01, offset: -40 })).toBeCloseTo(83.45, 10);
  });

  it('packs and unpacks coil bits as Modbus sends them (first bit in bit 0), for any bits (property)', () => {
    expect(unpackBits([0b0000_0101, 0b1], 9)).toEqual([true, false, true, false, false, false, false, false, true]);
    expect([...packBits([true, false, true, false, false, false, false, false, true])]).toEqual([0b101, 1]);
    expect(() => unpackBits([0], 9)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 2000 }), (bits) => {
        const bytes = packBits(bits);
        expect(bytes.length).toBe(Math.ceil(bits.length / 8));
        expect(unpackBits(bytes, bits.length)).toEqual(bits);
      }),
    );
  });
});
