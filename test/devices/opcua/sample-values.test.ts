import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NUMERIC_DATA_TYPES, numberOf } from '../../../devices/opcua/sample-values.js';

/** node-opcua's [high, low] unsigned 32-bit words of a 64-bit integer. */
const words = (n: bigint): [number, number] => {
  const u = BigInt.asUintN(64, n);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
};
const INT64 = 8;
const UINT64 = 9;

describe('opcua sample values', () => {
  it('reads Int64 words as signed and UInt64 words as unsigned, rounded once to the nearest double', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
      expect(numberOf(words(n), INT64)).toBe(Number(n));
    }));
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
      expect(numberOf(words(n), UINT64)).toBe(Number(n));
    }));
    expect(numberOf([0xffffffff, 0xfffffffb], INT64)).toBe(-5);
    expect(numberOf([0x80000000, 0], INT64)).toBe(-(2 ** 63));
    expect(numberOf([0, 5], INT64)).toBe(5);
  });

  it('takes numbers and booleans; a word pair of another type is not a number', () => {
    expect([numberOf(2.5), numberOf(true), numberOf(false), numberOf(7n)]).toEqual([2.5, 1, 0, 7]);
    expect([numberOf('3'), numberOf(null), numberOf([1, 2, 3]), numberOf([1, 2], 11)]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('Decimal is not among the numeric types (the source leaves its values out)', () => {
    expect(NUMERIC_DATA_TYPES.has('Decimal')).toBe(false);
    expect(NUMERIC_DATA_TYPES.has('Int64')).toBe(true);
  });
});
