import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AnnexBParser, codecStringFromSps, type AccessUnit } from '../../../devices/camera/annexb.js';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { testPattern } from '../../../sim/video/test-pattern.js';

let clip: Uint8Array;
let clean: AccessUnit[];

beforeAll(async () => {
  // 30 pictures, a keyframe every 10: real encoder output (4-byte start codes, SPS+PPS+IDR).
  clip = await encodeH264({ width: 64, height: 48, framerate: 10, frames: 30, picture: (i) => testPattern(64, 48, i) });
  clean = parseAll(clip);
});

function parseAll(stream: Uint8Array, cuts: number[] = [], parser = new AnnexBParser()): AccessUnit[] {
  const out: AccessUnit[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...parser.push(stream.subarray(from, cut)));
    from = cut;
  }
  out.push(...parser.push(stream.subarray(from)), ...parser.end());
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
};

/** Bytes with no zero in them cannot contain a start code. */
const noZeroBytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 1, maxLength: max }).map((a) => a.map((b) => b || 0x5a));

describe('Annex B parser', () => {
  it('splits encoder output into one access unit per picture, keyframes first with their SPS', () => {
    expect(clean).toHaveLength(30);
    expect(clean.map((a) => a.key)).toEqual(Array.from({ length: 30 }, (_, i) => i % 10 === 0));
    expect(clean.filter((a) => a.sps !== undefined)).toHaveLength(3);
    // Encoder output already uses 4-byte start codes: the units are the stream, byte for byte.
    expect(concat(clean.map((a) => a.data))).toEqual(clip);
    expect(codecStringFromSps(clean[0]!.sps!)).toMatch(/^avc1\.42c0[0-9a-f]{2}$/);
  });

  it('gives the same access units however the stream is split (inside start codes too)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: clip.length }), { maxLength: 60 }), (cuts) => {
        const parser = new AnnexBParser();
        expect(parseAll(clip, cuts, parser)).toEqual(clean);
        expect(parser.counters).toMatchObject({ bytes: clip.length, garbageBytes: 0, accessUnits: 30, keyframes: 3, oversizeDrops: 0 });
      }),
      { numRuns: 200 },
    );
    const byteByByte = new AnnexBParser();
    expect(parseAll(clip, Array.from({ length: clip.length }, (_, i) => i), byteByByte)).toEqual(clean);
  });

  it('skips and counts garbage before and between access units without losing the units around it', () => {
    // Garbage between units is a NAL unit with forbidden_zero_bit set (noise on a line); before the first start code, anything.
    const garbageNal = fc.tuple(fc.integer({ min: 0x80, max: 0xff }), noZeroBytes(300)).map(([h, body]) => concat([new Uint8Array([0, 0, 1, h]), body]));
    fc.assert(
      fc.property(noZeroBytes(200), fc.array(fc.tuple(fc.integer({ min: 1, max: 29 }), garbageNal), { maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 20 }), (lead, inserts, cuts) => {
        const parts: Uint8Array[] = [lead];
        let garbage = lead.length;
        clean.forEach((au, i) => {
          for (const [at, g] of inserts) if (at === i) {
            parts.push(g);
            garbage += g.length;
          }
          parts.push(au.data);
        });
        const stream = concat(parts);
        const parser = new AnnexBParser();
        expect(parseAll(stream, cuts.filter((c) => c <= stream.length), parser)).toEqual(clean);
        expect(parser.counters.garbageBytes).toBe(garbage);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on arbitrary bytes and never holds more than its bound', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 20 }), (chunks) => {
        const parser = new AnnexBParser({ maxAuBytes: 4096 });
        const aus = [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
        for (const au of aus) expect(au.data.length).toBeLessThanOrEqual(4096);
      }),
      { numRuns: 300 },
    );
  });

  it('drops and counts an access unit over the size bound, then resynchronises', () => {
    const parser = new AnnexBParser({ maxAuBytes: 2048 });
    // A slice that never ends (a lost start code): 100 kB of bytes without zeros, then the clip.
    const runaway = concat([new Uint8Array([0, 0, 0, 1, 0x41, 0x9a]), new Uint8Array(100_000).fill(0x55)]);
    const aus = parseAll(concat([runaway, clip]), [50_000], parser);
    expect(parser.counters.oversizeDrops).toBeGreaterThanOrEqual(1);
    // The parser resynchronised at the clip's first start code: the clip comes through whole.
    expect(aus).toEqual(clean);
  });

  it('discards a truncated unit on reset (a dropped connection) and starts clean', () => {
    const parser = new AnnexBParser();
    const half = Math.floor(clean[1]!.data.length / 2);
    const first = parser.push(concat([clean[0]!.data, clean[1]!.data.subarray(0, half)]));
    expect(first).toEqual([clean[0]]);
    parser.reset();
    expect(parseAll(clip, [], parser)).toEqual(clean);
    // All of the partial unit but the leading zero of its 4-byte start code (padding, not data).
    expect(parser.counters.garbageBytes).toBe(half - 1);
  });

  it('refuses a codec string from something that is not an SPS', () => {
    expect(() => codecStringFromSps(new Uint8Array([0x68, 1, 2, 3]))).toThrow(/not an SPS/);
    expect(codecStringFromSps(new Uint8Array([0x67, 0x64, 0x00, 0x28]))).toBe('avc1.640028');
  });
});
