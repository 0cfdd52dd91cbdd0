import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FederatedError, bitmapIndexBytes, decodeBitmapIndices, decodeVarintIndices, encodeBitmapIndices, encodeIndices, encodeVarintIndices, seededRandom, varintIndexBytes } from '../../../../fleet/protocol/federated/index.js';

/** A tensor of n elements and a random subset of them: dense or sparse, clustered or spread. */
const indexSet = fc.record({ n: fc.integer({ min: 1, max: 50_000 }), density: fc.oneof(fc.double({ min: 0, max: 0.05, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), seed: fc.nat() }).map(({ n, density, seed }) => {
  const random = seededRandom(seed);
  const kept: number[] = [];
  for (let i = 0; i < n; i += 1) if (random() < density) kept.push(i);
  return { n, indices: Uint32Array.from(kept) };
});

/** Element-wise equality without vitest's deep walk (slow on 50,000-element typed arrays). */
const same = (a: Uint32Array, b: Uint32Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function only(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FederatedError);
    expect((err as FederatedError).code).toBe('E_FEDERATED_UPDATE');
  }
}

describe('sparse index coding', () => {
  it('round-trips any ascending index set in both codings, and picks the smaller', () => {
    fc.assert(
      fc.property(indexSet, ({ n, indices }) => {
        const v = encodeVarintIndices(indices);
        expect(v.length).toBe(varintIndexBytes(indices));
        expect(same(decodeVarintIndices(v, n, 'iv'), indices)).toBe(true);
        const b = encodeBitmapIndices(indices, n);
        expect(b.length).toBe(bitmapIndexBytes(n));
        expect(same(decodeBitmapIndices(b, n, 'ib'), indices)).toBe(true);
        const chosen = encodeIndices(indices, n);
        expect(chosen.bytes.length).toBe(Math.min(v.length, b.length));
        expect(chosen.coding).toBe(v.length < b.length ? 'varint' : 'bitmap');
      }),
      { numRuns: 500 },
    );
  });

  it('refuses indices past the tensor, cut-off, overlong or non-minimal varints, and stray bitmap bits', () => {
    const cases: [() => unknown, string][] = [
      [() => decodeVarintIndices(Uint8Array.from([5]), 5, 'iv'), 'index 0 is 5, the tensor has 5 elements'],
      [() => decodeVarintIndices(Uint8Array.from([1, 3]), 5, 'iv'), 'index 1 is 5'],
      [() => decodeVarintIndices(Uint8Array.from([0x80]), 500, 'iv'), 'cut off'],
      [() => decodeVarintIndices(Uint8Array.from([0x81, 0x00]), 500, 'iv'), 'not minimal'],
      [() => decodeVarintIndices(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 500, 'iv'), 'longer than 5 bytes'],
      [() => decodeBitmapIndices(Uint8Array.from([1]), 9, 'ib'), 'expected 2 bytes'],
      [() => decodeBitmapIndices(Uint8Array.from([0, 2]), 9, 'ib'), 'bits set past element 8'],
    ];
    for (const [fn, text] of cases) expect(fn, text).toThrow(text);
    expect(decodeBitmapIndices(Uint8Array.from([0x81, 1]), 9, 'ib')).toEqual(Uint32Array.from([0, 7, 8]));
    expect(decodeVarintIndices(Uint8Array.from([0x80, 0x01, 0]), 200, 'iv')).toEqual(Uint32Array.from([128, 129]));
  });

  it('decodes arbitrary bytes to valid ascending indices or refuses them with E_FEDERATED_UPDATE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 600 }), (bytes, n) => {
        for (const decode of [decodeVarintIndices, decodeBitmapIndices]) {
          only(() => {
            const idx = decode(bytes, n, 'i');
            idx.forEach((i, j) => {
              expect(i).toBeLessThan(n);
              if (j > 0) expect(i).toBeGreaterThan(idx[j - 1] as number);
            });
          });
        }
      }),
      { numRuns: 2000 },
    );
  });
});
